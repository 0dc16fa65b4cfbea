/**
 * The lab: lab PKI (generated when missing), the simulated vendor region, the PBX simulator and
 * the edge in-process with the lab config, all on loopback. The edge is started by the same entry
 * as `sips-edge start` (edge-runtime.ts startObservedEdge, injected as `startEdge`): metrics, admin
 * endpoints, HEP, key log and logs are the ones a production edge has, not a second wiring.
 */
import type { Side } from '../diagnostics.js';
import { X509Certificate } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve, sep } from 'node:path';
import type { EdgeConfig } from '../config/schema.js';
import { loadConfigFile } from '../config/load-config.js';
import type { Environment } from '../config/secrets.js';
import type { HealthChange, HealthMonitor } from '../routing/health.js';
import { DEFAULT_LAB_REGIONS, generateLabPki } from '../tls/lab-pki.js';
import { resolveTlsPolicy } from '../tls/policy.js';
import type { TransportEvents } from '../transport/transport-events.js';
import { CarrierSimulator } from './carrier-sim.js';
import { PbxSimulator } from './pbx-sim.js';
import { freeUdpPort, RTPENGINE_BINARY, RTPENGINE_HINT, RtpengineDaemon } from './rtpengine-daemon.js';
import { formatReport, mediaColumn, type ReportRow } from './report.js';
import { LAB_REGION, MEDIA_SCENARIOS, runScenario, SCENARIOS } from './scenarios.js';
import { SimulatedRegion } from './vendor-region.js';

/**
 * What the lab needs of a running edge. The CLI passes the edge process's own start (src/edge-runtime.ts
 * startObservedEdge): the lab sits below the composition root in the layer map, so it gets the edge
 * injected instead of importing it.
 */
/** A bound listener as the lab reads it (structurally sip-stack.ts `BoundListener`). */
export interface BoundListenerInfo {
  readonly side: Side;
  readonly transport: 'udp' | 'tcp' | 'tls';
  readonly address: string;
  readonly port: number;
}

export interface LabEdge {
  readonly edge: {
    readonly listeners: readonly BoundListenerInfo[];
    readonly transport: { readonly events: TransportEvents };
    readonly transactions: { readonly size: number };
  };
  readonly health: Pick<HealthMonitor, 'snapshot'>;
  /** The edge's admin endpoints (/metrics, /healthz, /readyz), null when admin.enabled is false. */
  readonly admin: { readonly address: string; readonly port: number } | null;
  stop(): Promise<void>;
}

export interface LabEdgeHooks {
  /** Prints one line of the lab's output (the edge's log lines go here). */
  readonly progress: (line: string) => void;
  /** Edge info logs too, not only warnings and errors. */
  readonly verbose: boolean;
  readonly onHealthChange: (c: HealthChange) => void;
}

export type StartEdge = (config: EdgeConfig, hooks: LabEdgeHooks) => Promise<LabEdge>;

export interface LabOptions {
  readonly startEdge: StartEdge;
  /** Where the lab PKI lives (generated there when missing). */
  readonly labDir: string;
  readonly configFile: string;
  /** The environment the CLI read, for the variables the config names. */
  readonly env: Environment;
  /** Port 0 everywhere instead of the config's fixed lab ports (tests, CI). */
  readonly ephemeral: boolean;
  readonly progress: (line: string) => void;
  /** Edge info logs too, not only warnings and errors. */
  readonly verbose?: boolean;
  /** The rtpengine binary (default /usr/bin/rtpengine; tests point it elsewhere to run without). */
  readonly rtpengineBinary?: string;
}

export interface Addresses {
  readonly edgeOutside: { readonly name: string; readonly address: string; readonly port: number };
  readonly edgeInside: { readonly address: string; readonly port: number };
  /** Every inside listener (UDP and TCP may have different ports in ephemeral mode). */
  readonly inside: readonly { readonly transport: string; readonly address: string; readonly port: number }[];
  readonly admin: { readonly address: string; readonly port: number } | null;
  readonly region: readonly { readonly name: string; readonly port: number }[];
  readonly pbx: { readonly address: string; readonly port: number };
  /** Null when the lab runs without rtpengine. */
  readonly carrier: { readonly address: string; readonly port: number } | null;
  readonly rtpengine: { readonly ngPort: number; readonly pid: number | undefined } | null;
}

export interface RunningLab {
  readonly config: EdgeConfig;
  readonly addresses: Addresses;
  readonly edge: LabEdge;
  runCalls(): Promise<readonly ReportRow[]>;
  stop(): Promise<void>;
}

/** The files of the lab PKI the lab needs; any missing (or an expired edge certificate) regenerates it. */
function pkiComplete(dir: string): boolean {
  const files = [
    'manifest.json', 'roots/lab-ev-root.pem', 'roots/lab-g2-root.pem', 'edge/edge.chain.pem', 'edge/edge.key.pem',
    'keys/vendor-leaf.key.pem', 'crl/lab-ev-int.crl.pem', 'crl/lab-g2-int.crl.pem',
    ...LAB_REGION.hosts.map((h) => `vendor/${h}.chain.pem`),
  ];
  if (!files.every((f) => existsSync(join(dir, f)))) return false;
  try {
    const edge = new X509Certificate(readFileSync(join(dir, 'edge/edge.chain.pem')));
    return new Date(edge.validTo).getTime() > Date.now() && new Date(edge.validFrom).getTime() <= Date.now();
  } catch {
    return false;
  }
}

export function ensureLabPki(dir: string, progress: (line: string) => void): void {
  if (pkiComplete(dir)) {
    progress(`lab PKI: ${dir}`);
    return;
  }
  const regions: string[] = [...new Set<string>([LAB_REGION.code, ...DEFAULT_LAB_REGIONS])];
  const pki = generateLabPki({ outDir: dir, regions });
  progress(`lab PKI: generated ${pki.manifest.length} files in ${dir}`);
}

/**
 * The config's paths point into the default lab dir `<config dir>/../.lab`; a lab run with another
 * directory maps that prefix to it.
 */
export function remapLabDir(config: EdgeConfig, configFile: string, labDir: string): void {
  const from = resolve(dirname(resolve(configFile)), '../.lab');
  const to = resolve(labDir);
  if (from === to) return;
  const map = (p: string): string => (p === from ? to : p.startsWith(from + sep) ? to + p.slice(from.length) : p);
  for (const id of config.tls.identities) {
    id.cert = map(id.cert);
    id.key = map(id.key);
  }
  config.tls.crlFiles = config.tls.crlFiles.map(map);
  if (config.tls.keyLogFile !== undefined) config.tls.keyLogFile = map(config.tls.keyLogFile);
  config.trunks = config.trunks.map((t) => (t.trust?.files ? { ...t, trust: { ...t.trust, files: t.trust.files.map(map) } } : t));
  config.peers = config.peers.map((p) => (p.trustFiles ? { ...p, trustFiles: p.trustFiles.map(map) } : p));
}

/** Fixed-port mode: the port of each lab lb host as the config's trunks name it. */
function configuredHostPorts(config: EdgeConfig): Map<string, number> {
  const out = new Map<string, number>();
  for (const t of config.trunks) for (const h of t.hosts ?? []) if (!out.has(h.host.toLowerCase())) out.set(h.host.toLowerCase(), h.port ?? t.port);
  return out;
}

/** The inside peer the carrier simulator plays (config/sips-edge.yaml). */
export const CARRIER_PEER = 'carrier';

/**
 * Without rtpengine: the anchored peers, their inbound rules and `media` leave the config, so it
 * validates (media: anchor needs media.rtpengine) and the other rows run.
 */
export function withoutMedia(config: EdgeConfig): void {
  const gone = new Set(config.peers.filter((p) => p.media === 'anchor').map((p) => p.name));
  config.peers = config.peers.filter((p) => !gone.has(p.name));
  config.routing = { ...config.routing, inbound: config.routing.inbound.filter((r) => !gone.has(r.peer)) };
  config.trunks = config.trunks.map((t) => (t.media === 'anchor' ? { ...t, media: 'passthrough' as const } : t));
  config.media = undefined;
}

export async function startLab(o: LabOptions): Promise<RunningLab> {
  const say = o.progress;
  ensureLabPki(o.labDir, say);
  const config = structuredClone(loadConfigFile(o.configFile, o.env));
  remapLabDir(config, o.configFile, o.labDir);
  say(`config: ${o.configFile}${o.ephemeral ? ' (ports: ephemeral)' : ''}`);

  const policy = resolveTlsPolicy({
    deprecatedCiphers: config.tls.deprecatedCiphers,
    handshakeTimeoutMs: config.tls.handshakeTimeoutMs,
    revocation: config.tls.revocation,
    cnFallback: config.tls.cnFallback,
  });
  const hostPorts = configuredHostPorts(config);
  const pbxPeer = config.peers.find((p) => p.name === config.routing.defaultPeer) ?? config.peers[0];
  if (pbxPeer === undefined) throw new Error(`${o.configFile}: the lab needs an inside peer for the PBX simulator`);
  const stops: (() => Promise<void>)[] = [];
  const stopAll = async (): Promise<void> => {
    for (const s of stops.splice(0).reverse()) await s().catch(() => undefined);
  };
  try {
    const region = await SimulatedRegion.start({
      spec: LAB_REGION,
      files: (host) => ({ chain: join(o.labDir, `vendor/${host}.chain.pem`), key: join(o.labDir, 'keys/vendor-leaf.key.pem') }),
      policy,
      address: '127.0.0.1',
      ports: LAB_REGION.hosts.map((h) => (o.ephemeral ? 0 : hostPorts.get(h) ?? 0)),
      t1Ms: config.timers.T1,
      edgeTrust: { roots: [join(o.labDir, 'roots/lab-ev-root.pem'), join(o.labDir, 'roots/lab-g2-root.pem')], crlFiles: [join(o.labDir, 'crl/lab-ev-int.crl.pem'), join(o.labDir, 'crl/lab-g2-int.crl.pem')] },
    });
    stops.push(() => region.stop());
    say(`region ${LAB_REGION.code}: ${region.hosts.map((h) => `${h.name} 127.0.0.1:${h.port}`).join(', ')}`);
    const pbx = await PbxSimulator.start('127.0.0.1', o.ephemeral ? 0 : pbxPeer.port, config.timers.T1);
    stops.push(() => pbx.stop());
    say(`PBX simulator: udp 127.0.0.1:${pbx.port} (peer ${pbxPeer.name})`);

    // Issue 14: the carrier rows need the lab's own rtpengine; without it they are left out.
    const carrierPeer = config.peers.find((p) => p.name === CARRIER_PEER);
    const ngInstance = config.media?.rtpengine.instances[0];
    let rtpengine: RtpengineDaemon | null = null;
    let carrier: CarrierSimulator | null = null;
    if (carrierPeer !== undefined && ngInstance !== undefined) {
      const binary = o.rtpengineBinary ?? RTPENGINE_BINARY;
      if (!RtpengineDaemon.installed(binary)) say(`${RTPENGINE_HINT}; ${binary} is missing, the carrier rows are left out`);
      else {
        try {
          rtpengine = await RtpengineDaemon.start({ ngPort: o.ephemeral ? await freeUdpPort() : ngInstance.port, binary });
          const started = rtpengine;
          stops.push(() => started.stop());
          say(`rtpengine: pid ${rtpengine.pid ?? '?'}, ng 127.0.0.1:${rtpengine.ngPort}, media inside 127.0.0.1 outside 127.0.0.2`);
        } catch (e) {
          say(`${RTPENGINE_HINT}; it did not start (${e instanceof Error ? e.message.split('\n')[0] : String(e)}), the carrier rows are left out`);
        }
      }
    }
    if (rtpengine !== null && carrierPeer !== undefined) {
      carrier = await CarrierSimulator.start(carrierPeer.host, o.ephemeral ? 0 : carrierPeer.port, config.timers.T1);
      const started = carrier;
      stops.push(() => started.stop());
      say(`carrier simulator: udp ${carrier.address}:${carrier.port} RTP only (peer ${carrierPeer.name})`);
      const ngPort = rtpengine.ngPort;
      config.media = { ...config.media!, rtpengine: { ...config.media!.rtpengine, instances: config.media!.rtpengine.instances.map((i, n) => (n === 0 ? { ...i, port: ngPort } : i)) } };
    } else withoutMedia(config);

    // Point the config at what is really bound.
    const bound = new Map(region.hosts.map((h) => [h.name, h.port]));
    config.trunks = config.trunks.map((t) => (t.hosts ? { ...t, hosts: t.hosts.map((h) => ({ ...h, port: bound.get(h.host.toLowerCase()) ?? h.port ?? t.port })) } : t));
    config.peers = config.peers.map((p) => (p === pbxPeer ? { ...p, port: pbx.port } : carrier !== null && p.name === CARRIER_PEER ? { ...p, port: carrier.port } : p));
    if (o.ephemeral) {
      config.listen = config.listen.map((l) => ({ ...l, port: 0 }));
      config.admin = { ...config.admin, port: 0 };
    }

    const edge = await o.startEdge(config, {
      progress: say,
      verbose: o.verbose === true,
      onHealthChange: (c) => say(`  upstream ${c.host} (${c.trunk}) ${c.up ? 'up' : `down: ${c.reason ?? ''}`}`),
    });
    stops.push(() => edge.stop());
    const edgeVerified = new Map<string, string>();
    edge.edge.transport.events.on('tlsEstablished', (e) => {
      if (e.role === 'client' && e.servername !== null) edgeVerified.set(e.servername.toLowerCase(), e.cipher);
    });

    const admin = edge.admin;

    const ls = edge.edge.listeners;
    const outside = ls.find((l) => l.side === 'outside' && l.transport === 'tls');
    const insideUdp = ls.find((l) => l.side === 'inside' && l.transport === 'udp');
    if (outside === undefined || insideUdp === undefined) throw new Error(`${o.configFile}: the lab needs an outside TLS and an inside UDP listener`);
    const addresses: Addresses = {
      edgeOutside: { name: config.edge.name, address: outside.address, port: outside.port },
      edgeInside: { address: insideUdp.address, port: insideUdp.port },
      inside: ls.filter((l) => l.side === 'inside').map((l) => ({ transport: l.transport, address: l.address, port: l.port })),
      admin: admin === null ? null : { address: admin.address, port: admin.port },
      region: region.hosts,
      pbx: { address: pbx.address, port: pbx.port },
      carrier: carrier === null ? null : { address: carrier.address, port: carrier.port },
      rtpengine: rtpengine === null ? null : { ngPort: rtpengine.ngPort, pid: rtpengine.pid },
    };
    for (const l of ls) say(`edge ${l.side} ${l.transport} ${l.address}:${l.port}${l === outside ? ` (${config.edge.name})` : ''}`);
    if (admin !== null) say(`admin http://${admin.address}:${admin.port}/metrics /healthz /readyz`);

    return {
      config,
      addresses,
      edge,
      async runCalls() {
        const rows: ReportRow[] = [];
        const ctx = { region, pbx, carrier, edgeInside: addresses.edgeInside, edgeOutside: addresses.edgeOutside, edgeVerified };
        for (const s of [...SCENARIOS, ...(carrier === null ? [] : MEDIA_SCENARIOS)]) {
          const row = await runScenario(s, ctx);
          const media = row.media === undefined ? '' : ` media ${mediaColumn(row)}`;
          say(`call #${row.id} ${row.direction} ${row.mode} ${s.carrier === true ? 'carrier' : row.srtpOffered ? 'SRTP' : 'no SRTP'}: ${row.outcome}${row.lbHost ? ` via ${row.lbHost}` : ''}${media}${row.detail ? ` [${row.detail}]` : ''} ${row.pass ? 'ok' : 'UNEXPECTED'}`);
          rows.push(row);
        }
        return rows;
      },
      stop: stopAll,
    };
  } catch (e) {
    await stopAll();
    throw e;
  }
}

export { formatReport };
