/**
 * Debian's baresip (1.0.0) as a real carrier-side UA for tests: plain RTP (no SRTP module loaded,
 * `mediaenc` empty), SIP over UDP on 127.0.0.1, no sound device. Audio comes from a WAV file
 * (`aufile` source: a tone written by `writeToneWav`); there is no player (baresip 1.0.0's aufile
 * has no sink and the lab has no sound card: the rx pipeline shows `(play)` and RTP is still
 * received and counted). Commands and events go over `ctrl_tcp` (netstring JSON); stdout is kept for
 * diagnostics and for `rtcpsummary`'s end-of-call line.
 *
 * Readiness is read, never slept for: "baresip is ready." on stdout, then the ctrl_tcp connection,
 * then events (CALL_ESTABLISHED, CALL_CLOSED). Ports are picked free (bound to 0 and released) and
 * the start is retried when baresip lost the race for one. Stopped by PID; the config dir is removed.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freeTcpPort, freeUdpPort } from './ports.js';

export const BARESIP_MODULES = '/usr/lib/baresip/modules';

/** A 16-bit mono PCM WAV of a sine tone (RIFF/WAVE, `fmt ` + `data`). */
export function writeToneWav(path: string, o: { readonly hz?: number; readonly seconds?: number; readonly rate?: number } = {}): void {
  const rate = o.rate ?? 8000;
  const n = Math.round(rate * (o.seconds ?? 5));
  const data = Buffer.alloc(n * 2);
  for (let i = 0; i < n; i++) data.writeInt16LE(Math.round(8000 * Math.sin((2 * Math.PI * (o.hz ?? 440) * i) / rate)), i * 2);
  const h = Buffer.alloc(44);
  h.write('RIFF', 0, 'latin1');
  h.writeUInt32LE(36 + data.length, 4);
  h.write('WAVEfmt ', 8, 'latin1');
  h.writeUInt32LE(16, 16);
  h.writeUInt16LE(1, 20); // PCM
  h.writeUInt16LE(1, 22); // mono
  h.writeUInt32LE(rate, 24);
  h.writeUInt32LE(rate * 2, 28);
  h.writeUInt16LE(2, 32);
  h.writeUInt16LE(16, 34);
  h.write('data', 36, 'latin1');
  h.writeUInt32LE(data.length, 40);
  writeFileSync(path, Buffer.concat([h, data]));
}



export interface BaresipEvent {
  readonly type: string;
  readonly peeruri?: string;
  readonly direction?: string;
  readonly param?: string;
  readonly id?: string;
}

/**
 * rtcpsummary's end-of-call line (`PR` packets received, `PS` packets sent), per call. baresip 1.0.0
 * fills it only from RTCP the peer sent; against a peer without RTCP the line is
 * `EX=BareSip;ERROR=No RTCP stats collected;` and both counts are null.
 */
export interface RtcpSummary {
  readonly packetsReceived: number | null;
  readonly packetsSent: number | null;
  readonly raw: string;
}

export interface BaresipOptions {
  /** `auto` answers incoming calls at once (account `answermode=auto`) */
  readonly answerMode?: 'auto' | 'manual';
  readonly user?: string;
  /** seconds of tone in the generated WAV (the source stops at its end) */
  readonly toneSeconds?: number;
  /** bounded start: give up after this many attempts at free ports */
  readonly attempts?: number;
}

export class Baresip {
  private out = '';
  private readonly events: BaresipEvent[] = [];
  private readonly responses = new Map<string, (r: { ok: boolean; data: string }) => void>();
  private listeners: (() => void)[] = [];
  private token = 0;
  private exited = false;

  private constructor(
    private readonly proc: ChildProcess,
    private readonly ctrl: Socket,
    readonly dir: string,
    readonly sipPort: number,
    readonly user: string,
    initialOut: string,
  ) {
    this.out = initialOut;
    proc.stdout?.on('data', (d: Buffer) => this.onOutput(d));
    proc.stderr?.on('data', (d: Buffer) => this.onOutput(d));
    proc.once('exit', () => { this.exited = true; this.notify(); });
    let buf = Buffer.alloc(0);
    ctrl.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      // netstring: <len>:<json>,
      for (;;) {
        const colon = buf.indexOf(0x3a);
        if (colon < 0) break;
        const len = Number(buf.subarray(0, colon).toString('latin1'));
        if (!Number.isInteger(len) || buf.length < colon + 1 + len + 1) break;
        const json = buf.subarray(colon + 1, colon + 1 + len).toString('utf8');
        buf = buf.subarray(colon + 2 + len);
        this.onCtrl(json);
      }
    });
    ctrl.on('error', () => undefined);
  }

  /** `sip:<user>@127.0.0.1:<port>`: what a test dials to reach this baresip. */
  get uri(): string {
    return `sip:${this.user}@127.0.0.1:${this.sipPort}`;
  }

  get pid(): number {
    return this.proc.pid ?? -1;
  }

  /** Everything baresip printed so far (status-line carriage returns turned into newlines). */
  get output(): string {
    return this.out;
  }

  static async start(o: BaresipOptions = {}): Promise<Baresip> {
    const attempts = o.attempts ?? 5;
    let last = '';
    for (let i = 0; i < attempts; i++) {
      const r = await Baresip.tryStart(o);
      if (r instanceof Baresip) return r;
      last = r;
    }
    throw new Error(`baresip did not start in ${attempts} attempts: ${last}`);
  }

  private static async tryStart(o: BaresipOptions): Promise<Baresip | string> {
    const dir = mkdtempSync(join(tmpdir(), 'baresip-'));
    const user = o.user ?? 'carrier';
    const sipPort = await freeUdpPort();
    const ctrlPort = await freeTcpPort();
    const wav = join(dir, 'tone.wav');
    writeToneWav(wav, { seconds: o.toneSeconds ?? 5 });
    writeFileSync(join(dir, 'config'), [
      'poll_method\t\tepoll',
      `sip_listen\t\t127.0.0.1:${sipPort}`,
      'sip_transports\t\tudp',
      'net_interface\t\t127.0.0.1', // else baresip writes the first non-loopback address in Contact and c=
      `audio_source\t\taufile,${wav}`,
      'audio_player\t\tnone,none', // no sound device: no player module is loaded, RTP is still received
      'audio_alert\t\tnone,none',
      `module_path\t\t${BARESIP_MODULES}`,
      'module\t\t\tg711.so',
      'module\t\t\taufile.so',
      'module\t\t\taccount.so',
      'module\t\t\trtcpsummary.so',
      'module_app\t\tmenu.so',
      'module_app\t\tctrl_tcp.so',
      `ctrl_tcp_listen\t\t127.0.0.1:${ctrlPort}`,
      '',
    ].join('\n'));
    // mediaenc empty: no SRTP, the carrier speaks RTP/AVP only.
    const answermode = o.answerMode ?? 'auto';
    writeFileSync(join(dir, 'accounts'), `<sip:${user}@127.0.0.1>;regint=0;answermode=${answermode};audio_codecs=PCMU;mediaenc=\n`);
    const proc = spawn('baresip', ['-f', dir], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    const ready = await new Promise<boolean>((resolve) => {
      const on = (d: Buffer): void => {
        out += d.toString('utf8').replace(/\r/g, '\n');
        if (out.includes('baresip is ready.')) done(true);
        else if (/init failed|failed to listen|Address already in use|could not/i.test(out)) done(false);
      };
      const done = (v: boolean): void => {
        clearTimeout(guard);
        proc.stdout?.off('data', on);
        proc.stderr?.off('data', on);
        proc.off('exit', onExit);
        resolve(v);
      };
      const onExit = (): void => done(false);
      const guard = setTimeout(() => done(false), 15_000);
      proc.stdout?.on('data', on);
      proc.stderr?.on('data', on);
      proc.once('exit', onExit);
    });
    if (ready) {
      const ctrl = await new Promise<Socket | null>((resolve) => {
        const s = connect(ctrlPort, '127.0.0.1');
        s.once('connect', () => resolve(s));
        s.once('error', () => resolve(null));
      });
      if (ctrl !== null) return new Baresip(proc, ctrl, dir, sipPort, user, out);
    }
    await killAndWait(proc);
    rmSync(dir, { recursive: true, force: true });
    return out.slice(-500);
  }

  /** Run one menu command over ctrl_tcp (e.g. `dial`, `hangup`, `callstat`, `answermode`). */
  command(command: string, params?: string, ms = 10_000): Promise<{ readonly ok: boolean; readonly data: string }> {
    const token = String(++this.token);
    const json = Buffer.from(JSON.stringify({ command, token, ...(params !== undefined ? { params } : {}) }), 'utf8');
    this.ctrl.write(Buffer.concat([Buffer.from(`${json.length}:`), json, Buffer.from(',')]));
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => {
        this.responses.delete(token);
        reject(new Error(`baresip: no response to ${command} within ${ms} ms`));
      }, ms);
      this.responses.set(token, (r) => {
        clearTimeout(t);
        resolve(r);
      });
    });
  }

  async dial(uri: string): Promise<void> {
    const r = await this.command('dial', uri);
    if (!r.ok) throw new Error(`baresip dial failed: ${r.data}`);
  }

  async hangup(): Promise<void> {
    await this.command('hangup');
  }

  /** `callstat`: baresip's call debug (SDP, formats, media); empty text when there is no call. */
  async callStatus(): Promise<string> {
    return (await this.command('callstat')).data;
  }

  /** Resolves with the first event of `type` not yet returned (from the start), rejects after `ms` or on exit. */
  waitForEvent(type: string, ms = 15_000): Promise<BaresipEvent> {
    let seen = 0;
    return this.until(() => {
      for (; seen < this.events.length; seen++) {
        const e = this.events[seen]!;
        if (e.type === type) {
          this.events.splice(seen, 1);
          return e;
        }
      }
      return null;
    }, ms, `event ${type}`);
  }

  /** Resolves once stdout matches `re`, with the match. */
  waitForOutput(re: RegExp, ms = 15_000): Promise<RegExpMatchArray> {
    return this.until(() => this.out.match(re), ms, `output ${re}`);
  }

  /** rtcpsummary's lines printed so far, one per ended call. */
  rtcpSummaries(): RtcpSummary[] {
    return [...this.out.matchAll(/EX=BareSip;[^\n]*/g)].map((m) => ({
      raw: m[0],
      packetsReceived: count(/;PR=(\d+)/.exec(m[0])),
      packetsSent: count(/;PS=(\d+)/.exec(m[0])),
    }));
  }

  /** Quit, then SIGKILL by PID if it lingers; remove the config dir. */
  async stop(): Promise<void> {
    this.ctrl.destroy();
    if (!this.exited) await killAndWait(this.proc);
    rmSync(this.dir, { recursive: true, force: true });
  }

  private until<T>(probe: () => T | null, ms: number, what: string): Promise<T> {
    const now = probe();
    if (now !== null) return Promise.resolve(now);
    return new Promise<T>((resolve, reject) => {
      const check = (): void => {
        const v = probe();
        if (v !== null) finish(() => resolve(v));
        else if (this.exited) finish(() => reject(new Error(`baresip exited while waiting for ${what}:\n${this.out.slice(-2000)}`)));
      };
      const finish = (f: () => void): void => {
        clearTimeout(t);
        this.listeners = this.listeners.filter((l) => l !== check);
        f();
      };
      const t = setTimeout(() => finish(() => reject(new Error(`baresip: no ${what} within ${ms} ms:\n${this.out.slice(-2000)}`))), ms);
      this.listeners.push(check);
    });
  }

  private notify(): void {
    for (const l of [...this.listeners]) l();
  }

  private onOutput(d: Buffer): void {
    this.out += d.toString('utf8').replace(/\r/g, '\n');
    this.notify();
  }

  private onCtrl(json: string): void {
    let m: unknown;
    try { m = JSON.parse(json); } catch { return; }
    if (typeof m !== 'object' || m === null) return;
    const r = m as Record<string, unknown>;
    if (r['response'] === true && typeof r['token'] === 'string') {
      const cb = this.responses.get(r['token']);
      this.responses.delete(r['token']);
      cb?.({ ok: r['ok'] === true, data: typeof r['data'] === 'string' ? r['data'] : '' });
    } else if (r['event'] === true && typeof r['type'] === 'string') {
      const e: Record<string, string> = {};
      for (const k of ['type', 'peeruri', 'direction', 'param', 'id']) if (typeof r[k] === 'string') e[k] = r[k] as string;
      this.events.push(e as unknown as BaresipEvent);
      this.notify();
    }
  }
}

function count(m: RegExpExecArray | null): number | null {
  return m === null ? null : Number(m[1]);
}

async function killAndWait(p: ChildProcess): Promise<void> {
  if (p.exitCode !== null || p.signalCode !== null || p.pid === undefined) return;
  const gone = new Promise<void>((r) => p.once('exit', () => r()));
  process.kill(p.pid, 'SIGTERM');
  const t = setTimeout(() => { if (p.pid !== undefined && p.exitCode === null) process.kill(p.pid, 'SIGKILL'); }, 3000);
  await gone;
  clearTimeout(t);
}
