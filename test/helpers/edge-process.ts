import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

export const BIN = join(process.cwd(), 'dist/cli/main.js');

export interface Listener {
  readonly side: 'inside' | 'outside';
  readonly transport: 'udp' | 'tcp' | 'tls';
  readonly address: string;
  readonly port: number;
}

/** One pino JSON line; `event` names the kind of line (see docs/observability.md). */
export interface LogLine {
  readonly level: number;
  readonly msg: string;
  readonly event?: string;
  readonly [k: string]: unknown;
}

/** The edge running as its own process (`sips-edge start --config FILE`), killed by PID at stop. */
export class EdgeProcess {
  readonly logs: LogLine[] = [];
  private waiters: { pred: (l: LogLine) => boolean; resolve: (l: LogLine) => void }[] = [];
  listeners: readonly Listener[] = [];
  readonly exited: Promise<number | null>;
  stderr = '';

  private constructor(readonly proc: ChildProcess, readonly configFile: string) {
    // Resolved once the pipes are drained too ('close'), so the last log lines are in `logs`; bounded,
    // since a worker still holding the pipe after the primary's exit must not hang a test.
    this.exited = new Promise((resolve) => proc.once('exit', (code) => {
      const guard = setTimeout(() => resolve(code), 2000);
      proc.once('close', () => { clearTimeout(guard); resolve(code); });
    }));
    const rl = createInterface({ input: proc.stdout! });
    rl.on('line', (line) => {
      let parsed: LogLine;
      try {
        parsed = JSON.parse(line) as LogLine;
      } catch {
        return;
      }
      this.logs.push(parsed);
      this.waiters = this.waiters.filter((w) => (w.pred(parsed) ? (w.resolve(parsed), false) : true));
    });
    proc.stderr!.on('data', (d: Buffer) => { this.stderr += d.toString(); });
  }

  /** Writes the YAML config into a temp dir and starts the edge; resolves once it is listening. */
  static async start(yaml: string, extraArgs: readonly string[] = []): Promise<EdgeProcess> {
    const dir = mkdtempSync(join(tmpdir(), 'sips-edge-test-'));
    const file = join(dir, 'edge.yaml');
    writeFileSync(file, yaml);
    const edge = await EdgeProcess.startFile(file, extraArgs);
    void edge.exited.then(() => rmSync(dir, { recursive: true, force: true }));
    return edge;
  }

  static async startFile(file: string, extraArgs: readonly string[] = []): Promise<EdgeProcess> {
    const proc = spawn(process.execPath, [BIN, 'start', '--config', file, ...extraArgs], { stdio: ['ignore', 'pipe', 'pipe'] });
    const edge = new EdgeProcess(proc, file);
    const ready = await Promise.race([
      edge.waitFor((l) => l.event === 'listening' || l.event === 'start-failed'),
      edge.exited.then((code) => { throw new Error(`edge exited with ${code} before listening: ${edge.stderr}`); }),
    ]);
    if (ready.event !== 'listening') throw new Error(`edge did not start: ${JSON.stringify(ready)}`);
    edge.listeners = ready['listeners'] as Listener[];
    return edge;
  }

  port(side: 'inside' | 'outside', transport: 'udp' | 'tcp' | 'tls'): number {
    const l = this.listeners.find((x) => x.side === side && x.transport === transport);
    if (l === undefined) throw new Error(`no ${side} ${transport} listener`);
    return l.port;
  }

  waitFor(pred: (l: LogLine) => boolean): Promise<LogLine> {
    const hit = this.logs.find(pred);
    if (hit) return Promise.resolve(hit);
    return new Promise((resolve) => this.waiters.push({ pred, resolve }));
  }

  /**
   * The first line matching `pred`, waited for (bounded). A line is logged as its message leaves,
   * so the peer can have it (and a SIPp scenario can have ended) before the line reaches us.
   */
  async line(what: string, pred: (l: LogLine) => boolean, timeoutMs = 5000): Promise<LogLine> {
    let timer: NodeJS.Timeout | undefined;
    try {
      return await Promise.race([
        this.waitFor(pred),
        new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`the edge logged no ${what} within ${timeoutMs} ms`)), timeoutMs); }),
      ]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Waits for the transaction line of `method` (and `pred`), then returns every transaction line so far. */
  async transactionsAfter(method: string, pred: (l: LogLine) => boolean = () => true): Promise<LogLine[]> {
    await this.line(`transaction line for ${method}`, (l) => l.event === 'transaction' && l['method'] === method && pred(l));
    return this.events('transaction');
  }

  /** Lines of one event kind, in order. */
  events(kind: string): LogLine[] {
    return this.logs.filter((l) => l.event === kind);
  }

  async stop(signal: NodeJS.Signals = 'SIGINT'): Promise<number | null> {
    if (this.proc.exitCode === null && this.proc.signalCode === null) this.proc.kill(signal);
    return this.exited;
  }
}
