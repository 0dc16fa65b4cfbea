/**
 * A real rtpengine (Debian's rtpengine-daemon, 10.5) as a child process in userspace: no kernel
 * module (`--table=-1`, fallback to userspace allowed), in the foreground so this process owns its
 * PID, logging to stderr (captured, level 6: no SDP dumps, so no SDES keys). Two logical
 * interfaces on loopback, `inside/127.0.0.1` and `outside/127.0.0.2`; ng control on 127.0.0.1.
 *
 * rtpengine cannot take port 0, so the ng port is a port the kernel handed out and we released,
 * and the RTP range a random 1,000-port window in 30000-59999; start is retried on a bind failure
 * (another test took them in between).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { NgClient } from '../../src/media/ng-client.js';
import { freeUdpPort } from './sipp.js';

export const RTPENGINE = '/usr/bin/rtpengine';
export const INSIDE_ADDRESS = '127.0.0.1';
export const OUTSIDE_ADDRESS = '127.0.0.2';

export function rtpengineInstalled(): boolean {
  return existsSync(RTPENGINE);
}

export interface RtpengineOptions {
  /** ng port; default: a free one. A restart keeps the port it started on. */
  readonly ngPort?: number;
  /** How long one start may take before it is given up (default 10 s). */
  readonly startTimeoutMs?: number;
  /** Extra daemon arguments. */
  readonly args?: readonly string[];
}

export class Rtpengine {
  private child: ChildProcess | null = null;
  private exited: Promise<void> = Promise.resolve();
  private stderr = '';
  private portMin = 0;

  private constructor(readonly ngPort: number, private readonly opts: RtpengineOptions) {}

  static async start(opts: RtpengineOptions = {}): Promise<Rtpengine> {
    let lastError: unknown = null;
    for (let attempt = 0; attempt < 5; attempt++) {
      const r = new Rtpengine(opts.ngPort ?? (await freeUdpPort()), opts);
      try {
        await r.launch();
        return r;
      } catch (e) {
        lastError = e;
        await r.kill();
      }
    }
    throw new Error(`rtpengine did not start: ${lastError instanceof Error ? lastError.message : String(lastError)}`);
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  get running(): boolean {
    return this.child !== null && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** What the daemon wrote on stderr so far (for failure messages). */
  log(): string {
    return this.stderr;
  }

  /** The daemon arguments of the current run (for docs and failure messages). */
  args(): string[] {
    return [
      '--config-file=none',
      '--table=-1',
      '--foreground',
      '--log-stderr',
      '--log-level=6',
      `--interface=inside/${INSIDE_ADDRESS}`,
      `--interface=outside/${OUTSIDE_ADDRESS}`,
      `--listen-ng=127.0.0.1:${this.ngPort}`,
      `--port-min=${this.portMin}`,
      `--port-max=${this.portMin + 999}`,
      // A deleted call is gone at once (the default keeps it 30 s, and `query` would still find it).
      '--delete-delay=0',
      '--num-threads=2',
      ...(this.opts.args ?? []),
    ];
  }

  private async launch(): Promise<void> {
    this.portMin = 30000 + 1000 * Math.floor(Math.random() * 30);
    this.stderr = '';
    const child = spawn(RTPENGINE, this.args(), { stdio: ['ignore', 'ignore', 'pipe'] });
    this.child = child;
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (d: string) => {
      if (this.stderr.length < 1_000_000) this.stderr += d;
    });
    const deadline = Date.now() + (this.opts.startTimeoutMs ?? 10_000);
    const ng = new NgClient({ address: '127.0.0.1', port: this.ngPort, timeoutMs: 300, retries: 2 });
    try {
      while (Date.now() < deadline) {
        if (!this.running) throw new Error(`rtpengine exited (${child.exitCode ?? child.signalCode}): ${this.stderr.slice(-2000)}`);
        const r = await ng.command({ command: 'ping' }).catch(() => null);
        if (r?.result === 'pong') return;
      }
      throw new Error(`rtpengine did not answer ping in time: ${this.stderr.slice(-2000)}`);
    } finally {
      await ng.close();
    }
  }

  /** SIGTERM by PID, then waits for the exit (SIGKILL after 5 s). */
  async stop(): Promise<void> {
    const child = this.child;
    if (child === null || !this.running) return this.exited;
    child.kill('SIGTERM');
    const t = setTimeout(() => child.kill('SIGKILL'), 5000);
    await this.exited;
    clearTimeout(t);
  }

  /** SIGKILL by PID (a crash), then waits for the exit. */
  async kill(): Promise<void> {
    const child = this.child;
    if (child !== null && this.running) child.kill('SIGKILL');
    await this.exited;
  }

  /** Starts again on the same ng port (after stop or kill); retries while the old port is still held. */
  async restart(): Promise<void> {
    await this.kill();
    let lastError: unknown = null;
    for (let attempt = 0; attempt < 5; attempt++) {
      try {
        await this.launch();
        return;
      } catch (e) {
        lastError = e;
        await this.kill();
      }
    }
    throw new Error(`rtpengine did not restart on ng port ${this.ngPort}: ${lastError instanceof Error ? lastError.message : String(lastError)}`);
  }
}
