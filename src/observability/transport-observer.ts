/**
 * transport/transport-events.ts -> logs and metrics. The event shapes are restated structurally
 * (only the fields read here), so observability stays below transport in the layer map;
 * test/unit/observability/seams.test.ts checks that a real `TransportEvents` fits.
 */
import type { Logger } from 'pino';
import { Counter } from 'prom-client';
import { LabelGuard } from './labels.js';
import { componentLogger, hostPort } from './logger.js';
import type { EdgeMetrics } from './metrics.js';
import type { Side } from '../diagnostics.js';

interface Remote { readonly address: string; readonly port: number }

export interface ObservedFlow {
  readonly id: string;
  readonly transport: 'tcp' | 'tls';
  readonly direction: 'inbound' | 'outbound';
  readonly local: Remote;
  readonly remote: Remote;
}

export interface ObservedTransportEvents {
  flowOpened: ObservedFlow;
  flowClosed: { readonly flow: ObservedFlow; readonly reason: string; readonly error: Error | null };
  tlsFailure: { readonly role: 'server' | 'client'; readonly reason: string; readonly remote: Remote; readonly detail: string; readonly servername: string | null };
  tlsEstablished: { readonly role: 'server' | 'client'; readonly flowId: string; readonly cipher: string; readonly protocol: string; readonly remote: Remote; readonly servername: string | null; readonly resumed?: boolean };
  framingError: { readonly flow: ObservedFlow; readonly error: { readonly code: string; readonly message: string } };
  connectionRejected: { readonly reason: string; readonly transport: 'tcp' | 'tls'; readonly remote: Remote; readonly listener?: string; readonly side?: Side | null };
  datagramDropped: { readonly reason: string; readonly remote: Remote; readonly size: number };
}

export type ObservedTransportEventName = keyof ObservedTransportEvents;

/** What `attachTransportEvents` needs of transport's `TransportEvents`. */
export interface TransportEventSource {
  on<K extends ObservedTransportEventName>(name: K, fn: (event: ObservedTransportEvents[K]) => void): unknown;
  off<K extends ObservedTransportEventName>(name: K, fn: (event: ObservedTransportEvents[K]) => void): unknown;
}

export interface TransportObserverSinks {
  readonly log: Logger;
  readonly metrics: EdgeMetrics;
  /** S-TLS-4 ciphers slated for deprecation (tls/policy.ts `DEPRECATED_CIPHERS`), counted and warned about. */
  readonly deprecatedCiphers?: readonly string[];
}

/** Close reasons that are a normal end of a connection (debug, not info). */
const QUIET_CLOSE: ReadonlySet<string> = new Set(['peer-closed', 'local-close', 'shutdown', 'idle-timeout']);

const REFUSED = 'sips_edge_connections_refused_total';

/**
 * Issue 11 #6: refusals at accept by listener and side as well (`sips_edge_connections_rejected_total`
 * keeps its transport/reason series). Registered once per registry.
 */
function refusedCounter(m: EdgeMetrics): Counter<'listener' | 'side' | 'transport' | 'reason'> {
  const existing = m.registry.getSingleMetric(REFUSED);
  if (existing instanceof Counter) return existing as Counter<'listener' | 'side' | 'transport' | 'reason'>;
  return new Counter({
    name: REFUSED,
    help: 'Connections refused at accept (before any TLS), by listener, side, transport and reason: unknown-source, reserved, max-per-listener, max-per-side, max-connections, max-per-address',
    labelNames: ['listener', 'side', 'transport', 'reason'],
    registers: [m.registry],
  });
}

/** Subscribes to every transport event; returns a function that unsubscribes. */
export function attachTransportEvents(events: TransportEventSource, sinks: TransportObserverSinks): () => void {
  const m = sinks.metrics;
  const log = componentLogger(sinks.log, 'transport');
  const tlsLog = componentLogger(sinks.log, 'tls');
  const deprecated = new Set(sinks.deprecatedCiphers ?? []);
  const refused = refusedCounter(m);
  const listenerGuard = new LabelGuard(32);
  // A flood is refused at line rate: one log line per listener and reason per second at most.
  const lastRefusalLog = new Map<string, number>();
  // Flows counted as open: the gauge only goes down for a flow it saw go up.
  const open = new Set<string>();

  const handlers: { [K in ObservedTransportEventName]: (e: ObservedTransportEvents[K]) => void } = {
    flowOpened(f) {
      if (open.has(f.id)) return;
      open.add(f.id);
      m.connectionsActive.inc({ transport: f.transport, direction: f.direction });
      log.debug({ event: 'flow-opened', flow: f.id, transport: f.transport, direction: f.direction, local: hostPort(f.local), remote: hostPort(f.remote) }, `flow ${f.id} opened`);
    },
    flowClosed(e) {
      const f = e.flow;
      if (open.delete(f.id)) m.connectionsActive.dec({ transport: f.transport, direction: f.direction });
      m.connectionsClosed.inc({ transport: f.transport, reason: m.guards.reason.label(e.reason) });
      const fields = { event: 'flow-closed', flow: f.id, transport: f.transport, direction: f.direction, remote: hostPort(f.remote), reason: e.reason, error: e.error?.message ?? null };
      if (QUIET_CLOSE.has(e.reason)) log.debug(fields, `flow ${f.id} closed: ${e.reason}`);
      else log.info(fields, `flow ${f.id} closed: ${e.reason}`);
    },
    tlsFailure(e) {
      m.tlsHandshakes.inc({ role: e.role, result: 'failed', reason: m.guards.tlsReason.label(e.reason), cipher: 'none', resumed: 'false' });
      tlsLog.warn({ event: 'tls-failure', role: e.role, reason: e.reason, remote: hostPort(e.remote), servername: e.servername, detail: e.detail }, `TLS ${e.role} handshake failed: ${e.reason}`);
    },
    tlsEstablished(e) {
      const cipher = m.guards.cipher.label(e.cipher);
      m.tlsHandshakes.inc({ role: e.role, result: 'ok', reason: 'none', cipher, resumed: e.resumed === true ? 'true' : 'false' });
      const fields = { event: 'tls-established', role: e.role, flow: e.flowId, protocol: e.protocol, cipher: e.cipher, remote: hostPort(e.remote), servername: e.servername, resumed: e.resumed === true };
      if (deprecated.has(e.cipher)) {
        m.deprecatedCiphers.inc({ role: e.role, cipher });
        tlsLog.warn({ ...fields, code: 'S-TLS-4' }, `TLS ${e.role} negotiated ${e.cipher}, a cipher slated for deprecation`);
      } else {
        tlsLog.debug(fields, `TLS ${e.role} established ${e.protocol} ${e.cipher}`);
      }
    },
    framingError(e) {
      m.framingErrors.inc({ transport: e.flow.transport, code: m.codeLabel(e.error.code) });
      log.warn({ event: 'framing-error', flow: e.flow.id, transport: e.flow.transport, remote: hostPort(e.flow.remote), code: e.error.code, detail: e.error.message }, `framing error on ${e.flow.id}: ${e.error.code}`);
    },
    connectionRejected(e) {
      const reason = m.guards.reason.label(e.reason);
      m.connectionsRejected.inc({ transport: e.transport, reason });
      const listener = listenerGuard.label(e.listener);
      refused.inc({ listener, side: e.side ?? 'none', transport: e.transport, reason });
      const key = `${listener}|${reason}`;
      const now = Date.now();
      const last = lastRefusalLog.get(key);
      if (last !== undefined && now - last < 1000) return;
      lastRefusalLog.set(key, now);
      log.info({ event: 'connection-rejected', transport: e.transport, reason: e.reason, listener: e.listener ?? null, side: e.side ?? null, remote: hostPort(e.remote) }, `connection refused: ${e.reason}`);
    },
    datagramDropped(e) {
      m.dropped.inc({ reason: m.guards.reason.label(`datagram-${e.reason}`) });
      if (e.reason !== 'keepalive') log.info({ event: 'datagram-dropped', reason: e.reason, remote: hostPort(e.remote), size: e.size }, `datagram dropped: ${e.reason}`);
    },
  };

  const names = Object.keys(handlers) as ObservedTransportEventName[];
  const on = <K extends ObservedTransportEventName>(name: K): void => { events.on(name, handlers[name]); };
  const off = <K extends ObservedTransportEventName>(name: K): void => { events.off(name, handlers[name]); };
  for (const n of names) on(n);
  return () => { for (const n of names) off(n); };
}
