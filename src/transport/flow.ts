/**
 * One stream connection (TCP or TLS, accepted or opened): RFC 3261 §18.3 framing, RFC 5626 CRLF
 * keep-alives, idle timeout, back-pressure, and the messages of one loop turn in one socket write.
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

interface Batch {
  readonly parts: Uint8Array[];
  bytes: number;
}

/**
 * Messages sent in one turn of the event loop leave together, up to this many bytes: one socket
 * write and, on TLS, one record (16,384 bytes of plaintext at most, RFC 5246 §6.2.1; the rest is
 * room for a pong or ping written beside them). At 1,000 calls/s each worker sent about 4 messages
 * per turn on the upstream's connection, at 2,000 calls/s 14-20 (docs/latency.md).
 *
 * The flow keeps the queue itself and hands the socket one batch at a time, after the last one's
 * write completed: a Node stream merges whatever is buffered behind a write in flight into one
 * writev, and TLS then cuts that into 16,384-byte records wherever the bytes fall, splitting a
 * message across two records (the vendor's side has been seen resetting connections for that).
 */
const TURN_WRITE_BYTES = 16_000;

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
  /**
   * Messages not yet handed to the socket, in batches of at most TURN_WRITE_BYTES, oldest first.
   * The last batch takes new messages until it is full; one write takes the first.
   */
  private readonly batches: Batch[] = [];
  private queuedLength = 0;
  private writing = false;
  private flushScheduled = false;
  /** end() came while batches were still queued: the socket ends after the last one. */
  private endWhenWritten: (() => void) | null = null;
  private readonly flushTurn = (): void => {
    this.flushScheduled = false;
    this.pump();
  };
  private readonly written = (err?: Error | null): void => {
    this.writing = false;
    if (err) return; // the socket's 'error' and 'close' end the flow
    this.pump();
    if (this.readPaused && this.queuedBytes() <= this.settings.writeHighWaterBytes) this.resumeReading();
  };
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
    // One listener for the flow's life: reading also resumes from a completed write (`written`), so
    // a listener added per pause would pile up on a flow that pauses often.
    socket.on('drain', () => {
      if (this.readPaused && this.queuedBytes() <= this.settings.writeHighWaterBytes) this.resumeReading();
    });
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
   * Sends one SIP message in one socket write, never split by the edge, so it leaves in one TLS
   * record when it fits in 16 KB: the vendor's side has been seen resetting connections when a
   * message was split. Messages of the same loop turn share that write and record (queue).
   * Returns false when the flow is closed (nothing written).
   */
  send(message: Uint8Array): boolean {
    if (this.closed) return false;
    this.queue(message);
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

  /** Destroys the connection now (the next queued batch is handed to the socket first, if none is in flight). */
  close(reason: FlowCloseReason = 'local-close'): void {
    if (this.closed) return;
    this.closing = reason;
    this.stopTimers();
    this.pump();
    this.socket.destroy();
  }

  /** Graceful close (shutdown): flush what is queued, send FIN, destroy after the grace period. */
  end(reason: FlowCloseReason = 'shutdown'): void {
    if (this.closed) return;
    this.closing = reason;
    this.stopTimers();
    this.endTimer = this.clock.setTimer(this.settings.endGraceMs, () => this.socket.destroy());
    const finish = (): void => {
      this.socket.end(() => this.socket.destroy());
    };
    // What is queued goes first, one batch at a time, then FIN.
    if (!this.writing && this.batches.length === 0) finish();
    else {
      this.endWhenWritten = finish;
      this.pump();
    }
  }

  /** Adds a message to the last batch, or starts one when it would pass TURN_WRITE_BYTES. */
  private queue(message: Uint8Array): void {
    const last = this.batches[this.batches.length - 1];
    if (last !== undefined && last.bytes + message.length <= TURN_WRITE_BYTES) {
      last.parts.push(message);
      last.bytes += message.length;
    } else {
      this.batches.push({ parts: [message], bytes: message.length });
    }
    this.queuedLength += message.length;
    // The turn ends before the write: what else this turn sends joins the batch.
    if (!this.writing && !this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(this.flushTurn);
    }
  }

  /** Hands the socket the oldest batch when no write is in flight. */
  private pump(): void {
    if (this.writing || this.finished) return;
    const next = this.batches.shift();
    if (next === undefined) {
      const end = this.endWhenWritten;
      this.endWhenWritten = null;
      end?.();
      return;
    }
    this.queuedLength -= next.bytes;
    this.writing = true;
    this.socket.write(next.parts.length === 1 ? next.parts[0]! : Buffer.concat(next.parts, next.bytes), this.written);
  }

  /** What this flow holds for the peer: the socket's buffer, the flow's queue, and skipped pongs. */
  private queuedBytes(): number {
    return this.socket.writableLength + this.queuedLength + 2 * this.skippedPongs;
  }

  /**
   * Pings go straight to the socket (an idle flow has no batch to join). Beside a batch of at most
   * TURN_WRITE_BYTES, a ping or pong buffered with it still fits one TLS record.
   */
  private writeRaw(bytes: Buffer): void {
    if (this.closed) return;
    this.socket.write(bytes);
    this.afterWrite();
  }

  private afterWrite(): void {
    const queued = this.queuedBytes();
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
