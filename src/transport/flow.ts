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

/** The part of net.Socket / tls.TLSSocket a flow uses (unit tests pass a fake). */
export interface FlowSocket {
  write(data: Uint8Array): boolean;
  end(callback?: () => void): unknown;
  destroy(): unknown;
  pause(): unknown;
  resume(): unknown;
  readonly writableLength: number;
  on(event: 'data', listener: (chunk: Buffer) => void): unknown;
  on(event: 'close' | 'drain', listener: () => void): unknown;
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
const CRLFCRLF = Buffer.from('\r\n\r\n', 'latin1');

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
        onMessage: (message) => this.hooks.onMessage(this, message),
        onKeepAlive: (kind) => {
          // RFC 5626 §3.5.1: answer a CRLFCRLF ping with a single CRLF pong.
          if (kind === 'ping') this.writeRaw(CRLF);
          else this.keepAlive.pong();
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
    this.keepAlive.start();
    this.idle.start();
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
    const queued = this.socket.writableLength;
    if (queued > this.settings.writeCloseBytes) {
      this.close('write-overflow');
      return;
    }
    if (queued > this.settings.writeHighWaterBytes && !this.readPaused) {
      // Back-pressure: stop taking requests from a peer that does not take our responses.
      this.readPaused = true;
      this.socket.pause();
      this.socket.once('drain', () => {
        this.readPaused = false;
        if (!this.closed) this.socket.resume();
      });
    }
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
  }
}
