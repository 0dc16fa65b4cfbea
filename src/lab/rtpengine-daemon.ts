/**
 * The lab's own media relay: Debian's rtpengine (rtpengine-daemon) as a child process in userspace,
 * with the arguments of test/helpers/rtpengine.ts: no kernel module (`--table=-1`), in the
 * foreground so the lab owns its PID, logging to stderr at level 6 (no SDP dumps, so no SDES keys),
 * two logical interfaces `inside/127.0.0.1` and `outside/127.0.0.2`, a deleted call gone at once.
 *
 * Readiness is an ng `ping` answered `pong` (docs/media.md). The lab layer does not import the
 * edge's ng client (src/media/ is below the proxy, not the lab), so the one ping is written here.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import dgram from 'node:dgram';
import { existsSync } from 'node:fs';
import type { AddressInfo } from 'node:net';

export const RTPENGINE_BINARY = '/usr/bin/rtpengine';
export const RTPENGINE_INSIDE = '127.0.0.1';
export const RTPENGINE_OUTSIDE = '127.0.0.2';
/** Fixed-port mode: the ng port config/sips-edge.yaml names. */
export const LAB_NG_PORT = 22222;

export const RTPENGINE_HINT = 'rtpengine is not available: install it with `apt-get install rtpengine-daemon` (or `bash scripts/install-peers.sh` as root)';

export interface RtpengineDaemonOptions {
  readonly ngPort: number;
  readonly binary?: string;
  readonly startTimeoutMs?: number;
}

/** Sends one ng ping (`<cookie> d7:command4:pinge`) and waits for `pong`, resending every 200 ms. */
export async function ngPing(address: string, port: number, ms: number): Promise<boolean> {
  const s = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => s.bind(0, '127.0.0.1', () => resolve()));
  const cookie = randomBytes(6).toString('hex');
  const req = Buffer.from(`${cookie} d7:command4:pinge`, 'latin1');
  try {
    return await new Promise<boolean>((resolve) => {
      const send = (): void => void s.send(req, port, address, () => undefined);
      const every = setInterval(send, 200);
      const t = setTimeout(() => finish(false), ms);
      const finish = (v: boolean): void => {
        clearInterval(every);
        clearTimeout(t);
        resolve(v);
      };
      s.on('message', (m) => {
        const text = m.toString('latin1');
        if (text.startsWith(`${cookie} `) && text.includes('6:result4:pong')) finish(true);
      });
      s.on('error', () => undefined);
      send();
    });
  } finally {
    s.close();
  }
}

/** A port the kernel handed out and we released (rtpengine cannot bind port 0). */
export async function freeUdpPort(): Promise<number> {
  const s = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => s.bind(0, '127.0.0.1', () => resolve()));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

export class RtpengineDaemon {
  private stderr = '';
  private readonly exited: Promise<void>;
  /** If the lab process dies without stop(), the daemon must not outlive it (by PID, synchronously). */
  private readonly onProcessExit = (): void => void this.child.kill('SIGKILL');

  private constructor(private readonly child: ChildProcess, readonly ngPort: number, readonly args: readonly string[]) {
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
    process.once('exit', this.onProcessExit);
    void this.exited.then(() => process.off('exit', this.onProcessExit));
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (d: string) => {
      if (this.stderr.length < 200_000) this.stderr += d;
    });
  }

  static installed(binary = RTPENGINE_BINARY): boolean {
    return existsSync(binary);
  }

  /** Starts the daemon and waits for its pong; throws (after stopping it) when it exits or stays silent. */
  static async start(o: RtpengineDaemonOptions): Promise<RtpengineDaemon> {
    const portMin = 30_000 + 1000 * Math.floor(Math.random() * 30);
    const args = [
      '--config-file=none',
      '--table=-1',
      '--foreground',
      '--log-stderr',
      '--log-level=6',
      `--interface=inside/${RTPENGINE_INSIDE}`,
      `--interface=outside/${RTPENGINE_OUTSIDE}`,
      `--listen-ng=127.0.0.1:${o.ngPort}`,
      `--port-min=${portMin}`,
      `--port-max=${portMin + 999}`,
      '--delete-delay=0',
      '--num-threads=2',
    ];
    const child = spawn(o.binary ?? RTPENGINE_BINARY, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    const d = new RtpengineDaemon(child, o.ngPort, args);
    const spawnError = new Promise<Error>((resolve) => child.once('error', resolve));
    const deadline = Date.now() + (o.startTimeoutMs ?? 10_000);
    try {
      while (Date.now() < deadline) {
        if (!d.running) throw new Error(`rtpengine exited (${child.exitCode ?? child.signalCode ?? 'spawn failed'}): ${d.stderr.slice(-1000)}`);
        const r = await Promise.race([ngPing('127.0.0.1', o.ngPort, 300), spawnError]);
        if (r instanceof Error) throw r;
        if (r) return d;
      }
      throw new Error(`rtpengine did not answer ping on 127.0.0.1:${o.ngPort}: ${d.stderr.slice(-1000)}`);
    } catch (e) {
      await d.stop();
      throw e;
    }
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get running(): boolean {
    return this.child.pid !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  log(): string {
    return this.stderr;
  }

  /** SIGTERM by PID, SIGKILL after 5 s, then waits for the exit. */
  async stop(): Promise<void> {
    if (this.child.pid === undefined) return;
    if (!this.running) return this.exited;
    this.child.kill('SIGTERM');
    const t = setTimeout(() => this.child.kill('SIGKILL'), 5000);
    await this.exited;
    clearTimeout(t);
  }
}
