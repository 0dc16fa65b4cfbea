/**
 * One rtpengine instance over the ng protocol: each datagram is `<cookie> <bencoded dict>`, the
 * reply carries the same cookie. UDP loses datagrams, so a command is sent again (the SAME bytes,
 * so the SAME cookie: rtpengine answers a repeated cookie from its cache instead of running the
 * command twice) until `timeoutMs` is spent.
 */
import { randomBytes } from 'node:crypto';
import { createSocket, type Socket } from 'node:dgram';
import { isIPv6 } from 'node:net';
import { systemClock, type Clock, type TimerHandle } from '../clock.js';
import { decodeBencode, encodeBencode, isDict, type BDict, BencodeError } from './bencode.js';
import { MediaError } from './types.js';

export interface NgClientOptions {
  readonly address: string;
  readonly port: number;
  /** Whole deadline of one command, split evenly over `retries + 1` sends. */
  readonly timeoutMs: number;
  /** Retransmissions after the first send. */
  readonly retries: number;
  /** Commands waiting for a reply at once; beyond it a command fails at once (UNAVAILABLE). */
  readonly maxPending?: number;
  readonly clock?: Clock;
  /** A datagram that is not a reply to a pending command (stray cookie, garbage, other source). */
  readonly onStray?: (reason: string) => void;
}

/** A reply whose `result` is not `error`. */
export interface NgReply {
  readonly result: string;
  readonly dict: BDict;
  readonly warning?: string;
  /** First send to reply, milliseconds. */
  readonly rttMs: number;
  /** Sends it took (1 = no retransmission). */
  readonly sends: number;
}

/** Why a command failed; `MediaError.mediaCode` tells the proxy, `kind` tells the pool. */
export class NgCommandError extends MediaError {
  constructor(
    readonly kind: 'timeout' | 'error' | 'overload' | 'closed',
    message: string,
    readonly rttMs: number,
    readonly errorReason?: string,
  ) {
    super(kind === 'error' ? 'SIPS_ERR_MEDIA_REFUSED' : 'SIPS_ERR_MEDIA_UNAVAILABLE', message);
  }
}

interface Pending {
  readonly datagram: Buffer;
  readonly started: number;
  readonly interval: number;
  readonly deadline: number;
  sends: number;
  timer: TimerHandle | null;
  readonly resolve: (r: NgReply) => void;
  readonly reject: (e: NgCommandError) => void;
}

const SPACE = 0x20;

export class NgClient {
  readonly address: string;
  readonly port: number;
  private readonly socket: Socket;
  private readonly pending = new Map<string, Pending>();
  private readonly clock: Clock;
  private readonly maxPending: number;
  private closed = false;

  constructor(private readonly opts: NgClientOptions) {
    this.address = opts.address;
    this.port = opts.port;
    this.clock = opts.clock ?? systemClock;
    this.maxPending = opts.maxPending ?? 1024;
    const v6 = isIPv6(opts.address);
    this.socket = createSocket({ type: v6 ? 'udp6' : 'udp4' });
    this.socket.on('message', (msg, rinfo) => this.receive(msg, rinfo.address, rinfo.port));
    // ICMP port unreachable and the like: the command keeps retransmitting until its deadline.
    this.socket.on('error', () => undefined);
    const loopback = opts.address.startsWith('127.') || opts.address === '::1';
    // Sends issued before the bind completes are queued by dgram.
    this.socket.bind({ port: 0, address: loopback ? (v6 ? '::1' : '127.0.0.1') : v6 ? '::' : '0.0.0.0' });
    this.socket.unref();
  }

  get inFlight(): number {
    return this.pending.size;
  }

  /** Sends one command (`command` key included in `dict`) and waits for its reply. */
  command(dict: BDict): Promise<NgReply> {
    if (this.closed) return Promise.reject(new NgCommandError('closed', 'ng client closed', 0));
    if (this.pending.size >= this.maxPending) {
      return Promise.reject(new NgCommandError('overload', `${this.pending.size} ng commands in flight toward ${this.address}:${this.port}`, 0));
    }
    let cookie = randomBytes(8).toString('hex');
    while (this.pending.has(cookie)) cookie = randomBytes(8).toString('hex');
    const datagram = Buffer.concat([Buffer.from(cookie + ' ', 'latin1'), encodeBencode(dict)]);
    return new Promise<NgReply>((resolve, reject) => {
      const started = this.clock.now();
      const interval = this.opts.timeoutMs / (this.opts.retries + 1);
      const p: Pending = { datagram, started, interval, deadline: started + this.opts.timeoutMs, sends: 0, timer: null, resolve, reject };
      this.pending.set(cookie, p);
      // The socket keeps the process alive only while a command waits for its reply.
      if (this.pending.size === 1) this.socket.ref();
      this.send(cookie, p);
    });
  }

  private send(cookie: string, p: Pending): void {
    p.sends++;
    this.socket.send(p.datagram, this.port, this.address, () => undefined);
    const now = this.clock.now();
    const last = p.sends > this.opts.retries;
    p.timer = this.clock.setTimer(last ? Math.max(0, p.deadline - now) : p.interval, () => {
      p.timer = null;
      if (this.pending.get(cookie) !== p) return;
      if (!last) return this.send(cookie, p);
      this.forget(cookie);
      p.reject(new NgCommandError('timeout', `no ng reply from ${this.address}:${this.port} in ${this.opts.timeoutMs} ms (${p.sends} sends)`, this.clock.now() - p.started));
    });
  }

  private receive(msg: Buffer, address: string, port: number): void {
    if (port !== this.port || address !== this.address) return this.opts.onStray?.(`datagram from ${address}:${port}`);
    const sp = msg.indexOf(SPACE);
    if (sp <= 0) return this.opts.onStray?.('no cookie');
    const cookie = msg.toString('latin1', 0, sp);
    const p = this.pending.get(cookie);
    if (p === undefined) return this.opts.onStray?.('unknown cookie');
    let dict: BDict;
    try {
      const v = decodeBencode(msg.subarray(sp + 1));
      if (!isDict(v)) return this.opts.onStray?.('reply is not a dictionary');
      dict = v;
    } catch (e) {
      // A broken reply for a pending cookie: keep waiting, a retransmission may bring a good one.
      return this.opts.onStray?.(e instanceof BencodeError ? e.message : 'undecodable reply');
    }
    this.forget(cookie);
    p.timer?.cancel();
    const rttMs = this.clock.now() - p.started;
    const result = typeof dict['result'] === 'string' ? dict['result'] : '';
    const warning = typeof dict['warning'] === 'string' ? dict['warning'] : undefined;
    if (result === 'error' || result === '') {
      const reason = typeof dict['error-reason'] === 'string' ? dict['error-reason'] : result === '' ? 'reply without result' : 'no error-reason';
      p.reject(new NgCommandError('error', `rtpengine ${this.address}:${this.port}: ${reason}`, rttMs, reason));
      return;
    }
    p.resolve({ result, dict, rttMs, sends: p.sends, ...(warning !== undefined ? { warning } : {}) });
  }

  private forget(cookie: string): void {
    this.pending.delete(cookie);
    if (this.pending.size === 0 && !this.closed) this.socket.unref();
  }

  /** Fails every pending command and closes the socket. */
  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.closed = true;
    for (const [cookie, p] of this.pending) {
      this.pending.delete(cookie);
      p.timer?.cancel();
      p.reject(new NgCommandError('closed', 'ng client closed', this.clock.now() - p.started));
    }
    return new Promise((resolve) => this.socket.close(() => resolve()));
  }
}
