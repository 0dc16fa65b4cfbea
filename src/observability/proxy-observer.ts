/**
 * proxy/deps.ts `ProxyObserver` -> logs and metrics. The event shapes are declared once, in the
 * src/diagnostics.ts leaf both sides import; test/unit/observability/seams.test.ts still assigns the
 * result to `ProxyObserver`.
 */
import { LogRateLimiter } from './log-rate.js';
import type { Logger } from 'pino';
import type { Counter, LabelValues } from 'prom-client';
import { componentLogger, logTransactionOutcome } from './logger.js';
import type { EdgeMetrics } from './metrics.js';
import { directionOf } from './labels.js';
import type {
  AdmissionRefusedEvent, CallSetupEvent, DroppedEvent, LocalReplyEvent, SdpCheckedEvent, TargetOutcomeEvent, TransactionDoneEvent,
} from '../diagnostics.js';

export type {
  AdmissionRefusedEvent, CallSetupEvent, DroppedEvent, LocalReplyEvent, SdpCheckedEvent, TargetOutcomeEvent, TransactionDoneEvent,
} from '../diagnostics.js';

export interface ObservabilityProxyObserver {
  transactionDone(e: TransactionDoneEvent): void;
  localReply(e: LocalReplyEvent): void;
  targetOutcome(e: TargetOutcomeEvent): void;
  callSetup(e: CallSetupEvent): void;
  sdpChecked(e: SdpCheckedEvent): void;
  dropped(e: DroppedEvent): void;
  admissionRefused(e: AdmissionRefusedEvent): void;
}

export interface ObserverSinks {
  readonly log: Logger;
  readonly metrics: EdgeMetrics;
}

/**
 * Counters bumped several times per call are counted here, in plain cells found by a flat key,
 * and handed to prom-client when it collects (a scrape), instead of prom-client hashing and
 * validating a label object on every increment. Labels are bounded (labels.ts), so are the cells.
 */
function countedBy<L extends string>(metric: Counter<L>): (key: string, labels: LabelValues<L>) => void {
  const cells = new Map<string, { readonly labels: LabelValues<L>; value: number; reported: number }>();
  const own = metric as unknown as { collect?: () => void };
  const before = own.collect;
  own.collect = () => {
    for (const c of cells.values()) {
      if (c.value > c.reported) metric.inc(c.labels, c.value - c.reported);
      c.reported = c.value;
    }
    before?.call(metric);
  };
  return (key, labels) => {
    const cell = cells.get(key);
    if (cell === undefined) cells.set(key, { labels, value: 1, reported: 0 });
    else cell.value++;
  };
}

/** The labelled child of a histogram by a flat key. */
function childrenOf<L extends string, C>(metric: { labels(labels: LabelValues<L>): C }): (key: string, labels: LabelValues<L>) => C {
  const by = new Map<string, C>();
  return (key, labels) => {
    let child = by.get(key);
    if (child === undefined) by.set(key, (child = metric.labels(labels)));
    return child;
  };
}

/** Builds the proxy's observer: the composition root passes the result as `ProxyDeps.observer`. */
export function createProxyObserver(sinks: ObserverSinks): ObservabilityProxyObserver {
  const { metrics: m } = sinks;
  const log = componentLogger(sinks.log, 'proxy');
  const requests = countedBy(m.requests);
  const responses = countedBy(m.responses);
  const targetOutcomes = countedBy(m.targetOutcomes);
  const sdpChecks = countedBy(m.sdpChecks);
  const callSetup = childrenOf(m.callSetupSeconds);
  const dropLog = new LogRateLimiter();
  // A flood is refused thousands of times a second: counted in cells, logged never (the metric shows it).
  const admissionRefused = countedBy(m.admissionRefused);
  const overloadResponses = countedBy(m.overloadResponses);
  return {
    transactionDone(e) {
      const direction = directionOf(e.fromSide);
      const method = m.methodLabel(e.method);
      const status = m.statusLabel(e.status);
      const rk = method + ' ' + direction;
      requests(rk, { method, direction });
      responses(rk + ' ' + status, { method, status, direction });
      if (e.status >= 300) m.transactionFailures.inc({ method, status, code: m.codeLabel(e.code) });
      logTransactionOutcome(log, e, direction);
    },
    localReply(e) {
      m.localReplies.inc({ method: m.methodLabel(e.method), status: m.statusLabel(e.status), code: m.codeLabel(e.code) });
      // Overload answers come in bursts: keep them at info; every other local refusal is a warning.
      const level = e.status === 503 || e.status === 0 ? 'info' : 'warn';
      log[level]({ event: 'local-reply', method: e.method, status: e.status, code: e.code, detail: e.detail, peer: e.peer }, `${e.method} answered locally ${e.status} ${e.code}`);
    },
    targetOutcome(e) {
      const trunk = m.guards.route.label(e.trunk ?? null);
      const target = m.guards.host.label(e.target);
      const status = m.statusLabel(e.status);
      targetOutcomes(trunk + ' ' + target + ' ' + status, { trunk, target, status });
      if (e.reason !== null) log.warn({ event: 'target-failed', trunk: e.trunk ?? null, target: e.target, status: e.status, reason: e.reason }, `target ${e.target} failed: ${e.reason}`);
    },
    callSetup(e) {
      callSetup(e.stage, { stage: e.stage }).observe(e.ms / 1000);
    },
    sdpChecked(e) {
      const result = e.ok ? 'ok' : e.audit ? 'audited' : 'refused';
      const kind = e.kind ?? (e.direction === 'request' ? 'offer' : 'answer');
      const reason = m.guards.reason.label(e.reason);
      sdpChecks(e.direction + ' ' + kind + ' ' + result + ' ' + reason, { direction: e.direction, kind, result, reason });
      if (!e.ok) log.info({ event: 'sdp-check', direction: e.direction, kind, result, reason: e.reason }, `SDP ${kind} ${result}: ${e.reason ?? ''}`);
    },
    admissionRefused(e) {
      admissionRefused(e.side + ' ' + e.source + ' ' + e.reason, { side: e.side, source: e.source, reason: e.reason });
      overloadResponses(e.response, { result: e.response });
    },
    dropped(e) {
      m.dropped.inc({ reason: m.guards.reason.label(e.reason) });
      // Strays and forged ACKs come at an outsider's pace: the log is rate-limited, the metric is not.
      const skipped = dropLog.take(e.reason);
      if (skipped >= 0) log.info({ event: 'dropped', what: e.what, reason: e.reason, ...(skipped > 0 ? { skipped } : {}) }, `dropped ${e.what}: ${e.reason}`);
    },
  };
}
