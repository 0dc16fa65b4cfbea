/**
 * Prometheus metrics: one `Registry` of our own (never the global one), every name `sips_edge_*`,
 * labels bounded (no Call-IDs, no addresses: see labels.ts). Core layers never touch this file;
 * the observers (proxy-observer.ts, transport-observer.ts) and the composition root feed it.
 */
import { AggregatorRegistry, Counter, Gauge, Histogram, Registry, collectDefaultMetrics, type MetricObjectWithValues, type MetricValue } from 'prom-client';
import { LoopDelaySampler, loopCpuPercent, loopUtilizationPercent, udpBacklogPercent } from '../loop-load.js';
import { droppedLogLines } from './log-destination.js';
import { LabelGuard, OTHER, methodLabel, statusLabel } from './labels.js';

export const METRIC_PREFIX = 'sips_edge_';

/** One metric of a registry as prom-client JSON (what a worker sends the primary). */
export type MetricJson = MetricObjectWithValues<MetricValue<string>>;

/** Call setup (INVITE -> 18x / 2xx) spans milliseconds to ringing minutes. */
const SETUP_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 30, 60, 120];
/** OPTIONS probes over TLS: a few ms on a LAN, the S-TLS-6 500 ms handshake limit, then timeouts. */
const PROBE_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5];

export interface MetricsOptions {
  /** Node process metrics (CPU, memory, event loop lag) as `sips_edge_process_*` etc. Default true. */
  readonly processMetrics?: boolean;
  /**
   * `sips_edge_event_loop_delay_seconds` (p50, p99, max since the previous scrape) from
   * `perf_hooks.monitorEventLoopDelay` at 10 ms resolution. Default true.
   */
  readonly eventLoopDelay?: boolean;
  /** Wall clock in ms for certificate expiry (tests). Default Date.now. */
  readonly now?: () => number;
  /** A worker of several (edge.workers > 1): adds the handoff counters. Default false. */
  readonly workers?: boolean;
}

/** What /metrics serves: one process's registry, or the primary's aggregate over its workers. */
export interface MetricsSource {
  text(): Promise<string>;
  readonly contentType: string;
}

/**
 * The primary's /metrics (edge.workers > 1): every worker's registry JSON (and the primary's own)
 * merged by prom-client's aggregator, each metric by its `aggregator` (sum unless set: counters,
 * histograms, connection and transaction gauges add up; upstream_up max, certificate expiry min).
 */
export async function aggregatedMetrics(parts: readonly (readonly MetricJson[])[]): Promise<string> {
  return AggregatorRegistry.aggregate(parts.map((p) => [...p])).metrics();
}

export const METRICS_CONTENT_TYPE = Registry.PROMETHEUS_CONTENT_TYPE;

export interface ProbeObservation {
  readonly region: string;
  readonly host: string;
  readonly ok: boolean;
  readonly latencyMs: number;
}

/** Shape of routing/health.ts `HealthChange` (structural: observability does not import routing). */
export interface UpstreamChange {
  readonly trunk: string;
  readonly region: string | undefined;
  readonly host: string;
  readonly up: boolean;
}

/** What a worker's handoff socket counted (transport/worker-handoff.ts), read at scrape time. */
export interface HandoffCounts {
  readonly sent: Readonly<Record<string, number>>;
  readonly failed: number;
}

export class EdgeMetrics {
  readonly registry = new Registry();
  private readonly now: () => number;
  private activeTransactions: () => number = () => 0;
  private heldTransactions: () => number = () => 0;
  private timers: () => number = () => 0;
  private readonly loopDelay: LoopDelaySampler | undefined;
  private handoffs: (() => HandoffCounts) | null = null;
  private readonly certificates = new Map<string, { name: string; file: string; notAfter: number }>();

  // One guard per free-text label, so one noisy label cannot crowd out another.
  readonly guards = {
    code: new LabelGuard(128),
    reason: new LabelGuard(64),
    tlsReason: new LabelGuard(64),
    cipher: new LabelGuard(32),
    host: new LabelGuard(256),
    route: new LabelGuard(128),
  };

  readonly requests: Counter<'method' | 'direction'>;
  readonly responses: Counter<'method' | 'status' | 'direction'>;
  readonly transactionFailures: Counter<'method' | 'status' | 'code'>;
  readonly localReplies: Counter<'method' | 'status' | 'code'>;
  readonly targetOutcomes: Counter<'trunk' | 'target' | 'status'>;
  readonly dropped: Counter<'reason'>;
  readonly tlsHandshakes: Counter<'role' | 'result' | 'reason' | 'cipher' | 'resumed'>;
  readonly deprecatedCiphers: Counter<'role' | 'cipher'>;
  readonly connectionsActive: Gauge<'transport' | 'direction'>;
  readonly connectionsClosed: Counter<'transport' | 'reason'>;
  readonly connectionsRejected: Counter<'transport' | 'reason'>;
  readonly framingErrors: Counter<'transport' | 'code'>;
  readonly upstreamUp: Gauge<'region' | 'host'>;
  readonly probeSeconds: Histogram<'region' | 'host'>;
  readonly probes: Counter<'region' | 'host' | 'result'>;
  readonly callSetupSeconds: Histogram<'stage'>;
  readonly sdpChecks: Counter<'direction' | 'kind' | 'result' | 'reason'>;
  readonly certificateExpiry: Gauge<'name' | 'file'>;
  readonly hepPackets: Counter<'result'>;
  readonly crlFetches: Counter<'result'>;
  readonly admissionRefused: Counter<'side' | 'source' | 'reason'>;
  readonly overloadResponses: Counter<'result'>;
  readonly mediaCommands: Counter<'command' | 'result' | 'instance'>;
  readonly mediaRoundTrip: Histogram<'command'>;
  readonly mediaInstanceUp: Gauge<'instance'>;
  readonly anchoredCalls: Counter<'instance'>;

  constructor(opts: MetricsOptions = {}) {
    this.now = opts.now ?? Date.now;
    const registers = [this.registry];
    const self = this;
    this.requests = new Counter({ name: 'sips_edge_requests_total', help: 'SIP requests proxied (one per transaction), by method and direction (inbound = vendor to inside)', labelNames: ['method', 'direction'], registers });
    this.responses = new Counter({ name: 'sips_edge_responses_total', help: 'Final responses sent for proxied transactions, by method, status and direction', labelNames: ['method', 'status', 'direction'], registers });
    this.transactionFailures = new Counter({ name: 'sips_edge_transaction_failures_total', help: 'Proxied transactions that ended >= 300, by method, status and SIPS_ERR code (none when the answer came from upstream)', labelNames: ['method', 'status', 'code'], registers });
    this.localReplies = new Counter({ name: 'sips_edge_local_replies_total', help: 'Requests the edge answered itself (validation, routing, SRTP, overload), by method, status and code', labelNames: ['method', 'status', 'code'], registers });
    this.targetOutcomes = new Counter({ name: 'sips_edge_target_outcomes_total', help: 'Final outcomes per upstream target tried (failover included), by trunk, target and status', labelNames: ['trunk', 'target', 'status'], registers });
    this.dropped = new Counter({ name: 'sips_edge_dropped_messages_total', help: 'Messages intentionally not forwarded, by reason', labelNames: ['reason'], registers });
    new Gauge({
      name: 'sips_edge_transactions_active', help: 'Server transactions alive now', registers,
      collect() { this.set(self.activeTransactions()); },
    });
    new Gauge({
      name: 'sips_edge_transactions_held', help: 'Client and server transactions held now (RFC 6026 lingering included)', registers,
      collect() { this.set(self.heldTransactions()); },
    });
    new Gauge({
      name: 'sips_edge_timers_scheduled', help: 'Transaction timers scheduled now', registers,
      collect() { this.set(self.timers()); },
    });
    this.tlsHandshakes = new Counter({ name: 'sips_edge_tls_handshakes_total', help: 'TLS handshakes by role (server = accepted, client = to upstream), result, failure reason, negotiated cipher and whether the session was resumed (ticket or session ID; failures count as not resumed)', labelNames: ['role', 'result', 'reason', 'cipher', 'resumed'], registers });
    this.deprecatedCiphers = new Counter({ name: 'sips_edge_tls_deprecated_cipher_total', help: 'TLS connections that negotiated a cipher slated for deprecation (S-TLS-4)', labelNames: ['role', 'cipher'], registers });
    this.connectionsActive = new Gauge({ name: 'sips_edge_connections_active', help: 'Open stream connections (TCP and TLS flows), by transport and direction', labelNames: ['transport', 'direction'], registers });
    this.connectionsClosed = new Counter({ name: 'sips_edge_connections_closed_total', help: 'Closed stream connections by transport and close reason', labelNames: ['transport', 'reason'], registers });
    this.connectionsRejected = new Counter({ name: 'sips_edge_connections_rejected_total', help: 'Connections refused at accept by a connection limit', labelNames: ['transport', 'reason'], registers });
    this.framingErrors = new Counter({ name: 'sips_edge_framing_errors_total', help: 'Stream framing errors (the flow is closed), by transport and parse error code', labelNames: ['transport', 'code'], registers });
    // Several workers hold the same (followed) state: aggregated by max, never summed to 2.
    this.upstreamUp = new Gauge({ name: 'sips_edge_upstream_up', help: '1 when the upstream host is considered up by health probes, else 0 (region = trunk name for explicit host lists)', labelNames: ['region', 'host'], registers, aggregator: 'max' });
    this.probeSeconds = new Histogram({ name: 'sips_edge_upstream_probe_seconds', help: 'OPTIONS probe round-trip time', labelNames: ['region', 'host'], buckets: PROBE_BUCKETS, registers });
    this.probes = new Counter({ name: 'sips_edge_upstream_probes_total', help: 'OPTIONS probes by result', labelNames: ['region', 'host', 'result'], registers });
    this.callSetupSeconds = new Histogram({ name: 'sips_edge_call_setup_seconds', help: 'Time from INVITE arrival to the first 18x (stage=ringing) and to the 2xx (stage=answered)', labelNames: ['stage'], buckets: SETUP_BUCKETS, registers });
    this.sdpChecks = new Counter({ name: 'sips_edge_sdp_checks_total', help: 'SRTP policy checks of SDP (S-MEDIA-1) by message direction, offer/answer, result (ok, refused, audited) and reason', labelNames: ['direction', 'kind', 'result', 'reason'], registers });
    this.certificateExpiry = new Gauge({
      name: 'sips_edge_certificate_expiry_seconds', help: 'Seconds until each loaded certificate expires (negative: expired)', labelNames: ['name', 'file'], registers, aggregator: 'min',
      collect() {
        this.reset();
        const now = self.now();
        for (const c of self.certificates.values()) this.set({ name: c.name, file: c.file }, Math.round((c.notAfter - now) / 1000));
      },
    });
    this.crlFetches = new Counter({ name: 'sips_edge_crl_fetches_total', help: 'CRL distribution point fetches (S-VAL-5) by result: ok, timeout (tls.crlFetchTimeoutMs), failed, invalid (not signed by the issuer); concurrent handshakes share one fetch', labelNames: ['result'], registers });
    this.hepPackets = new Counter({ name: 'sips_edge_hep_packets_total', help: 'HEPv3 capture packets by result (sent, failed, too-large)', labelNames: ['result'], registers });
    this.admissionRefused = new Counter({ name: 'sips_edge_admission_refused_total', help: 'New requests refused by admission (issue 11): by side, source class (vendor, peer, stranger) and reason (source-rate, strangers-rate, trunk-pending, malformed: a raw 400 not sent, loop-delay: limits.maxEventLoopDelayMs, loop-busy: limits.maxEventLoopUtilizationPercent)', labelNames: ['side', 'source', 'reason'], registers });
    this.overloadResponses = new Counter({ name: 'sips_edge_overload_responses_total', help: 'What refused requests got: sent (a 503), suppressed (the 503 budget was spent), silent (UDP strangers are never answered)', labelNames: ['result'], registers });
    // Issue 14: the media plane (rtpengine over the ng protocol).
    this.mediaCommands = new Counter({ name: 'sips_edge_media_commands_total', help: 'rtpengine ng commands by command (offer, answer, delete, ping, query), result (ok, error, timeout) and instance', labelNames: ['command', 'result', 'instance'], registers });
    this.mediaRoundTrip = new Histogram({ name: 'sips_edge_media_roundtrip_seconds', help: 'rtpengine ng command round trip (answered commands), by command', labelNames: ['command'], buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1], registers });
    this.mediaInstanceUp = new Gauge({ name: 'sips_edge_media_instance_up', help: 'rtpengine instance answering its ping (1) or not (0)', labelNames: ['instance'], registers });
    this.anchoredCalls = new Counter({ name: 'sips_edge_media_anchored_calls_total', help: 'New calls anchored through rtpengine (initial offers taken), by instance', labelNames: ['instance'], registers });
    this.loopDelay = opts.eventLoopDelay ?? true ? new LoopDelaySampler() : undefined;
    if (this.loopDelay !== undefined) {
      const sampler = this.loopDelay;
      new Gauge({
        name: 'sips_edge_event_loop_delay_seconds', help: 'Event-loop delay (how late a due timer ran) since the previous scrape: stat = p50, p99, max; reset at each scrape; with workers, the worst worker', labelNames: ['stat'], registers,
        // edge.workers: the worst worker's loop, not a sum over workers (prom-client's default).
        aggregator: 'max',
        collect() {
          const w = sampler.take();
          this.set({ stat: 'p50' }, w.p50 / 1000);
          this.set({ stat: 'p99' }, w.p99 / 1000);
          this.set({ stat: 'max' }, w.max / 1000);
        },
      });
    }
    new Gauge({
      name: 'sips_edge_event_loop_utilization_ratio', help: 'Share of wall time the event loop was busy, a moving average over about 3 s (limits.maxEventLoopUtilizationPercent sheds on it while the UDP read backlog is at 0.85 or more, else on the loop CPU ratio); with workers, the busiest worker', registers,
      aggregator: 'max',
      collect() {
        this.set(loopUtilizationPercent() / 100);
      },
    });
    new Gauge({
      name: 'sips_edge_event_loop_cpu_ratio', help: 'CPU time of the event-loop thread per wall time, the same moving average: below the utilization, the loop waited for a CPU (a shared or oversubscribed host), and the loop-busy shed reads this one while the loop keeps up; with workers, the busiest worker', registers,
      aggregator: 'max',
      collect() {
        this.set(loopCpuPercent() / 100);
      },
    });
    let logDropsReported = 0;
    new Counter({
      name: 'sips_edge_log_lines_dropped_total', help: 'Log lines dropped because the log reader (stdout) fell more than 8 MB behind, took nothing for 5 s, or went away; calls are never held up for the log (a log-dropped line follows once it catches up)', registers,
      collect() {
        const n = droppedLogLines();
        if (n > logDropsReported) this.inc(n - logDropsReported);
        logDropsReported = n;
      },
    });
    new Gauge({
      name: 'sips_edge_udp_read_backlog_ratio', help: 'Share of loop turns in which a UDP listener read a full poll (32 datagrams: more were queued), the same moving average; from 0.85 the loop counts as falling behind and its wait for a CPU counts toward limits.maxEventLoopUtilizationPercent; with workers, the busiest worker', registers,
      aggregator: 'max',
      collect() {
        this.set(udpBacklogPercent() / 100);
      },
    });
    if (opts.workers === true) {
      new Counter({
        name: 'sips_edge_worker_handoffs_total', help: 'Messages a worker handed to the worker that owns them (docs/workers.md): response (top Via branch of another worker), request (in-dialog, Route f= names another worker\'s flow), cancel (a CANCEL whose INVITE is not on this worker, to the next worker of the ring), ack (the same for an ACK of a non-2xx final response), flow-send (bytes for another worker\'s connection)', labelNames: ['kind'], registers,
        collect() {
          const h = self.handoffs?.();
          if (h === undefined) return;
          this.reset();
          for (const [kind, n] of Object.entries(h.sent)) this.inc({ kind }, n);
        },
      });
      new Counter({
        name: 'sips_edge_worker_handoff_failures_total', help: 'Handoffs not sent (owner not known yet, too large for one loopback datagram, socket error) or refused (not from a worker)', registers,
        collect() {
          const h = self.handoffs?.();
          if (h === undefined) return;
          this.reset();
          this.inc(h.failed);
        },
      });
    }
    if (opts.processMetrics ?? true) collectDefaultMetrics({ register: this.registry, prefix: METRIC_PREFIX });
  }

  /** The composition root hands in the transaction layer's live count; read at scrape time. */
  setActiveTransactionsSource(source: () => number): void {
    this.activeTransactions = source;
  }

  /** Every transaction held (client and server) and the scheduled timers; read at scrape time. */
  setIdleSources(sources: { readonly transactions: () => number; readonly timers: () => number }): void {
    this.heldTransactions = sources.transactions;
    this.timers = sources.timers;
  }

  /** A worker's handoff counts (edge.workers > 1); read at scrape time. */
  setHandoffSource(source: () => HandoffCounts): void {
    this.handoffs = source;
  }

  /** This registry as prom-client JSON, for the primary to aggregate (edge.workers > 1). */
  json(): Promise<MetricJson[]> {
    return this.registry.getMetricsAsJSON();
  }

  /** Records a loaded certificate; the gauge shows seconds until `notAfter` at scrape time. */
  setCertificateExpiry(name: string, file: string, notAfter: Date): void {
    this.certificates.set(`${name}\u0000${file}`, { name, file, notAfter: notAfter.getTime() });
  }

  /** On config reload: forget certificates no longer loaded. */
  clearCertificates(): void {
    this.certificates.clear();
  }

  setUpstreamUp(region: string, host: string, up: boolean): void {
    this.upstreamUp.set({ region: this.guards.route.label(region), host: this.guards.host.label(host) }, up ? 1 : 0);
  }

  /** routing/health.ts `onChange` feeds this; `region` falls back to the trunk name. */
  upstreamChanged(change: UpstreamChange): void {
    this.setUpstreamUp(change.region ?? change.trunk, change.host, change.up);
  }

  observeProbe(p: ProbeObservation): void {
    const labels = { region: this.guards.route.label(p.region), host: this.guards.host.label(p.host) };
    this.probes.inc({ ...labels, result: p.ok ? 'ok' : 'failed' });
    if (p.ok) this.probeSeconds.observe(labels, p.latencyMs / 1000);
  }

  /** A local reply or transaction code: `SIPS_ERR_*` codes as they are, anything else folded. */
  codeLabel(code: string | null): string {
    if (code === null || code === '') return 'none';
    return code.startsWith('SIPS_ERR_') ? this.guards.code.label(code) : OTHER;
  }

  methodLabel(method: string): string {
    return methodLabel(method);
  }

  statusLabel(status: number): string {
    return statusLabel(status);
  }

  /** Stops the event-loop delay sampler (the edge's stop; tests creating many registries). */
  close(): void {
    this.loopDelay?.stop();
  }

  /** Prometheus text exposition. */
  async text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}

export function createMetrics(opts: MetricsOptions = {}): EdgeMetrics {
  return new EdgeMetrics(opts);
}

/**
 * The primary's own metrics (edge.workers > 1): how many workers, how many are listening, and
 * restarts. Served together with the workers' aggregate; no process metrics of its own (those
 * come from the workers, where the SIP work is).
 */
export class PrimaryMetrics {
  readonly registry = new Registry();
  readonly restarts: Counter;

  constructor(workers: number, listening: () => number) {
    const registers = [this.registry];
    new Gauge({ name: 'sips_edge_workers', help: 'Worker processes configured (edge.workers)', registers }).set(workers);
    new Gauge({ name: 'sips_edge_workers_listening', help: 'Worker processes running with every listener bound', registers, collect() { this.set(listening()); } });
    this.restarts = new Counter({ name: 'sips_edge_worker_restarts_total', help: 'Workers restarted by the primary after they died', registers });
  }

  json(): Promise<MetricJson[]> {
    return this.registry.getMetricsAsJSON();
  }
}
