/**
 * A running edge process: the Edge plus router, resolver, health probes, TLS trust per peer name,
 * and the probe OPTIONS. `sips-edge start` and the lab both use it.
 */
import { randomBytes } from 'node:crypto';
import { systemClock, type Clock } from './clock.js';
import type { EdgeConfig } from './config/schema.js';
import { Edge, type EdgeDeps, type TlsPeerPolicy } from './edge.js';
import { buildInDialogRequest } from './message/build-request.js';
import type { SipMessage } from './message/message.js';
import type { ProxyObserver } from './proxy/deps.js';
import { branchOnly } from './proxy/branch.js';
import { viaValue } from './proxy/via.js';
import { createHealthMonitor, type HealthChange, type HealthMonitor, type ProbeHost, type ProbeResult } from './routing/health.js';
import { createResolver, type Resolver } from './routing/resolver.js';
import { createRouter, type EdgeRouter } from './routing/router.js';
import { loadTrustAnchors, REGION_ROOTS_EV, type TrustAnchors, type TrustSpec, type VendorRootName } from './tls/trust-store.js';

export interface RunOptions {
  readonly clock?: Clock;
  readonly observer?: ProxyObserver;
  readonly log?: EdgeDeps['log'];
  readonly capture?: EdgeDeps['capture'];
  readonly crlUrlOverrides?: Readonly<Record<string, string>>;
  readonly onRevocationEvent?: EdgeDeps['onRevocationEvent'];
  readonly onHealthChange?: (c: HealthChange) => void;
  readonly onProbe?: (host: ProbeHost, r: ProbeResult) => void;
  readonly onTlsServer?: EdgeDeps['onTlsServer'];
  readonly onTlsClientSocket?: EdgeDeps['onTlsClientSocket'];
}

export interface RunningEdge {
  readonly edge: Edge;
  readonly router: EdgeRouter;
  readonly health: HealthMonitor;
  readonly resolver: Resolver;
  stop(): Promise<void>;
  drain(timeoutMs: number): Promise<void>;
}

export async function runEdge(config: EdgeConfig, opts: RunOptions = {}): Promise<RunningEdge> {
  const clock = opts.clock ?? systemClock;
  const resolver = createResolver({ clock, overrides: config.dns.overrides });
  let edge: Edge | null = null;
  const health = createHealthMonitor({
    clock,
    resolver,
    probe: async (host) => {
      const r = edge === null ? { ok: false, latencyMs: 0, reason: 'not started' } : await probeOptions(edge, host);
      opts.onProbe?.(host, r);
      return r;
    },
    ...(opts.onHealthChange ? { onChange: opts.onHealthChange } : {}),
  });
  let router: EdgeRouter | null = null;
  const trust = new Map<string, TlsPeerPolicy>();
  const observer: ProxyObserver = {
    ...opts.observer,
    targetOutcome: (e) => {
      opts.observer?.targetOutcome?.(e);
      // Passive health: a transport failure or the host's own 503 counts against it; a slow answer
      // (failover timer, Timer C) does not (the probes judge that), any answer counts for it.
      if (e.trunk === null) return;
      const verdict = e.health ?? (e.reason !== null ? 'failure' : e.status < 500 ? 'success' : 'neutral');
      if (verdict === 'failure') health.reportFailure({ trunk: e.trunk, host: e.target }, e.reason ?? `${e.status} from ${e.target}`);
      else if (verdict === 'success') health.reportSuccess({ trunk: e.trunk, host: e.target });
    },
  };
  edge = new Edge(config, {
    clock,
    observer,
    router: () => {
      router = createRouter(config, { resolver, health, clock });
      for (const plan of router.trunkPlans()) {
        const anchors = trustFor(plan.trunk.trust, plan.region?.roots);
        for (const h of plan.hosts) {
          trust.set(h.name, { anchors, extraNames: router.acceptedNamesFor(h.name).filter((n) => n !== h.name) });
        }
      }
      for (const p of config.peers) {
        if (p.transport === 'tls' && p.trustFiles !== undefined) {
          trust.set((p.servername ?? p.host).toLowerCase(), { anchors: loadTrustAnchors({ files: p.trustFiles }), extraNames: [] });
        }
      }
      return router;
    },
    tlsPeers: (name) => trust.get(name.toLowerCase()),
    ...(opts.log ? { log: opts.log } : {}),
    ...(opts.capture ? { capture: opts.capture } : {}),
    ...(opts.crlUrlOverrides ? { crlUrlOverrides: opts.crlUrlOverrides } : {}),
    ...(opts.onRevocationEvent ? { onRevocationEvent: opts.onRevocationEvent } : {}),
    ...(opts.onTlsServer ? { onTlsServer: opts.onTlsServer } : {}),
    ...(opts.onTlsClientSocket ? { onTlsClientSocket: opts.onTlsClientSocket } : {}),
  });
  await edge.start();
  const r = router as EdgeRouter | null;
  if (r === null) throw new Error('router was not created');
  await r.start();
  for (const n of r.notes()) opts.log?.('warn', n.message, { trunk: n.trunk });
  health.start();
  const running = edge;
  return {
    edge: running,
    router: r,
    health,
    resolver,
    async stop() {
      health.stop();
      r.stop();
      await running.stop();
    },
    async drain(timeoutMs) {
      health.stop();
      r.stop();
      await running.drain(timeoutMs);
    },
  };
}

function trustFor(t: EdgeConfig['trunks'][number]['trust'], regionRoots: readonly string[] | undefined): TrustAnchors {
  let spec: TrustSpec;
  if (t?.files !== undefined) spec = { files: t.files };
  else if (t?.roots !== undefined) spec = { roots: t.roots };
  else spec = { roots: (regionRoots ?? REGION_ROOTS_EV) as readonly VendorRootName[] };
  return loadTrustAnchors(spec);
}

/** An OPTIONS over the TLS pool to one lb host: an answer below 500 means it takes calls. */
function probeOptions(edge: Edge, host: ProbeHost): Promise<ProbeResult> {
  const started = edge.clock.now();
  const leg = edge.core!.identity.exitLeg('outside', 'tls');
  const req: SipMessage = buildInDialogRequest({
    method: 'OPTIONS',
    requestUri: `sip:${host.name}:${host.port};transport=tls`,
    via: viaValue(leg, branchOnly()),
    routes: [],
    from: `<sip:probe@${edge.config.edge.name}>;tag=${randomBytes(4).toString('hex')}`,
    to: `<sip:${host.name}>`,
    callId: `probe-${randomBytes(8).toString('hex')}@${edge.config.edge.name}`,
    cseq: 1,
    headers: [['Accept', 'application/sdp'], ['User-Agent', 'sips-edge']],
  });
  return new Promise((resolve) => {
    edge.transactions.createClient(req, { transport: 'tls', host: host.address, port: host.port, servername: host.name }, {
      onResponse: (res) => {
        if (res.status < 200) return;
        const latencyMs = edge.clock.now() - started;
        resolve(res.status < 500 ? { ok: true, latencyMs } : { ok: false, latencyMs, reason: `${res.status} ${res.startLine.kind === 'response' ? res.startLine.reason : ''}`.trim() });
      },
      onTimeout: () => resolve({ ok: false, latencyMs: edge.clock.now() - started, reason: 'timeout' }),
      onTransportError: (f) => resolve({ ok: false, latencyMs: edge.clock.now() - started, reason: f.reason }),
    });
  });
}
