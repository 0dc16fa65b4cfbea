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

interface CounterCell<L extends string> {
  readonly labels: LabelValues<L>;
  value: number;
  reported: number;
}

type CellBranch<L extends string> = Map<string, CellBranch<L> | CounterCell<L>>;

/**
 * Counters bumped several times per call are counted here, in plain cells, and handed to
 * prom-client when it collects (a scrape), instead of prom-client hashing and validating a label
 * object on every increment. A cell is found by its label values, one Map level per label, in the
 * order of `names`: no key string is built and no label object made per event (only for a new
 * cell). Label values are bounded (labels.ts), so are the cells.
 */
class CounterCells<L extends string> {
  private readonly root: CellBranch<L> = new Map();
  private readonly cells: CounterCell<L>[] = [];

  constructor(metric: Counter<L>, private readonly names: readonly L[]) {
    const own = metric as unknown as { collect?: () => void };
    const before = own.collect;
    own.collect = () => {
      for (const c of this.cells) {
        if (c.value > c.reported) metric.inc(c.labels, c.value - c.reported);
        c.reported = c.value;
      }
      before?.call(metric);
    };
  }

  /** One more in the cell of these values (as many as `names`, in its order). */
  inc(a: string, b = '', c = '', d = ''): void {
    const last = this.names.length - 1;
    let branch = this.root;
    for (let i = 0; i < last; i++) {
      const v = i === 0 ? a : i === 1 ? b : c;
      let next = branch.get(v) as CellBranch<L> | undefined;
      if (next === undefined) branch.set(v, (next = new Map()));
      branch = next;
    }
    const v = last === 0 ? a : last === 1 ? b : last === 2 ? c : d;
    const cell = branch.get(v) as CounterCell<L> | undefined;
    if (cell !== undefined) {
      cell.value++;
      return;
    }
    const values = [a, b, c, d];
    const labels: Partial<Record<L, string>> = {};
    this.names.forEach((name, i) => (labels[name] = values[i]));
    const created: CounterCell<L> = { labels: labels as LabelValues<L>, value: 1, reported: 0 };
    branch.set(v, created);
    this.cells.push(created);
  }
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
  const requests = new CounterCells(m.requests, ['method', 'direction']);
  const responses = new CounterCells(m.responses, ['method', 'status', 'direction']);
  const targetOutcomes = new CounterCells(m.targetOutcomes, ['trunk', 'target', 'status']);
  const sdpChecks = new CounterCells(m.sdpChecks, ['direction', 'kind', 'result', 'reason']);
  const callSetup = childrenOf(m.callSetupSeconds);
  const dropLog = new LogRateLimiter();
  // A flood is refused thousands of times a second: counted in cells, logged never (the metric shows it).
  const admissionRefused = new CounterCells(m.admissionRefused, ['side', 'source', 'reason']);
  const overloadResponses = new CounterCells(m.overloadResponses, ['result']);
  return {
    transactionDone(e) {
      const direction = directionOf(e.fromSide);
      const method = m.methodLabel(e.method);
      const status = m.statusLabel(e.status);
      requests.inc(method, direction);
      responses.inc(method, status, direction);
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
      targetOutcomes.inc(trunk, target, status);
      if (e.reason !== null) log.warn({ event: 'target-failed', trunk: e.trunk ?? null, target: e.target, status: e.status, reason: e.reason }, `target ${e.target} failed: ${e.reason}`);
    },
    callSetup(e) {
      callSetup(e.stage, { stage: e.stage }).observe(e.ms / 1000);
    },
    sdpChecked(e) {
      const result = e.ok ? 'ok' : e.audit ? 'audited' : 'refused';
      const kind = e.kind ?? (e.direction === 'request' ? 'offer' : 'answer');
      const reason = m.guards.reason.label(e.reason);
      sdpChecks.inc(e.direction, kind, result, reason);
      if (!e.ok) log.info({ event: 'sdp-check', direction: e.direction, kind, result, reason: e.reason }, `SDP ${kind} ${result}: ${e.reason ?? ''}`);
    },
    admissionRefused(e) {
      admissionRefused.inc(e.side, e.source, e.reason);
      overloadResponses.inc(e.response);
    },
    dropped(e) {
      m.dropped.inc({ reason: m.guards.reason.label(e.reason) });
      // Strays and forged ACKs come at an outsider's pace: the log is rate-limited, the metric is not.
      const skipped = dropLog.take(e.reason);
      if (skipped >= 0) log.info({ event: 'dropped', what: e.what, reason: e.reason, ...(skipped > 0 ? { skipped } : {}) }, `dropped ${e.what}: ${e.reason}`);
    },
  };
}
