/**
 * Several worker processes that look like one edge (edge.workers > 1, docs/workers.md). The
 * primary forks N workers with a stable slot 1..N; each runs the whole SIP stack on SO_REUSEPORT
 * listeners (the kernel spreads sources by 4-tuple), hands messages it does not own to their
 * worker (transport/worker-handoff.ts), and talks to the primary over the cluster IPC channel for
 * what is per edge: the handoff port map, one health-probe schedule, /metrics, /readyz, reload.
 * The primary serves the admin HTTP, watches the certificate files, restarts a worker that dies,
 * forwards SIGHUP, and drains every worker on SIGTERM. `edge.workers: 1` never comes here.
 */
import cluster, { type Worker } from 'node:cluster';
import { randomBytes } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { limitsPerWorker } from './config/limits.js';
import type { EdgeConfig } from './config/schema.js';
import { notReady, readinessFrom, startAdminServer, type AdminServer, type ReadinessReport } from './observability/admin-http.js';
import { createLogger, type Logger } from './observability/logger.js';
import { aggregatedMetrics, METRICS_CONTENT_TYPE, PrimaryMetrics, type MetricJson } from './observability/metrics.js';
import type { HealthChange, HostRef } from './routing/health.js';
import type { BoundListener, WorkerRole } from './sip-stack.js';
import { runEdgeProcess, watchFiles, type EdgeRuntimeOptions, type Observed } from './edge-runtime.js';

/** `edge.workers` as a count: `auto` = the cores this process may use. */
export function workerCount(config: EdgeConfig): number {
  const w = config.edge.workers;
  return w === 'auto' ? Math.max(1, Math.min(64, availableParallelism())) : w;
}

/** What the CLI hands a worker process (from the environment the primary set). */
export interface WorkerLaunch {
  readonly slot: number;
  readonly workers: number;
  /** The ports worker 1 bound, in `listen` order (null for worker 1's first start: the config's). */
  readonly ports: readonly number[] | null;
  readonly ticketSecret?: Buffer;
  /** A Record-Route key shared by the workers when the config has none (else each would sign its own). */
  readonly routeKey?: string;
}

/** The environment of a worker process: read by the CLI only (src/cli/commands/start.ts). */
export const WORKER_ENV = {
  slot: 'SIPS_EDGE_WORKER',
  workers: 'SIPS_EDGE_WORKERS',
  ports: 'SIPS_EDGE_WORKER_PORTS',
  ticketSecret: 'SIPS_EDGE_TICKET_SECRET',
  routeKey: 'SIPS_EDGE_WORKER_ROUTE_KEY',
} as const;

type HealthState = Pick<HealthChange, 'trunk' | 'host' | 'up' | 'reason'>;

/** Worker -> primary. */
type FromWorker =
  | { readonly t: 'listening'; readonly listeners: readonly BoundListener[]; readonly handoffPort: number }
  | { readonly t: 'health'; readonly change: HealthState }
  | { readonly t: 'health-report'; readonly ref: HostRef; readonly ok: boolean; readonly reason: string | null }
  | { readonly t: 'metrics'; readonly id: number; readonly data: MetricJson[] }
  | { readonly t: 'ready'; readonly id: number; readonly report: ReadinessReport }
  | { readonly t: 'peers-applied'; readonly version: number };

/** Primary -> worker. */
type ToWorker =
  | { readonly t: 'peers'; readonly version: number; readonly ports: readonly (readonly [number, number])[] }
  | { readonly t: 'health-apply'; readonly changes: readonly HealthState[] }
  | { readonly t: 'health-report'; readonly ref: HostRef; readonly ok: boolean; readonly reason: string | null }
  | { readonly t: 'metrics'; readonly id: number }
  | { readonly t: 'ready'; readonly id: number }
  | { readonly t: 'reload'; readonly trigger: string };

/** The config one worker runs: its share of the global limits, the bound ports, no admin HTTP. */
export function workerConfig(config: EdgeConfig, launch: WorkerLaunch): EdgeConfig {
  const ports = launch.ports;
  return {
    ...config,
    edge: config.edge.routeKeys === undefined && launch.routeKey !== undefined ? { ...config.edge, routeKeys: { env: undefined, file: undefined, keys: [launch.routeKey] } } : config.edge,
    listen: ports === null ? config.listen : config.listen.map((l, i) => ({ ...l, port: ports[i] ?? l.port })),
    limits: limitsPerWorker(config.limits, launch.workers),
    admin: { ...config.admin, enabled: false },
  };
}

/** A worker process: the edge process of today, announcing itself to the primary instead of printing `listening`. */
export async function runEdgeWorker(config: EdgeConfig, opts: EdgeRuntimeOptions, launch: WorkerLaunch): Promise<number> {
  const log = createLogger({ level: config.logging.level, base: { worker: launch.slot } });
  const send = (m: FromWorker): void => {
    if (process.connected) process.send?.(m);
  };
  // A follower's passive verdicts go to the prober: every failure, a success only after a
  // failure (the prober's own probes and calls bring hosts back up; successes need no stream).
  const lastSent = new Map<string, boolean>();
  const prober = launch.slot === 1;
  const role: WorkerRole = {
    slot: launch.slot,
    prober,
    ...(prober ? {} : {
      onPassiveHealth: (ref: HostRef, ok: boolean, reason: string | undefined) => {
        const key = `${ref.trunk}\u0000${ref.host}`;
        if (ok && lastSent.get(key) !== false) return;
        lastSent.set(key, ok);
        send({ t: 'health-report', ref, ok, reason: reason ?? null });
      },
    }),
  };
  let obs: Observed | null = null;
  let reload: ((why: string) => void) | null = null;
  const onMessage = (raw: unknown): void => {
    const m = raw as ToWorker;
    const o = obs;
    if (o === null || typeof m !== 'object' || m === null) return;
    const stack = o.stack;
    switch (m.t) {
      case 'peers':
        stack.handoff?.setPeers(m.ports);
        // The primary counts the edge listening only once every worker can hand off (see peersApplied).
        send({ t: 'peers-applied', version: m.version });
        break;
      case 'health-apply':
        for (const c of m.changes) stack.health.apply({ trunk: c.trunk, host: c.host }, c.up, c.reason);
        break;
      case 'health-report':
        if (m.ok) stack.health.reportSuccess(m.ref);
        else stack.health.reportFailure(m.ref, m.reason ?? 'failure reported by another worker');
        break;
      case 'metrics':
        o.metrics.json().then((data) => send({ t: 'metrics', id: m.id, data }), () => send({ t: 'metrics', id: m.id, data: [] }));
        break;
      case 'ready':
        send({ t: 'ready', id: m.id, report: readinessFrom(config, stack.listeners.length, stack.health.snapshot()) });
        break;
      case 'reload':
        reload?.(m.trigger);
        break;
    }
  };
  process.on('message', onMessage);
  // A SIGHUP passed on while this worker still starts must not end it (the default action).
  const earlyHup = (): void => undefined;
  process.on('SIGHUP', earlyHup);
  // The primary gone (killed): nobody restarts, serves /metrics or forwards signals; stop.
  const onDisconnect = (): void => { process.kill(process.pid, 'SIGINT'); };
  process.once('disconnect', onDisconnect);
  const code = await runEdgeProcess(workerConfig(config, launch), {
    ...opts,
    worker: role,
    ...(launch.ticketSecret !== undefined ? { ticketSecret: launch.ticketSecret } : {}),
    onHealthChange: (c) => {
      opts.onHealthChange?.(c);
      if (prober) send({ t: 'health', change: { trunk: c.trunk, host: c.host, up: c.up, reason: c.reason } });
    },
  }, {
    watch: false,
    announce: (o) => {
      obs = o;
      log.info({ event: 'worker-listening', pid: process.pid, listeners: o.stack.listeners, handoffPort: o.stack.handoff?.port ?? null }, 'worker listening');
      send({ t: 'listening', listeners: o.stack.listeners, handoffPort: o.stack.handoff?.port ?? 0 });
    },
    onRunning: (c) => {
      reload = c.reload;
      process.off('SIGHUP', earlyHup);
    },
  }, log);
  process.off('SIGHUP', earlyHup);
  process.off('message', onMessage);
  process.off('disconnect', onDisconnect);
  if (process.connected) process.disconnect();
  return code;
}

interface Slot {
  readonly slot: number;
  worker: Worker | null;
  listening: boolean;
  handoffPort: number;
  listeners: readonly BoundListener[];
  /**
   * The version of the handoff port map this worker has applied. Until every worker holds the
   * current map a handoff to a worker missing from it cannot be sent (the message is processed
   * where it landed: a response becomes stray, a non-2xx ACK is lost), so neither `listening` nor
   * /readyz counts the edge ready before.
   */
  peersApplied: number;
  startedAt: number;
  /** Deaths in a row that came soon after a start (the restart backoff). */
  quickDeaths: number;
  restarts: number;
  restartTimer: NodeJS.Timeout | null;
}

/** A worker that lived this long died of something else than its start: restart at once. */
const STABLE_MS = 10_000;
const BACKOFF_MS = [0, 500, 1_000, 2_000, 5_000, 10_000, 30_000];
const IPC_TIMEOUT_MS = 2_000;
/** SIGTERM: what the primary waits beyond edge.drainTimeoutSeconds before it kills the workers. */
const DRAIN_MARGIN_MS = 5_000;

/** The primary: forks the workers, restarts them, serves the admin HTTP, forwards signals. */
export async function runEdgePrimary(config: EdgeConfig, opts: EdgeRuntimeOptions): Promise<number> {
  const n = workerCount(config);
  const log = createLogger({ level: config.logging.level, base: { worker: 0 } });
  // A SIGHUP while the workers start must not end the primary (the default action).
  const earlyHup = (): void => undefined;
  process.on('SIGHUP', earlyHup);
  const ticketSecret = randomBytes(32).toString('hex');
  const routeKey = config.edge.routeKeys === undefined ? randomBytes(24).toString('base64url') : undefined;
  if (routeKey !== undefined) {
    log.warn({ event: 'route-keys' }, 'no edge.routeKeys configured: the workers share a random key, so in-dialog requests will not survive a restart of the edge or reach another instance');
  }
  const heap = config.edge.workerHeapMb;
  cluster.setupPrimary({ execArgv: [...process.execArgv, ...(heap !== undefined ? [`--max-old-space-size=${heap}`] : [])] });

  const slots: Slot[] = Array.from({ length: n }, (_, i) => ({
    slot: i + 1, worker: null, listening: false, handoffPort: 0, listeners: [], peersApplied: 0, startedAt: 0, quickDeaths: 0, restarts: 0, restartTimer: null,
  }));
  const bySlot = (slot: number): Slot | undefined => slots[slot - 1];
  const health = new Map<string, HealthState>();
  let ports: number[] | null = null;
  let stopping = false;
  let started = false;
  let nextId = 1;
  const pending = new Map<number, { resolve: (m: FromWorker) => void; timer: NodeJS.Timeout }>();
  const metrics = new PrimaryMetrics(n, () => slots.filter((s) => s.listening).length);
  let onAllListening: (() => void) | null = null;
  let onStartFailure: ((why: string) => void) | null = null;

  const post = (s: Slot, m: ToWorker): void => {
    const w = s.worker;
    if (w !== null && w.isConnected()) w.send(m);
  };
  let peersVersion = 0;
  const broadcastPeers = (): void => {
    const map = slots.filter((s) => s.listening).map((s) => [s.slot, s.handoffPort] as const);
    peersVersion++;
    for (const s of slots) if (s.listening) post(s, { t: 'peers', version: peersVersion, ports: map });
  };
  const allServing = (): boolean => slots.every((x) => x.listening && x.peersApplied === peersVersion);
  const ask = (s: Slot, t: 'metrics' | 'ready'): Promise<FromWorker | null> => new Promise((resolve) => {
    // A worker without the current handoff map is not ready yet.
    if (!s.listening || s.worker === null || (t === 'ready' && s.peersApplied !== peersVersion)) return resolve(null);
    const id = nextId++;
    const timer = setTimeout(() => { pending.delete(id); resolve(null); }, IPC_TIMEOUT_MS);
    pending.set(id, { resolve, timer });
    post(s, { t, id });
  });

  const fork = (s: Slot): void => {
    s.listening = false;
    s.startedAt = Date.now();
    const w = cluster.fork({
      [WORKER_ENV.slot]: String(s.slot),
      [WORKER_ENV.workers]: String(n),
      [WORKER_ENV.ports]: ports === null ? '' : ports.join(','),
      [WORKER_ENV.ticketSecret]: ticketSecret,
      [WORKER_ENV.routeKey]: routeKey ?? '',
    });
    s.worker = w;
    w.on('message', (raw: unknown) => onWorkerMessage(s, w, raw as FromWorker));
    w.on('exit', (code, signal) => onWorkerExit(s, w, code, signal));
  };

  const onWorkerMessage = (s: Slot, w: Worker, m: FromWorker): void => {
    if (s.worker !== w || typeof m !== 'object' || m === null) return;
    switch (m.t) {
      case 'listening': {
        s.listening = true;
        s.handoffPort = m.handoffPort;
        s.listeners = m.listeners;
        if (ports === null) ports = m.listeners.map((l) => l.port);
        broadcastPeers();
        // A restarted worker (or one started after a change) starts from the prober's state.
        if (health.size > 0) post(s, { t: 'health-apply', changes: [...health.values()] });
        if (started) {
          log.info({ event: 'worker-restarted', slot: s.slot, pid: w.process.pid, restarts: s.restarts }, 'worker restarted');
        } else if (s.slot === 1 && slots.length > 1 && slots[1]!.worker === null) {
          // Worker 1 bound first (port 0 picks the ports): the others bind those exact ports.
          for (const other of slots.slice(1)) fork(other);
        }
        break;
      }
      case 'peers-applied': {
        s.peersApplied = Math.max(s.peersApplied, m.version);
        if (!started && allServing()) onAllListening?.();
        break;
      }
      case 'health': {
        health.set(`${m.change.trunk}\u0000${m.change.host}`, m.change);
        for (const x of slots) if (x !== s && x.listening) post(x, { t: 'health-apply', changes: [m.change] });
        break;
      }
      case 'health-report': {
        const prober = bySlot(1);
        if (prober !== undefined) post(prober, m);
        break;
      }
      case 'metrics':
      case 'ready': {
        const p = pending.get(m.id);
        if (p !== undefined) {
          pending.delete(m.id);
          clearTimeout(p.timer);
          p.resolve(m);
        }
        break;
      }
    }
  };

  let onAllExited: (() => void) | null = null;
  const exitCodes: (number | null)[] = [];
  const onWorkerExit = (s: Slot, w: Worker, code: number | null, signal: string | null): void => {
    if (s.worker !== w) return;
    s.worker = null;
    const wasListening = s.listening;
    s.listening = false;
    exitCodes.push(code);
    log[stopping ? 'info' : 'warn']({ event: 'worker-exit', slot: s.slot, pid: w.process.pid, code, signal }, 'worker exited');
    broadcastPeers();
    if (stopping) {
      if (slots.every((x) => x.worker === null)) onAllExited?.();
      return;
    }
    if (!started) {
      onStartFailure?.(`worker ${s.slot} exited with ${code ?? signal} before listening`);
      return;
    }
    s.quickDeaths = !wasListening || Date.now() - s.startedAt < STABLE_MS ? s.quickDeaths + 1 : 0;
    const delay = BACKOFF_MS[Math.min(s.quickDeaths, BACKOFF_MS.length - 1)]!;
    s.restartTimer = setTimeout(() => {
      s.restartTimer = null;
      if (stopping) return;
      s.restarts++;
      metrics.restarts.inc();
      fork(s);
    }, delay);
  };

  const stopAll = (signal: NodeJS.Signals): void => {
    for (const s of slots) {
      if (s.restartTimer !== null) clearTimeout(s.restartTimer);
      s.restartTimer = null;
      s.worker?.process.kill(signal);
    }
  };

  // Start: worker 1 first (its ports), then the others; all listening or the start fails.
  const startResult = await new Promise<string | null>((resolve) => {
    onAllListening = () => resolve(null);
    onStartFailure = (why) => resolve(why);
    fork(slots[0]!);
  });
  onAllListening = null;
  onStartFailure = null;
  if (startResult !== null) {
    process.off('SIGHUP', earlyHup);
    stopping = true;
    log.error({ event: 'start-failed', code: null, error: startResult }, 'start failed');
    await new Promise<void>((resolve) => {
      if (slots.every((s) => s.worker === null)) return resolve();
      onAllExited = resolve;
      stopAll('SIGINT');
    });
    return 1;
  }
  started = true;

  let admin: AdminServer | null = null;
  if (config.admin.enabled) {
    admin = await startAdminServer({
      address: config.admin.address,
      port: config.admin.port,
      metrics: {
        contentType: METRICS_CONTENT_TYPE,
        async text() {
          const parts = await Promise.all(slots.map((s) => ask(s, 'metrics')));
          const data = parts.flatMap((p) => (p !== null && p.t === 'metrics' ? [p.data] : []));
          return aggregatedMetrics([await metrics.json(), ...data]);
        },
      },
      readiness: async () => {
        const reports = (await Promise.all(slots.map((s) => ask(s, 'ready')))).map((p) => (p !== null && p.t === 'ready' ? p.report : null));
        return combinedReadiness(config, reports);
      },
    });
  }
  const onRejection = (reason: unknown): void => {
    log.error({ event: 'internal-error', error: reason instanceof Error ? reason.stack ?? reason.message : String(reason) }, 'unhandled rejection');
  };
  process.on('unhandledRejection', onRejection);
  log.info({
    event: 'listening',
    config: opts.configFile,
    edge: config.edge.name,
    listeners: slots[0]!.listeners,
    admin: admin === null ? null : { address: admin.address, port: admin.port },
    workers: n,
    pids: Object.fromEntries(slots.map((s) => [s.slot, s.worker?.process.pid ?? null])),
  }, 'listening');

  const files = [...config.tls.identities.flatMap((i) => [i.cert, i.key]), ...config.tls.crlFiles];
  const watchers = watchFiles(files, () => {
    log.info({ event: 'reload-forwarded', trigger: 'file-change' }, 'reload sent to every worker');
    for (const s of slots) post(s, { t: 'reload', trigger: 'file-change' });
  });
  return new Promise<number>((resolve) => {
    let killTimer: NodeJS.Timeout | null = null;
    const finish = (): void => {
      if (killTimer !== null) clearTimeout(killTimer);
      process.off('SIGHUP', onHup);
      process.off('SIGTERM', onTerm);
      process.off('SIGINT', onInt);
      process.off('unhandledRejection', onRejection);
      for (const w of watchers) w.close();
      const code = exitCodes.slice(-n).every((c) => c === 0) ? 0 : 1;
      (admin?.close() ?? Promise.resolve()).finally(() => {
        log.info({ event: 'stopped', code }, 'stopped');
        log.flush?.();
        resolve(code);
      });
    };
    const stop = (signal: NodeJS.Signals, graceMs: number): void => {
      if (stopping) return;
      stopping = true;
      exitCodes.length = 0;
      onAllExited = finish;
      if (slots.every((s) => s.worker === null)) return finish();
      stopAll(signal);
      killTimer = setTimeout(() => {
        log.error({ event: 'workers-killed', slots: slots.filter((s) => s.worker !== null).map((s) => s.slot) }, 'workers did not stop in time');
        exitCodes.push(null);
        for (const s of slots) s.worker?.process.kill('SIGKILL');
      }, graceMs);
    };
    const onHup = (): void => {
      log.info({ event: 'reload-forwarded', trigger: 'SIGHUP' }, 'reload sent to every worker');
      for (const s of slots) s.worker?.process.kill('SIGHUP');
    };
    const onTerm = (): void => {
      if (!stopping) log.info({ event: 'draining', timeoutSeconds: config.edge.drainTimeoutSeconds, workers: n }, 'draining');
      stop('SIGTERM', config.edge.drainTimeoutSeconds * 1000 + DRAIN_MARGIN_MS);
    };
    const onInt = (): void => stop('SIGINT', DRAIN_MARGIN_MS * 2);
    process.on('SIGHUP', onHup);
    process.off('SIGHUP', earlyHup);
    process.on('SIGTERM', onTerm);
    process.on('SIGINT', onInt);
  });
}

/** /readyz over the workers: every worker listening and ready; per trunk the fewest healthy upstreams any worker sees. */
export function combinedReadiness(config: EdgeConfig, reports: readonly (ReadinessReport | null)[]): ReadinessReport {
  const all = reports.every((r) => r !== null && notReady({ listenersBound: r.listenersBound, trunks: [] }).length === 0);
  const present = reports.filter((r): r is ReadinessReport => r !== null);
  return {
    listenersBound: all && present.length === reports.length,
    trunks: config.trunks.map((t) => ({
      name: t.name,
      healthyUpstreams: present.length === 0 ? 0 : Math.min(...present.map((r) => r.trunks.find((x) => x.name === t.name)?.healthyUpstreams ?? 0)),
    })),
  };
}
