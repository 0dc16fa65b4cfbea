/**
 * Kamailio 5.6 (Debian's kamailio + kamailio-tls-modules) as a real TLS peer of the edge: the
 * vendor proxy lbNN of test/fixtures/kamailio/vendor.cfg, rendered into a temp dir, run in the
 * foreground (-DD) so this process owns its PID, stopped by PID. Loopback only, ports chosen by the
 * caller (never 5060/5061).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { appendFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';

export const KAMAILIO = '/usr/sbin/kamailio';
export const KAMAILIO_FIXTURES = join(process.cwd(), 'test/fixtures/kamailio');

/** S-TLS-3: the six policy ciphers (OpenSSL names), the deprecated two left out. */
export const POLICY_CIPHERS_OPENSSL = [
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES256-SHA',
  'AES256-GCM-SHA384',
  'AES128-GCM-SHA256',
  'AES256-SHA',
] as const;

export interface KamailioOptions {
  /** UDP port toward SIPp (callers, far ends) and for the readiness ping. */
  readonly udpPort: number;
  /** The vendor's TLS port. */
  readonly tlsPort: number;
  /** PEM: leaf + intermediates Kamailio presents on its TLS port. */
  readonly cert: string;
  /** PEM private key of that leaf. */
  readonly key: string;
  /** PEM root Kamailio verifies the edge's certificate with (its TLS client side). */
  readonly ca: string;
  /** The edge's certificate name: SNI and Request-URI host toward the edge. */
  readonly edgeName: string;
  /** The edge's outside TLS listener. */
  readonly edgePort: number;
  /** SIPp far end (UDP) for initial requests that arrive over TLS from the edge. */
  readonly farPort: number;
  /** How long start() may take before it gives up (default 15 s). */
  readonly startTimeoutMs?: number;
}

/** One `KAMTEST <kind> key=value ...` line of vendor.cfg. */
export interface KamEvent {
  readonly kind: string;
  readonly fields: Readonly<Record<string, string>>;
  readonly line: string;
}

/**
 * Values may hold spaces (a subject CN such as "Lab EV Intermediate"): a field starts at a space
 * followed by `name=`, and runs to the next one.
 */
export function parseKamEvent(line: string): KamEvent | null {
  const at = line.indexOf('KAMTEST ');
  if (at < 0) return null;
  const rest = line.slice(at + 'KAMTEST '.length).trimEnd();
  const [kind = '', ...parts] = rest.split(/ (?=[A-Za-z_]+=)/);
  if (kind === '' || kind.includes('=')) return null;
  const fields: Record<string, string> = {};
  for (const kv of parts) {
    const i = kv.indexOf('=');
    fields[kv.slice(0, i)] = kv.slice(i + 1);
  }
  return { kind, fields, line };
}

/** Replaces every {{NAME}}; a placeholder left over is a bug in the caller. */
export function renderTemplate(text: string, vars: Readonly<Record<string, string | number>>): string {
  const out = text.replace(/\{\{([A-Z_]+)\}\}/g, (whole, name: string) => {
    const v = vars[name];
    if (v === undefined) throw new Error(`template placeholder ${whole} has no value`);
    return String(v);
  });
  return out;
}

export { freeTcpPort } from './ports.js';

/** PIDs whose parent is `pid`, recursively (from /proc). */
function descendants(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${d}/stat`, 'utf8');
    } catch {
      continue;
    }
    // pid (comm) state ppid ...: comm may hold spaces and parentheses, so split after the last ')'.
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    const list = children.get(ppid) ?? [];
    list.push(Number(d));
    children.set(ppid, list);
  }
  const out: number[] = [];
  const walk = (p: number): void => {
    for (const c of children.get(p) ?? []) {
      out.push(c);
      walk(c);
    }
  };
  walk(pid);
  return out;
}

function isOurKamailio(pid: number, cfg: string): boolean {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').includes(cfg);
  } catch {
    return false;
  }
}

/** Kamailio processes of this test process still running: killed by PID if the test process exits first. */
const live = new Set<KamailioProcess>();
process.once('exit', () => {
  for (const k of live) k.killNow();
});

export class KamailioProcess {
  private text = '';
  private waiters: { pred: (e: KamEvent) => boolean; resolve: (e: KamEvent) => void }[] = [];
  readonly events: KamEvent[] = [];
  /** The main process has exited. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** ... and every process holding its stdout/stderr too: the log is complete. */
  readonly closed: Promise<void>;
  private stopped = false;
  /** Set when the binary could not be started at all (e.g. not installed). */
  spawnError: Error | null = null;

  private constructor(readonly proc: ChildProcess, readonly dir: string, readonly cfg: string, readonly logFile: string) {
    this.exited = new Promise((resolve) => {
      proc.once('exit', (code, signal) => resolve({ code, signal }));
      proc.once('error', (e) => {
        this.spawnError = e;
        resolve({ code: null, signal: null });
      });
    });
    let partial = '';
    const lineDone = (line: string): void => {
      const e = parseKamEvent(line);
      if (e === null) return;
      this.events.push(e);
      this.waiters = this.waiters.filter((w) => (w.pred(e) ? (w.resolve(e), false) : true));
    };
    this.closed = new Promise((resolve) => proc.once('close', () => {
      if (partial !== '') lineDone(partial);
      partial = '';
      resolve();
    }));
    const onData = (d: Buffer): void => {
      const s = d.toString();
      this.text += s;
      try {
        appendFileSync(this.logFile, s);
      } catch {
        // the temp dir is already gone (a late line after stop): the text stays in memory
      }
      partial += s;
      const lines = partial.split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) lineDone(line);
    };
    proc.stdout!.on('data', onData);
    proc.stderr!.on('data', onData);
  }

  /** Last resort (process exit): SIGKILL the main process and its workers, by PID, synchronously. */
  killNow(): void {
    const pid = this.proc.pid;
    if (pid === undefined || this.proc.exitCode !== null || this.proc.signalCode !== null) return;
    for (const p of [...descendants(pid).filter((c) => isOurKamailio(c, this.cfg)), pid]) {
      try {
        process.kill(p, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }

  get pid(): number {
    return this.proc.pid!;
  }

  /** Everything Kamailio wrote to stdout/stderr so far. */
  get log(): string {
    return this.text;
  }

  /** The last n lines of the log, for failure messages. */
  tail(n = 40): string {
    return this.text.split('\n').slice(-n - 1).join('\n');
  }

  /** The KAMTEST events of one kind. */
  eventsOf(kind: string): KamEvent[] {
    return this.events.filter((e) => e.kind === kind);
  }

  /** Resolves with the first KAMTEST event matching pred (already seen or still to come); rejects after timeoutMs. */
  waitFor(pred: (e: KamEvent) => boolean, timeoutMs = 10_000): Promise<KamEvent> {
    const hit = this.events.find(pred);
    if (hit) return Promise.resolve(hit);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        reject(new Error(`no matching KAMTEST line within ${timeoutMs} ms; kamailio log tail:\n${this.tail()}`));
      }, timeoutMs);
      const waiter = { pred, resolve: (e: KamEvent) => { clearTimeout(timer); resolve(e); } };
      this.waiters.push(waiter);
    });
  }

  /**
   * Renders vendor.cfg + vendor-tls.cfg into a temp dir, starts Kamailio in the foreground with
   * OPENSSL_CONF limiting ECDHE to secp384r1, and resolves once its TLS port completes a TLS 1.2
   * handshake and its UDP port answers an OPTIONS ping (so the script runs in its workers).
   */
  static async start(o: KamailioOptions): Promise<KamailioProcess> {
    const dir = mkdtempSync(join(tmpdir(), 'sips-edge-kamailio-'));
    const vars = {
      UDP_PORT: o.udpPort,
      TLS_PORT: o.tlsPort,
      FAR_PORT: o.farPort,
      EDGE_NAME: o.edgeName,
      EDGE_PORT: o.edgePort,
      CERT: o.cert,
      KEY: o.key,
      CA: o.ca,
      CIPHERS: POLICY_CIPHERS_OPENSSL.join(':'),
      TLS_CFG: join(dir, 'vendor-tls.cfg'),
    };
    const cfg = join(dir, 'vendor.cfg');
    try {
      writeFileSync(cfg, renderTemplate(readFileSync(join(KAMAILIO_FIXTURES, 'vendor.cfg'), 'utf8'), vars));
      writeFileSync(vars.TLS_CFG, renderTemplate(readFileSync(join(KAMAILIO_FIXTURES, 'vendor-tls.cfg'), 'utf8'), vars));
    } catch (e) {
      rmSync(dir, { recursive: true, force: true });
      throw e;
    }
    const logFile = join(dir, 'kamailio.log');
    writeFileSync(logFile, '');
    const args = ['-f', cfg, '-DD', '-E', '-w', dir, '-Y', dir, '-P', join(dir, 'kamailio.pid'), '-m', '64', '-M', '8'];
    const proc = spawn(KAMAILIO, args, {
      cwd: dir,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, OPENSSL_CONF: join(KAMAILIO_FIXTURES, 'openssl-p384.cnf') },
    });
    const k = new KamailioProcess(proc, dir, cfg, logFile);
    live.add(k);
    void k.exited.then(() => live.delete(k));
    try {
      await k.waitReady(o, o.startTimeoutMs ?? 15_000);
    } catch (e) {
      await k.stop();
      throw new Error(`kamailio did not come up: ${(e as Error).message}\n--- kamailio log (${logFile}):\n${k.tail(60)}`);
    }
    return k;
  }

  private async waitReady(o: KamailioOptions, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let gone = false;
    void this.exited.then(() => { gone = true; });
    const check = (what: string): void => {
      if (this.spawnError !== null) throw new Error(`could not run ${KAMAILIO}: ${this.spawnError.message} (Debian: apt-get install kamailio kamailio-tls-modules)`);
      if (gone) throw new Error(`kamailio exited while waiting for ${what} (${JSON.stringify(this.proc.exitCode ?? this.proc.signalCode)})`);
      if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    };
    for (;;) {
      check(`TLS on 127.0.0.1:${o.tlsPort}`);
      if (await tlsHandshakeOk(o.tlsPort)) break;
      await delay(50);
    }
    for (;;) {
      check(`an OPTIONS answer on udp 127.0.0.1:${o.udpPort}`);
      if (await optionsPing(o.udpPort, 300)) break;
    }
  }

  /**
   * SIGTERM to the main process (which stops its workers), wait for it; then SIGKILL whatever of
   * its process tree is left, by PID, and wait until the log pipes are drained. Idempotent. The temp dir (configs, log) is removed unless keepDir.
   */
  async stop(opts: { keepDir?: boolean } = {}): Promise<void> {
    if (!this.stopped) {
      this.stopped = true;
      const pid = this.proc.pid;
      if (pid !== undefined && this.proc.exitCode === null && this.proc.signalCode === null) {
        const tree = descendants(pid);
        this.proc.kill('SIGTERM');
        const done = await Promise.race([this.exited.then(() => true), bound(5000).then(() => false)]);
        if (!done) {
          this.proc.kill('SIGKILL');
          await this.exited;
        }
        for (const c of tree) {
          if (isOurKamailio(c, this.cfg)) {
            try {
              process.kill(c, 'SIGKILL');
            } catch {
              // already gone
            }
          }
        }
      }
      // Every writer of the log pipes is gone now; wait (bounded) until the last lines are read.
      await Promise.race([this.closed, bound(2000)]);
    }
    // SIPS_EDGE_KEEP_KAMAILIO=1 keeps the rendered configs and the log for a look after the run.
    if (!(opts.keepDir ?? process.env['SIPS_EDGE_KEEP_KAMAILIO'] === '1')) rmSync(this.dir, { recursive: true, force: true });
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** A bound for Promise.race that does not keep the process alive once the race is won. */
function bound(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms).unref());
}

/** A TLS 1.2 handshake to 127.0.0.1:port that completes (any certificate: this is a liveness probe). */
function tlsHandshakeOk(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false, minVersion: 'TLSv1.2', maxVersion: 'TLSv1.2', ecdhCurve: 'secp384r1' });
    const timer = setTimeout(() => done(false), 1000);
    function done(ok: boolean): void {
      clearTimeout(timer);
      s.destroy();
      resolve(ok);
    }
    s.once('secureConnect', () => done(true));
    s.once('error', () => done(false));
  });
}

/** An OPTIONS (no user part) to Kamailio's UDP port; true when a 200 comes back within waitMs. */
export function optionsPing(port: number, waitMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = createSocket('udp4');
    const tag = Math.random().toString(36).slice(2);
    const timer = setTimeout(() => done(false), waitMs);
    function done(ok: boolean): void {
      clearTimeout(timer);
      sock.close();
      resolve(ok);
    }
    sock.on('error', () => done(false));
    sock.on('message', (m) => {
      if (m.toString('latin1').startsWith('SIP/2.0 200')) done(true);
    });
    sock.bind(0, '127.0.0.1', () => {
      const local = sock.address().port;
      const msg = [
        `OPTIONS sip:127.0.0.1:${port} SIP/2.0`,
        `Via: SIP/2.0/UDP 127.0.0.1:${local};branch=z9hG4bK${tag};rport`,
        `From: <sip:probe@127.0.0.1:${local}>;tag=${tag}`,
        `To: <sip:127.0.0.1:${port}>`,
        `Call-ID: ready-${tag}@127.0.0.1`,
        'CSeq: 1 OPTIONS',
        'Max-Forwards: 70',
        'Content-Length: 0',
        '',
        '',
      ].join('\r\n');
      sock.send(msg, port, '127.0.0.1');
    });
  });
}
