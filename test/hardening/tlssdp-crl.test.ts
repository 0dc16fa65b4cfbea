/**
 * Issue 11 item 3: a slow CRL distribution point must not stall outbound TLS. The lab PKI names a
 * distribution point on a loopback HTTP server of this file; the lb stand-ins (the lab's simulated
 * region, one per host) present leaves carrying it; the edge (its own process, no CRL files, so it
 * must fetch) places calls from the PBX simulator over a DNIS trunk spread over the four hosts.
 *
 * - trickle: the server answers 200 and then sends one byte every 100 ms forever (the socket is
 *   never idle). soft: the calls complete once the total deadline ends the fetch; hard: they fail
 *   with crl-unavailable, well before Timer C.
 * - every case: four concurrent handshakes (one per lb host) cause one request at the server, a
 *   log line and a `sips_edge_crl_fetches_total` sample.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { PbxSimulator } from '../../src/lab/pbx-sim.js';
import { generateLabPki, type LabPki } from '../../src/tls/lab-pki.js';
import { resolveTlsPolicy } from '../../src/tls/policy.js';
import { EdgeProcess, type LogLine } from '../helpers/edge-process.js';
import { IT_REGION, LabHosts, LB_HOSTS, labFiles } from '../helpers/lab-region.js';

const TEST_TIMEOUT = 25_000;
const FETCH_DEADLINE_MS = 1000;
const HANDSHAKE_MS = 2000;
const NUMBER = '4930111222';

type Mode = 'trickle' | 'serve';

let dir: string;
let pki: LabPki;
let mode: Mode = 'serve';
let hits: string[] = [];
let crlServer: http.Server;
const trickles = new Set<NodeJS.Timeout>();

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sips-edge-tlssdp-crl-'));
  crlServer = http.createServer((req, res) => {
    hits.push(req.url ?? '');
    if (mode === 'serve') {
      res.writeHead(200, { 'content-type': 'application/pkix-crl' }).end(readFileSync(pki.crls.ev.der));
      return;
    }
    res.writeHead(200, { 'content-type': 'application/pkix-crl', 'content-length': '100000' });
    const t = setInterval(() => res.write('0'), 100);
    trickles.add(t);
    res.on('close', () => { clearInterval(t); trickles.delete(t); });
  });
  await new Promise<void>((r) => crlServer.listen(0, '127.0.0.1', r));
  const port = (crlServer.address() as AddressInfo).port;
  pki = generateLabPki({ outDir: join(dir, 'pki'), regions: [IT_REGION.code], crlBaseUrl: `http://127.0.0.1:${port}` });
});

after(async () => {
  for (const t of trickles) clearInterval(t);
  crlServer.closeAllConnections();
  await new Promise<void>((r) => crlServer.close(() => r()));
  rmSync(dir, { recursive: true, force: true });
});

function edgeYaml(revocation: 'soft' | 'hard', ports: readonly { name: string; port: number }[], pbxPort: number): string {
  const f = labFiles(pki);
  const q = (s: string): string => JSON.stringify(s);
  return `edge:
  name: ${f.edgeName}
  drainTimeoutSeconds: 0
listen:
  - { side: outside, transport: tls, address: 127.0.0.1, port: 0 }
  - { side: inside, transport: udp, address: 127.0.0.1, port: 0 }
tls:
  handshakeTimeoutMs: ${HANDSHAKE_MS}
  revocation: ${revocation}
  crlFetchTimeoutMs: ${FETCH_DEADLINE_MS}
  identities:
    - { cert: ${q(f.edgeChain)}, key: ${q(f.edgeKey)} }
timers: { timerC: 60000 }
dns:
  overrides:
${LB_HOSTS.map((h) => `    ${h}: [127.0.0.1]`).join('\n')}
trunks:
  - name: spread
    region: euc1
    mode: dnis
    strategy: round-robin
    hosts:
${ports.map((h) => `      - { host: ${h.name}, port: ${h.port} }`).join('\n')}
    trust: { files: [${f.roots.map(q).join(', ')}] }
    health: { enabled: false }
peers:
  - { name: pbx, host: 127.0.0.1, port: ${pbxPort}, transport: udp, sources: [127.0.0.1/32] }
routing:
  defaultTrunk: spread
  defaultPeer: pbx
  vendorSources: [127.0.0.1/32]
srtp: { policy: strict }
admin: { enabled: true, address: 127.0.0.1, port: 0 }
logging: { level: info }
`;
}

interface Run {
  readonly edge: EdgeProcess;
  readonly pbx: PbxSimulator;
  readonly hosts: LabHosts;
}

async function start(revocation: 'soft' | 'hard', m: Mode): Promise<Run> {
  mode = m;
  hits = [];
  const hosts = await LabHosts.start({ pki, policy: resolveTlsPolicy({ handshakeTimeoutMs: HANDSHAKE_MS }) });
  const pbx = await PbxSimulator.start('127.0.0.1', 0, 500);
  const file = join(dir, `edge-${revocation}-${m}.yaml`);
  writeFileSync(file, edgeYaml(revocation, hosts.ports, pbx.port));
  const edge = await EdgeProcess.startFile(file);
  return { edge, pbx, hosts };
}

async function stop(r: Run): Promise<void> {
  await r.edge.stop();
  await r.pbx.stop();
  await r.hosts.stop();
}

async function scrape(edge: EdgeProcess): Promise<string> {
  const admin = edge.logs.find((l) => l.event === 'listening')?.['admin'] as { address: string; port: number };
  const res = await fetch(`http://${admin.address}:${admin.port}/metrics`);
  return res.text();
}

function sample(text: string, name: string, labels: string): number | null {
  const line = text.split('\n').find((l) => l.startsWith(`${name}{${labels}}`));
  return line === undefined ? null : Number(line.split(' ').at(-1));
}

/** Four calls at once: the round-robin trunk without health offers each to another lb host. */
async function fourCalls(r: Run): Promise<number[]> {
  const inside = r.edge.listeners.find((l) => l.side === 'inside' && l.transport === 'udp')!;
  const results = await Promise.all([0, 1, 2, 3].map(() => r.pbx.call({ address: inside.address, port: inside.port }, NUMBER, true)));
  return results.map((c) => c.final?.status ?? 0);
}

const crlLog = (kind: string) => (l: LogLine): boolean => l.event === `crl-${kind}`;

describe('CRL distribution point fetches (issue 11 item 3)', { timeout: TEST_TIMEOUT * 3 }, () => {
  it('soft: a trickling distribution point ends at the total deadline; the calls complete; one fetch, logged and counted', { timeout: TEST_TIMEOUT }, async () => {
    const r = await start('soft', 'trickle');
    try {
      const statuses = await fourCalls(r);
      assert.deepEqual(statuses, [200, 200, 200, 200], 'every call completes (soft allows without a CRL)');
      const hostsUsed = Object.values(r.hosts.counts()).filter((n) => n > 0).length;
      assert.equal(hostsUsed, 4, 'the calls used four lb hosts (four handshakes)');
      assert.equal(hits.length, 1, `one request at the distribution point for four handshakes: ${JSON.stringify(hits)}`);
      const failed = await r.edge.line('crl-fetch-failed line', crlLog('fetch-failed'));
      assert.match(String(failed['detail']), /total deadline/);
      assert.ok(r.edge.logs.some((l) => l.event === 'crl-soft-allowed'), 'the soft allowance is logged');
      const m = await scrape(r.edge);
      assert.equal(sample(m, 'sips_edge_crl_fetches_total', 'result="timeout"'), 1, m);
    } finally {
      await stop(r);
    }
  });

  it('hard: a trickling distribution point fails the calls with crl-unavailable, promptly (not Timer C)', { timeout: TEST_TIMEOUT }, async () => {
    const r = await start('hard', 'trickle');
    try {
      const statuses = await fourCalls(r);
      for (const s of statuses) {
        assert.ok(s >= 300 && s !== 408, `each call is refused with a final response, not a timeout: ${statuses.join(',')}`);
      }
      const tlsFail = await r.edge.line('tls-failure line', (l) => l.event === 'tls-failure' && l['reason'] === 'crl-unavailable');
      assert.equal(tlsFail['role'], 'client');
      assert.equal(hits.length, 1, `one request at the distribution point: ${JSON.stringify(hits)}`);
      assert.equal(Object.values(r.hosts.counts()).reduce((a, b) => a + b, 0), 0, 'no INVITE reached an lb host');
      await r.edge.line('crl-fetch-failed line', crlLog('fetch-failed'));
      const m = await scrape(r.edge);
      assert.equal(sample(m, 'sips_edge_crl_fetches_total', 'result="timeout"'), 1, m);
    } finally {
      await stop(r);
    }
  });

  it('a distribution point that answers: one fetch for four concurrent handshakes, counted ok', { timeout: TEST_TIMEOUT }, async () => {
    const r = await start('hard', 'serve');
    try {
      const statuses = await fourCalls(r);
      assert.deepEqual(statuses, [200, 200, 200, 200]);
      assert.equal(hits.length, 1, `one request: ${JSON.stringify(hits)}`);
      const m = await scrape(r.edge);
      assert.equal(sample(m, 'sips_edge_crl_fetches_total', 'result="ok"'), 1, m);
      assert.ok(!r.edge.logs.some(crlLog('fetch-failed')));
    } finally {
      await stop(r);
    }
  });
});
