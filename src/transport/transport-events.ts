/**
 * The observability seam (style §9): core code publishes, observability/ turns events into logs and
 * metrics. An event nobody listens to costs one map lookup.
 */
import type { SipParseError } from '../message/parse-error.js';
import type { RejectReason, Side } from './flow-table.js';
import type { Endpoint, FlowCloseReason, FlowInfo, StreamTransport } from './types.js';

export interface FlowClosedEvent {
  readonly flow: FlowInfo;
  readonly reason: FlowCloseReason;
  readonly error: Error | null;
}

export interface TlsFailureEvent {
  readonly role: 'server' | 'client';
  /** `handshake-timeout`, a classifyTlsError result, or a verifyPeer reason. */
  readonly reason: string;
  readonly remote: Endpoint;
  readonly detail: string;
  readonly servername: string | null;
}

export interface TlsEstablishedEvent {
  readonly role: 'server' | 'client';
  readonly flowId: string;
  readonly cipher: string;
  readonly protocol: string;
  readonly remote: Endpoint;
  readonly servername: string | null;
  /** An abbreviated handshake (session ticket or ID, RFC 5077 / RFC 5246 §7.3). */
  readonly resumed: boolean;
}

export interface FramingErrorEvent {
  readonly flow: FlowInfo;
  readonly error: SipParseError;
}

export interface ConnectionRejectedEvent {
  readonly reason: RejectReason;
  readonly transport: StreamTransport;
  readonly remote: Endpoint;
  /** The listener's name (config `listen[].name`, default `<side>-<transport>`). */
  readonly listener?: string;
  readonly side?: Side | null;
}

export interface DatagramDroppedEvent {
  readonly reason: 'too-large' | 'keepalive';
  readonly remote: Endpoint;
  readonly size: number;
}

export interface TransportEventMap {
  flowOpened: FlowInfo;
  flowClosed: FlowClosedEvent;
  tlsFailure: TlsFailureEvent;
  tlsEstablished: TlsEstablishedEvent;
  framingError: FramingErrorEvent;
  connectionRejected: ConnectionRejectedEvent;
  datagramDropped: DatagramDroppedEvent;
}

export type TransportEventName = keyof TransportEventMap;

/** A small typed emitter: one payload per event, listeners called in order, no 'error' magic. */
export class TransportEvents {
  private readonly listeners = new Map<TransportEventName, Array<(event: never) => void>>();

  on<K extends TransportEventName>(name: K, fn: (event: TransportEventMap[K]) => void): this {
    const list = this.listeners.get(name);
    if (list) list.push(fn);
    else this.listeners.set(name, [fn]);
    return this;
  }

  off<K extends TransportEventName>(name: K, fn: (event: TransportEventMap[K]) => void): this {
    const list = this.listeners.get(name);
    const i = list ? list.indexOf(fn) : -1;
    if (list && i >= 0) list.splice(i, 1);
    return this;
  }

  once<K extends TransportEventName>(name: K, fn: (event: TransportEventMap[K]) => void): this {
    const wrapper = (event: TransportEventMap[K]): void => {
      this.off(name, wrapper);
      fn(event);
    };
    return this.on(name, wrapper);
  }

  emit<K extends TransportEventName>(name: K, event: TransportEventMap[K]): void {
    const list = this.listeners.get(name);
    if (!list) return;
    for (const fn of [...list]) (fn as (e: TransportEventMap[K]) => void)(event);
  }
}
