/**
 * One stream connection (TCP or TLS, accepted or opened): RFC 3261 §18.3 framing, RFC 5626 CRLF
 * keep-alives, idle timeout, back-pressure, and one socket write per SIP message.
 */
import type { Clock, TimerHandle } from '../clock.js';
import type { MessageLimits } from '../message/constants.js';
import type { SipParseError } from '../message/parse-error.js';
import { StreamFramer } from '../message/stream-framer.js';
import { IdleTimer, KeepAlive } from './keepalive.js';
import type { Endpoint, FlowCloseReason, FlowDirection, FlowInfo, StreamTransport, TlsDetails } from './types.js';

const S = 0x53; // 'S' of "SIP/2.0 "

/** A request that gets a final response: anything but a response ("SIP/2.0 ...") or an ACK (RFC 3261 §17). */
function isAnsweredRequest(m: Uint8Array): boolean {
  if (m[0] === S && m[1] === 0x49 && m[2] === 0x50 && m[3] === 0x2f) return false;
  return !(m[0] === 0x41 && m[1] === 0x43 && m[2] === 0x4b && m[3] === 0x20);
}

/** "SIP/2.0 2xx".."6xx": status digit at offset 8. */
function isFinalResponse(m: Uint8Array): boolean {
  return m[0] === S && m[1] === 0x49 && m[2] === 0x50 && m[3] === 0x2f && (m[8] ?? 0) >= 0x32;
}

/** The part of net.Socket / tls.TLSSocket a flow uses (unit tests pass a fake). */
export interface FlowSocket {
  write(data: Uint8Array, callback?: (err?: Error | null) => void): boolean;
  end(callback?: () => void): unknown;
  destroy(): unknown;
  pause(): unknown;
  resume(): unknown;
  readonly writableLength: number;
  on(event: 'data', listener: (chunk: Buffer) => void): unknown;
  on(event: 'close' | 'drain' | 'end', listener: () => void): unknown;
  on(event: 'error', listener: (err: Error) => void): unknown;
  once(event: 'drain', listener: () => void): unknown;
}

export interface FlowSettings {
  readonly idleTimeoutMs: number;
  /** 0 = no keep-alive pings (accepted flows: the side that opened the flow pings, RFC 5626 §4.4.1). */
  readonly keepAliveIntervalMs: number;
  readonly keepAlivePongTimeoutMs: number;
  readonly writeHighWaterBytes: number;
  readonly writeCloseBytes: number;
  /** Grace for a shutdown `end()` to flush before the socket is destroyed. */
  readonly endGraceMs: number;
  readonly messageLimits?: Partial<MessageLimits>;
  /** Close a flow that has sent no complete SIP message this long after it opened (0/absent = never). */
  readonly firstMessageTimeoutMs?: number;
  /** Close a flow whose reading was paused by back-pressure and that has not drained within this (0/absent = never). */
  readonly writeStallMs?: number;
  /** After the peer's FIN (half-close), answers may still go out for this long; then our side ends (0/absent = at once). */
  readonly halfOpenLingerMs?: number;
}

export interface FlowHooks {
  onMessage(flow: Flow, data: Buffer): void;
  onFramingError(flow: Flow, error: SipParseError): void;
  /** Called once, when the socket has closed. */
  onClose(flow: Flow, reason: FlowCloseReason, error: Error | null): void;
}

export interface FlowInit {
  readonly id: string;
  readonly transport: StreamTransport;
  readonly direction: FlowDirection;
  readonly local: Endpoint;
  readonly remote: Endpoint;
  readonly tls: TlsDetails | null;
}

type FlowRecord = { -readonly [K in keyof FlowInfo]: FlowInfo[K] };

const CRLF = Buffer.from('\r\n', 'latin1');
/** RFC 5626 §3.5.1 keep-alive ping (also what Transport.preconnect opens a pooled connection with). */
export const CRLFCRLF = Buffer.from('\r\n\r\n', 'latin1');

export class Flow {
  private readonly record: FlowRecord;
  private readonly framer: StreamFramer;
  private readonly keepAlive: KeepAlive;
  private readonly idle: IdleTimer;
  private lastReceivedAt: number;
  private closing: FlowCloseReason | null = null;
  private closeError: Error | null = null;
  private finished = false;
  private readPaused = false;
  private endTimer: TimerHandle | null = null;
  /** First-message timer, then (once paused) the write-stall timer, then the half-close linger: one at a time. */
  private guard: TimerHandle | null = null;
  private messages = 0;
  /** Requests received (ACK aside) minus final responses sent: what a half-closed flow still owes. */
  private owed = 0;
  private peerEnded = false;
  /** A CRLF pong is written and not yet flushed: further pings get none (RFC 5626 §4.4.1 allows one per interval). */
  private pongQueued = false;
  /** Pings that got no pong because one was still unflushed: they count toward the write queue (2 bytes each). */
  private skippedPongs = 0;
  private readonly pongFlushed = (): void => {
    this.pongQueued = false;
    this.skippedPongs = 0;
    // The peer reads again: reading resumes if only skipped pongs had paused it.
    if (this.readPaused && this.socket.writableLength <= this.settings.writeHighWaterBytes) this.resumeReading();
  };

  constructor(
    private readonly socket: FlowSocket,
    init: FlowInit,
    private readonly hooks: FlowHooks,
    private readonly settings: FlowSettings,
    private readonly clock: Clock,
  ) {
    const now = clock.now();
    this.record = { ...init, createdAt: now, lastActivityAt: now };
    this.lastReceivedAt = now;
    const framerOptions = { expectPongs: init.direction === 'outbound' } as const;
    this.framer = new StreamFramer(
      {
        onMessage: (message) => {
          if (this.messages++ === 0 && this.guard !== null && !this.readPaused) this.cancelGuard();
          if (isAnsweredRequest(message)) this.owed++;
          this.hooks.onMessage(this, message);
        },
        onKeepAlive: (kind) => {
          // RFC 5626 §3.5.1: answer a CRLFCRLF ping with a single CRLF pong. A peer pinging faster
          // than it reads gets one pong until that one is flushed: a queue of 2-byte writes would
          // cost far more memory than its byte count says.
          if (kind === 'ping') {
            if (this.closed) return;
            if (this.pongQueued) this.skippedPongs++;
            else {
              this.pongQueued = true;
              this.socket.write(CRLF, this.pongFlushed);
            }
            this.afterWrite();
          } else this.keepAlive.pong();
        },
        onError: (error) => {
          // RFC 3261 §18.3: framing is lost, there is no boundary to resume from: close.
          this.hooks.onFramingError(this, error);
          this.close('framing-error');
        },
      },
      settings.messageLimits ? { ...framerOptions, limits: settings.messageLimits } : framerOptions,
    );
    this.keepAlive = new KeepAlive(clock, settings.keepAliveIntervalMs, settings.keepAlivePongTimeoutMs, {
      lastReceivedAt: () => this.lastReceivedAt,
      sendPing: () => this.writeRaw(CRLFCRLF),
      onTimeout: () => this.close('keepalive-timeout'),
    });
    this.idle = new IdleTimer(clock, settings.idleTimeoutMs, () => this.record.lastActivityAt, () => this.close('idle-timeout'));
    socket.on('data', (chunk) => this.onData(chunk));
    socket.on('error', (err) => {
      this.closeError ??= err;
      this.closing ??= 'socket-error';
    });
    socket.on('close', () => this.onSocketClose());
    socket.on('end', () => this.onPeerEnd());
    this.keepAlive.start();
    this.idle.start();
    const first = settings.firstMessageTimeoutMs ?? 0;
    if (first > 0 && init.direction === 'inbound') {
      this.guard = clock.setTimer(first, () => {
        this.guard = null;
        if (this.messages === 0) this.close('first-message-timeout');
      });
    }
  }

  /** Complete SIP messages received so far. */
  get received(): number {
    return this.messages;
  }

  get info(): FlowInfo {
    return this.record;
  }

  get id(): string {
    return this.record.id;
  }

  /** True once closing has begun (locally or by the peer); sends then fail. */
  get closed(): boolean {
    return this.closing !== null || this.finished;
  }

  /** Reading is paused because the peer is not taking our writes fast enough. */
  get paused(): boolean {
    return this.readPaused;
  }

  /**
   * Sends one SIP message in exactly one socket write, so it leaves in one TLS record when it fits
   * in 16 KB: the vendor's side has been seen resetting connections when a message was split.
   * Returns false when the flow is closed (nothing written).
   */
  send(message: Uint8Array): boolean {
    if (this.closed) return false;
    this.socket.write(message);
    this.record.lastActivityAt = this.clock.now();
    if (isFinalResponse(message)) {
      this.owed--;
      // Issue 11 #14: the last answer owed on a half-closed flow is written; end() flushes, then FIN.
      if (this.peerEnded && this.owed <= 0) {
        this.end('half-closed');
        return true;
      }
    }
    this.afterWrite();
    return true;
  }

  /** Destroys the connection now. */
  close(reason: FlowCloseReason = 'local-close'): void {
    if (this.closed) return;
    this.closing = reason;
    this.stopTimers();
    this.socket.destroy();
  }

  /** Graceful close (shutdown): flush what is queued, send FIN, destroy after the grace period. */
  end(reason: FlowCloseReason = 'shutdown'): void {
    if (this.closed) return;
    this.closing = reason;
    this.stopTimers();
    this.endTimer = this.clock.setTimer(this.settings.endGraceMs, () => this.socket.destroy());
    this.socket.end(() => this.socket.destroy());
  }

  private writeRaw(bytes: Buffer): void {
    if (this.closed) return;
    this.socket.write(bytes);
    this.afterWrite();
  }

  private afterWrite(): void {
    const queued = this.socket.writableLength + 2 * this.skippedPongs;
    if (queued > this.settings.writeCloseBytes) {
      this.close('write-overflow');
      return;
    }
    if (queued > this.settings.writeHighWaterBytes && !this.readPaused) {
      // Back-pressure: stop taking requests from a peer that does not take our responses.
      this.readPaused = true;
      this.socket.pause();
      // A peer that never reads would hold its queue (and our reading) forever: it has the
      // stall time to drain, or the flow is closed.
      const stall = this.settings.writeStallMs ?? 0;
      if (stall > 0) {
        this.cancelGuard();
        this.guard = this.clock.setTimer(stall, () => {
          this.guard = null;
          if (this.readPaused) this.close('write-stalled');
        });
      }
      this.socket.once('drain', () => this.resumeReading());
    }
  }

  private resumeReading(): void {
    if (!this.readPaused || this.closed) return;
    this.readPaused = false;
    this.cancelGuard();
    this.socket.resume();
  }

  /**
   * The peer sent FIN (servers run with allowHalfOpen). Requests it sent before are still
   * answered on the half-closed connection; our side ends once the last final response owed is
   * written, after the linger time at the latest, or at once when nothing is owed. Flows we
   * opened end with the peer (Node's default).
   */
  private onPeerEnd(): void {
    if (this.closed || this.record.direction !== 'inbound') return;
    this.peerEnded = true;
    const linger = this.settings.halfOpenLingerMs ?? 0;
    if (this.owed <= 0 || linger <= 0) {
      this.end('peer-closed');
      return;
    }
    this.cancelGuard();
    this.readPaused = false;
    this.guard = this.clock.setTimer(linger, () => {
      this.guard = null;
      this.end('half-closed');
    });
  }

  private cancelGuard(): void {
    this.guard?.cancel();
    this.guard = null;
  }

  private onData(chunk: Buffer): void {
    if (this.closed) return;
    const now = this.clock.now();
    this.lastReceivedAt = now;
    this.record.lastActivityAt = now;
    this.framer.push(chunk);
  }

  private onSocketClose(): void {
    if (this.finished) return;
    this.finished = true;
    this.stopTimers();
    this.endTimer?.cancel();
    this.hooks.onClose(this, this.closing ?? 'peer-closed', this.closeError);
  }

  private stopTimers(): void {
    this.keepAlive.stop();
    this.idle.stop();
    this.cancelGuard();
  }
}
