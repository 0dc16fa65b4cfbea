/**
 * The edge process around the SIP stack: observability (logs, metrics, admin HTTP, HEP capture,
 * key log), signals, certificate reload and drain. `sips-edge start` and `sips-edge lab` both run
 * their edge through `startObservedEdge` here, and only here.
 */
import { watch, type FSWatcher } from 'node:fs';
import { basename, dirname } from 'node:path';
import { scheduledTimers } from './clock.js';
import type { EdgeConfig } from './config/schema.js';
import type { EdgeSecrets } from './config/secrets.js';
import { createHepSender } from './observability/hep.js';
import { readinessFrom, startAdminServer, type AdminServer } from './observability/admin-http.js';
import { createKeyLog } from './observability/keylog.js';
import { componentLogger, createLogger, type Logger } from './observability/logger.js';
import { createMetrics, type EdgeMetrics } from './observability/metrics.js';
import { createProxyObserver } from './observability/proxy-observer.js';
import { createSipTap, sipTapEnabled } from './observability/sip-tap.js';
import { attachTransportEvents } from './observability/transport-observer.js';
import type { HealthChange } from './routing/health.js';
import { startSipStack, type SipStack } from './sip-stack.js';
import { DEPRECATED_CIPHERS } from './tls/policy.js';
import { createRtpengineAnchor, RTPENGINE_SDES_SUITES, type SdesSuite } from './media/rtpengine-anchor.js';
import type { MediaAnchor } from './media/types.js';

export interface EdgeRuntimeOptions {
  readonly configFile: string;
  /** The config's environment-named secrets, read by the CLI. */
  readonly secrets: EdgeSecrets;
  readonly crlUrlOverrides?: Readonly<Record<string, string>>;
  /** Called after the metric and log of an upstream change (the lab prints it). */
  readonly onHealthChange?: (c: HealthChange) => void;
}

export interface Observed {
  readonly stack: SipStack;
  readonly log: Logger;
  readonly metrics: EdgeMetrics;
  readonly admin: AdminServer | null;
  close(): Promise<void>;
}

/**
 * Starts the edge with every observability seam wired (metrics, admin HTTP, HEP, key log, logs);
 * `start` and the lab both run their edge through here, so what one observes the other does too.
 */
export async function startObservedEdge(config: EdgeConfig, opts: EdgeRuntimeOptions, log: Logger = createLogger({ level: config.logging.level })): Promise<Observed> {
  const metrics = createMetrics();
  const hep = createHepSender(config.logging.hep, (r) => metrics.hepPackets.inc({ result: r }));
  const tap = createSipTap(log, hep);
  const keylog = createKeyLog(config.tls.keyLogFile);
  if (keylog.warning !== null) log.warn({ event: 'keylog' }, keylog.warning);
  const edgeLog = componentLogger(log, 'edge');
  const media = createMediaAnchor(config, metrics, componentLogger(log, 'media'));
  const stack = await startSipStack(config, {
    ...(media !== null ? { media } : {}),
    secrets: opts.secrets,
    observer: createProxyObserver({ log, metrics }),
    log: (level, msg, fields) => edgeLog[level]({ ...fields }, msg),
    // Every message in and out would pass through the tap: only wired when it traces or captures.
    ...(sipTapEnabled(log, hep) ? { capture: (direction, transport, local, remote, data) => tap({ direction, transport, local, remote, data }) } : {}),
    onHealthChange: (c) => {
      metrics.upstreamChanged(c);
      edgeLog[c.up ? 'info' : 'warn']({ event: c.up ? 'upstream-up' : 'upstream-down', ...c }, c.up ? 'upstream up' : 'upstream down');
      opts.onHealthChange?.(c);
    },
    onProbe: (h, r) => metrics.observeProbe({ region: regionOf(config, h.name), host: h.name, ok: r.ok, latencyMs: r.latencyMs }),
    onTlsServer: (s) => keylog.attach(s),
    onTlsClientSocket: (s) => keylog.attach(s),
    ...(opts.crlUrlOverrides ? { crlUrlOverrides: opts.crlUrlOverrides } : {}),
    onRevocationEvent: (e) => {
      if (e.kind === 'fetched') metrics.crlFetches.inc({ result: 'ok' });
      else if (e.kind === 'fetch-failed') metrics.crlFetches.inc({ result: e.timedOut === true ? 'timeout' : 'failed' });
      else if (e.kind === 'crl-invalid') metrics.crlFetches.inc({ result: 'invalid' });
    },
  });
  attachTransportEvents(stack.transport.events, { log, metrics, deprecatedCiphers: DEPRECATED_CIPHERS });
  metrics.setActiveTransactionsSource(() => stack.transactions.activeServerTransactions);
  metrics.setIdleSources({ transactions: () => stack.transactions.size, timers: scheduledTimers });
  const setExpiry = (): void => {
    metrics.clearCertificates();
    for (const c of stack.loadedCertificates()) metrics.setCertificateExpiry(c.name, c.file, c.notAfter);
  };
  setExpiry();
  let admin: AdminServer | null = null;
  if (config.admin.enabled) {
    admin = await startAdminServer({
      address: config.admin.address,
      port: config.admin.port,
      metrics,
      readiness: () => {
        const r = readinessFrom(config, stack.listeners.length, stack.health.snapshot());
        const media = stack.media;
        if (stack.anchored.length === 0) return r;
        return { ...r, media: { anchored: stack.anchored, instancesUp: media === null ? 0 : media.instances().filter((i) => i.up).length } };
      },
    });
  }
  return {
    stack,
    log,
    metrics,
    admin,
    async close() {
      await admin?.close();
      await hep.close();
      keylog.close();
    },
  };
}

/**
 * Issue 14: rtpengine for `media: anchor` calls, its commands and instances counted and logged;
 * new calls (initial offers) counted per instance. Null when `media.rtpengine` is not configured.
 */
function createMediaAnchor(config: EdgeConfig, metrics: EdgeMetrics, log: Logger): MediaAnchor | null {
  const rtp = config.media?.rtpengine;
  if (rtp === undefined) return null;
  const allowed = config.srtp.allowedSuites?.filter((s): s is SdesSuite => (RTPENGINE_SDES_SUITES as readonly string[]).includes(s));
  const anchor = createRtpengineAnchor({
    instances: rtp.instances.map((i) => ({ address: i.address, port: i.port, weight: i.weight, ...(i.name !== undefined ? { name: i.name } : {}) })),
    timeoutMs: rtp.timeoutMs,
    retries: rtp.retries,
    pingIntervalMs: rtp.pingIntervalSeconds * 1000,
    interfaces: rtp.interfaces,
    ...(allowed !== undefined && allowed.length > 0 ? { sdesSuites: allowed } : {}),
    observer: {
      onCommand: (e) => {
        metrics.mediaCommands.inc({ command: e.command, result: e.result, instance: e.instance });
        if (e.result !== 'timeout') metrics.mediaRoundTrip.observe({ command: e.command }, e.rttMs / 1000);
        if (e.result !== 'ok' && e.command !== 'ping') log.warn({ event: 'media-command-failed', command: e.command, result: e.result, instance: e.instance, callId: e.callId ?? null, reason: e.errorReason ?? null }, 'rtpengine command failed');
      },
      onInstanceState: (e) => {
        metrics.mediaInstanceUp.set({ instance: e.instance }, e.up ? 1 : 0);
        log[e.up ? 'info' : 'warn']({ event: e.up ? 'media-instance-up' : 'media-instance-down', instance: e.instance, reason: e.reason }, e.up ? 'rtpengine instance up' : 'rtpengine instance down');
      },
    },
  });
  for (const i of anchor.instances()) metrics.mediaInstanceUp.set({ instance: i.name }, i.up ? 1 : 0);
  return {
    async offer(r) {
      const res = await anchor.offer(r);
      if (r.toTag === undefined) metrics.anchoredCalls.inc({ instance: res.instance });
      return res;
    },
    answer: (r) => anchor.answer(r),
    delete: (callId, fromTag) => anchor.delete(callId, fromTag),
    available: () => anchor.available(),
    instances: () => anchor.instances(),
    close: () => anchor.close(),
  };
}

function regionOf(config: EdgeConfig, host: string): string {
  const t = config.trunks.find((x) => x.hosts?.some((h) => h.host.toLowerCase() === host) || (x.region !== undefined && host.includes(`.${x.region}.`)));
  return t?.region ?? t?.name ?? 'unknown';
}

export async function runEdgeProcess(config: EdgeConfig, opts: EdgeRuntimeOptions): Promise<number> {
  const log = createLogger({ level: config.logging.level });
  let obs: Observed;
  try {
    obs = await startObservedEdge(config, opts, log);
  } catch (e) {
    log.error({ event: 'start-failed', code: (e as { code?: string }).code ?? null, error: (e as Error).message }, 'start failed');
    return 1;
  }
  const { stack } = obs;
  // Last line of defence: a promise rejected somewhere nobody waits is a bug to log, not a reason
  // to drop every call in progress.
  const onRejection = (reason: unknown): void => {
    log.error({ event: 'internal-error', error: reason instanceof Error ? reason.stack ?? reason.message : String(reason) }, 'unhandled rejection');
  };
  process.on('unhandledRejection', onRejection);
  const listening = {
    event: 'listening',
    config: opts.configFile,
    edge: config.edge.name,
    listeners: stack.listeners,
    admin: obs.admin === null ? null : { address: obs.admin.address, port: obs.admin.port },
  };
  log.info(listening, 'listening');
  return new Promise<number>((resolve) => {
    let stopping = false;
    const finish = (code: number) => {
      process.off('SIGHUP', onHup);
      process.off('SIGTERM', onTerm);
      process.off('SIGINT', onInt);
      process.off('unhandledRejection', onRejection);
      for (const w of watchers) w.close();
      obs.close().finally(() => {
        log.info({ event: 'stopped', code }, 'stopped');
        log.flush?.();
        resolve(code);
      });
    };
    const reload = (why: string) => {
      const r = stack.reloadCertificates();
      for (const e of r.errors) log.error({ event: 'reload-refused', error: e.message }, 'certificate reload refused; keeping the old one');
      obs.metrics.clearCertificates();
      for (const c of stack.loadedCertificates()) obs.metrics.setCertificateExpiry(c.name, c.file, c.notAfter);
      log.info({ event: 'reloaded', trigger: why, reloaded: r.reloaded, refused: r.errors.length }, 'certificates reloaded');
    };
    const onHup = () => reload('SIGHUP');
    const watchers = watchFiles(stack.watchedFiles, () => reload('file-change'));
    const onTerm = () => {
      if (stopping) return;
      stopping = true;
      log.info({ event: 'draining', timeoutSeconds: config.edge.drainTimeoutSeconds }, 'draining');
      stack.drain(config.edge.drainTimeoutSeconds * 1000).then(() => finish(0), () => finish(1));
    };
    const onInt = () => {
      if (stopping) return;
      stopping = true;
      stack.stop().then(() => finish(0), () => finish(1));
    };
    process.on('SIGHUP', onHup);
    process.on('SIGTERM', onTerm);
    process.on('SIGINT', onInt);
  });
}

/**
 * Reload when a certificate, key or CRL file changes. Directories are watched (an atomic replace
 * renames over the file, which a watch on the file itself would lose); changes are debounced so
 * a cert+key pair written one after the other reloads once.
 */
function watchFiles(files: readonly string[], onChange: () => void): FSWatcher[] {
  const byDir = new Map<string, Set<string>>();
  for (const f of files) {
    const names = byDir.get(dirname(f)) ?? new Set<string>();
    names.add(basename(f));
    byDir.set(dirname(f), names);
  }
  let timer: NodeJS.Timeout | null = null;
  const schedule = (): void => {
    if (timer !== null) clearTimeout(timer);
    timer = setTimeout(() => { timer = null; onChange(); }, 300);
    timer.unref();
  };
  const out: FSWatcher[] = [];
  for (const [dir, names] of byDir) {
    try {
      const w = watch(dir, (_event, name) => { if (name !== null && names.has(name.toString())) schedule(); });
      w.unref();
      out.push(w);
    } catch {
      // A directory that cannot be watched still reloads on SIGHUP.
    }
  }
  return out;
}
