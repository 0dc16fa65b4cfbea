/**
 * Issue 5: routing over the four lb hosts of a region, end to end. The edge runs as its own process
 * (`sips-edge start`); the lb hosts are the lab's simulated TLS SIP servers (src/lab/vendor-region.ts,
 * one per host so a single host can be stopped, restarted or given another certificate) with lab
 * certificates for lb0N.voice.euc1.pure.cloud; the edge trusts only the lab roots, and dns.overrides
 * map the lb names to 127.0.0.1 with each host's port in the trunk's `hosts` list. SIPp on UDP is
 * the PBX; the lab's PBX simulator is the inside peer for calls from the vendor.
 *
 * Trunks of the config (one region, same four hosts):
 * - `spread`: TGRP, round-robin, health probes every second, downAfter 1, upAfter 1 (default trunk).
 * - `nohealth`: DNIS, round-robin, no health (numbers 4930...): every call is offered every host, so
 *   4 calls start once at each host and a broken host is hit deterministically (failover path).
 * - `fqdn`: FQDN mode `lab-pbx` (numbers 4940...).
 */
import { spawn } from 'node:child_process';
import { createSocket, type Socket } from 'node:dgram';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import net from 'node:net';
import tls from 'node:tls';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { PbxSimulator } from '../../../src/lab/pbx-sim.js';
import { generateLabPki, type LabPki } from '../../../src/tls/lab-pki.js';
import { resolveTlsPolicy } from '../../../src/tls/policy.js';
import { buildClientOptions } from '../../../src/tls/secure-context.js';
import { loadTrustAnchors } from '../../../src/tls/trust-store.js';
import { BIN, EdgeProcess, type LogLine } from '../../helpers/edge-process.js';
import { IT_REGION, LabHosts, LB_HOSTS, labFiles } from '../../helpers/lab-region.js';
import { freeUdpPort, runSipp, type SippResult } from '../../helpers/sipp.js';

const [LB01, LB02, LB03, LB04] = LB_HOSTS as [string, string, string, string];
const SPREAD_NUMBER = '4969123456789';
const NOHEALTH_NUMBER = '4930111222';
const FQDN_NUMBER = '4940333444';
const FQDN_HOST = 'lab-pbx.byoc.euc1.pure.cloud';
/** Each test takes a few seconds; a hang fails the test instead of the CI job. */
const TEST_TIMEOUT = 25_000;
/**
 * The handshake limit of the edge and of the simulated hosts: S-TLS-6's 500 ms is not under test
 * here, and a loaded CI machine must not turn a slow handshake into a routing failure.
 */
const HANDSHAKE_MS = 2000;

let dir: string;
let pki: LabPki;
const cleanups: (() => Promise<unknown>)[] = [];

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'sips-edge-routing-it-'));
  pki = generateLabPki({ outDir: join(dir, 'pki'), regions: [IT_REGION.code] });
});

after(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
  rmSync(dir, { recursive: true, force: true });
});

interface ConfigOptions {
  readonly ports: readonly { readonly name: string; readonly port: number }[];
  readonly pbxPort: number;
  readonly vendorSources?: readonly string[];
  readonly hostsYaml?: string;
}

function edgeYaml(o: ConfigOptions): string {
  const f = labFiles(pki);
  const q = (s: string): string => JSON.stringify(s);
  const hosts = o.hostsYaml ?? o.ports.map((h) => `      - { host: ${h.name}, port: ${h.port} }`).join('\n');
  const trust = `    trust: { files: [${f.roots.map(q).join(', ')}] }`;
  return `edge:
  name: ${f.edgeName}
  drainTimeoutSeconds: 0
listen:
  - { name: outside-tls, side: outside, transport: tls, address: 127.0.0.1, port: 0 }
  - { name: inside-udp, side: inside, transport: udp, address: 127.0.0.1, port: 0 }
tls:
  handshakeTimeoutMs: ${HANDSHAKE_MS}
  revocation: soft
  crlFiles: [${f.crls.map(q).join(', ')}]
  identities:
    - { cert: ${q(f.edgeChain)}, key: ${q(f.edgeKey)} }
timers: { timerC: 20000 }
dns:
  overrides:
${LB_HOSTS.map((h) => `    ${h}: [127.0.0.1]`).join('\n')}
trunks:
  - name: spread
    region: euc1
    mode: tgrp
    tgrp: it-tgrp
    strategy: round-robin
    hosts:
${hosts}
${trust}
    health: { intervalSeconds: 1, downAfter: 1, upAfter: 1 }
  - name: nohealth
    region: euc1
    mode: dnis
    strategy: round-robin
    hosts:
${hosts}
${trust}
    health: { enabled: false }
  - name: fqdn
    region: euc1
    mode: fqdn
    fqdn: lab-pbx
    hosts:
${hosts}
${trust}
    health: { intervalSeconds: 1, downAfter: 1, upAfter: 1 }
peers:
  - name: pbx
    host: 127.0.0.1
    port: ${o.pbxPort}
    transport: udp
    sources: [127.0.0.1/32]
routing:
  defaultTrunk: spread
  defaultPeer: pbx
  outbound:
    - { prefix: "4930", trunk: nohealth }
    - { prefix: "4940", trunk: fqdn }
  vendorSources: [${(o.vendorSources ?? ['127.0.0.1/32']).join(', ')}]
srtp: { policy: strict }
admin: { enabled: false }
logging: { level: info }
`;
}

let configCount = 0;
function writeConfig(yaml: string): string {
  const file = join(dir, `edge-${++configCount}.yaml`);
  writeFileSync(file, yaml);
  return file;
}

interface Lab {
  readonly hosts: LabHosts;
  readonly pbx: PbxSimulator;
  readonly edge: EdgeProcess;
  readonly configFile: string;
}

/** lb01..lb04 + PBX simulator + the edge process; torn down after the file (and by each test). */
async function startLab(o: { present?: Parameters<typeof LabHosts.start>[0]['present']; vendorSources?: readonly string[] } = {}): Promise<Lab> {
  const hosts = await LabHosts.start({ pki, policy: resolveTlsPolicy({ handshakeTimeoutMs: HANDSHAKE_MS }), ...(o.present ? { present: o.present } : {}) });
  cleanups.push(() => hosts.stop());
  const pbx = await PbxSimulator.start('127.0.0.1', 0, 500);
  cleanups.push(() => pbx.stop());
  const configFile = writeConfig(edgeYaml({ ports: hosts.ports, pbxPort: pbx.port, ...(o.vendorSources ? { vendorSources: o.vendorSources } : {}) }));
  const edge = await EdgeProcess.startFile(configFile);
  cleanups.push(() => stopEdge(edge));
  return { hosts, pbx, edge, configFile };
}

/** SIGINT, and SIGKILL (this PID only) should the edge not exit within a bound. */
async function stopEdge(edge: EdgeProcess): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const bound = new Promise<'late'>((r) => { timer = setTimeout(() => r('late'), 10_000); });
  const r = await Promise.race([edge.stop(), bound]);
  clearTimeout(timer);
  if (r === 'late') {
    edge.proc.kill('SIGKILL');
    await edge.exited;
  }
}

async function stopLab(lab: Lab): Promise<void> {
  await stopEdge(lab.edge);
  await lab.pbx.stop();
  await lab.hosts.stop();
}

function sippOk(r: SippResult, who: string): void {
  assert.equal(r.code, 0, `${who} failed (exit ${r.code}):\n${r.stdout.slice(-1500)}\n${r.traces.slice(-6000)}`);
}

/** `calls` SIPp calls from 127.0.0.1 (the PBX) to `number`, all expected to complete (200, ACK, BYE 200). */
async function placeCalls(edge: EdgeProcess, number: string, calls: number): Promise<void> {
  const uac = runSipp({ scenario: 'uac-call-caller-bye.xml', port: await freeUdpPort(), remote: `127.0.0.1:${edge.port('inside', 'udp')}`, service: number, calls, rate: calls, timeoutSeconds: 15 });
  sippOk(await uac.done, `SIPp UAC ${calls} x ${number}`);
}

/** Resolves once at least `n` log lines match (the edge's stdout may trail SIPp's exit). */
function waitForCount(edge: EdgeProcess, pred: (l: LogLine) => boolean, n: number): Promise<LogLine[]> {
  const enough = (): boolean => edge.logs.filter(pred).length >= n;
  return edge.waitFor((l) => pred(l) && enough()).then(() => edge.logs.filter(pred));
}

const inviteOn = (trunk: string) => (l: LogLine): boolean => l.event === 'transaction' && l['method'] === 'INVITE' && l['route'] === trunk;
const upstream = (kind: 'up' | 'down', trunk: string, host: string) => (l: LogLine): boolean =>
  l.event === `upstream-${kind}` && l['trunk'] === trunk && l['host'] === host;

function tally(values: readonly unknown[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const v of values) out[String(v)] = (out[String(v)] ?? 0) + 1;
  return out;
}

function runCli(args: readonly string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    p.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    const guard = setTimeout(() => p.kill('SIGKILL'), 20_000);
    p.once('error', reject);
    // 'close' (stdio drained), not 'exit': the last lines may still be in the pipe at 'exit'.
    p.once('close', (code) => {
      clearTimeout(guard);
      resolve({ code, stdout, stderr });
    });
  });
}

/** A bare OPTIONS as a message text (CRLF), for the hand-made clients of the access tests. */
function optionsText(o: { requestUri: string; transport: 'UDP' | 'TLS'; local: string; localPort: number; tag: string }): string {
  return [
    `OPTIONS ${o.requestUri} SIP/2.0`,
    `Via: SIP/2.0/${o.transport} ${o.local}:${o.localPort};branch=z9hG4bK-it-${o.tag};rport`,
    'Max-Forwards: 70',
    `From: <sip:it@${o.local}>;tag=${o.tag}`,
    `To: <${o.requestUri}>`,
    `Call-ID: it-${o.tag}@${o.local}`,
    'CSeq: 1 OPTIONS',
    'Content-Length: 0',
    '',
    '',
  ].join('\r\n');
}

/**
 * A TLS client bound to `localAddress` (a loopback alias) sends an OPTIONS to the edge's outside
 * listener; resolves with the response's status line and headers.
 */
async function tlsOptionsFrom(localAddress: string, edge: EdgeProcess, tag: string): Promise<string> {
  const f = labFiles(pki);
  const port = edge.port('outside', 'tls');
  const opts = buildClientOptions({ host: f.edgeName, port, trust: loadTrustAnchors({ files: [...f.roots] }), policy: resolveTlsPolicy({}) });
  // The TCP socket is made here so it can be bound to the loopback alias (tls.connect's typings lack localAddress).
  const tcp = net.connect({ host: '127.0.0.1', port, localAddress });
  const socket = tls.connect({ ...opts, socket: tcp });
  try {
    return await new Promise<string>((resolve, reject) => {
      let buf = '';
      socket.once('error', reject);
      socket.once('close', () => reject(new Error(`connection from ${localAddress} closed before a response: ${JSON.stringify(buf)}`)));
      socket.once('secureConnect', () => {
        socket.write(optionsText({ requestUri: `sip:${f.edgeName}:${port};transport=tls`, transport: 'TLS', local: localAddress, localPort: socket.localPort ?? 5061, tag }));
      });
      socket.on('data', (d: Buffer) => {
        buf += d.toString('latin1');
        const end = buf.indexOf('\r\n\r\n');
        if (end >= 0) resolve(buf.slice(0, end));
      });
    });
  } finally {
    socket.destroy();
    tcp.destroy();
  }
}

async function udpSocket(address: string): Promise<Socket> {
  const s = createSocket('udp4');
  await new Promise<void>((resolve, reject) => {
    s.once('error', reject);
    s.bind(0, address, () => {
      s.off('error', reject);
      resolve();
    });
  });
  return s;
}

describe('routing over four simulated lb hosts (edge as a process, SIPp as the PBX)', { timeout: 60_000 }, () => {
  it('round-robin spreads 8 calls over all four lb hosts, two each', { timeout: TEST_TIMEOUT }, async () => {
    const lab = await startLab();
    try {
      await placeCalls(lab.edge, SPREAD_NUMBER, 8);
      const invites = await waitForCount(lab.edge, inviteOn('spread'), 8);
      assert.deepEqual(invites.map((l) => l['status']), Array<number>(8).fill(200));
      // The edge's view (transaction target) and the lb hosts' own counters agree: 2 per host.
      const expected = Object.fromEntries(LB_HOSTS.map((h) => [h, 2]));
      assert.deepEqual(tally(invites.map((l) => l['target'])), expected);
      assert.deepEqual(lab.hosts.counts(), expected);
      for (const h of LB_HOSTS) {
        for (const inv of lab.hosts.invites(h)) {
          assert.equal(inv.status, 200);
          assert.equal(inv.mode, 'TGRP');
          assert.equal(inv.servername, h, 'SNI = the lb host name');
          assert.equal(inv.protocol, 'TLSv1.2');
          assert.match(inv.requestUri, new RegExp(`^sip:\\+${SPREAD_NUMBER};tgrp=it-tgrp;trunk-context=byoc\\.euc1\\.pure\\.cloud@${h.replace(/\./g, '\\.')}:${lab.hosts.port(h)};transport=tls$`));
        }
      }
    } finally {
      await stopLab(lab);
    }
  });

  it('lb02 down: calls fail over within the transaction, the probe marks it down; restarted, it is up and used again', { timeout: TEST_TIMEOUT }, async () => {
    const lab = await startLab();
    try {
      await lab.hosts.stopHost(LB02);
      const down = await lab.edge.waitFor(upstream('down', 'spread', LB02));
      assert.equal(down['up'], false);
      assert.equal(typeof down['reason'], 'string');

      // `nohealth` offers every host to every call: of 4 calls exactly one starts at lb02, whose
      // connection is refused, and goes on to lb03 in the same INVITE transaction.
      await placeCalls(lab.edge, NOHEALTH_NUMBER, 4);
      const nh = await waitForCount(lab.edge, inviteOn('nohealth'), 4);
      assert.deepEqual(nh.map((l) => l['status']), [200, 200, 200, 200]);
      assert.deepEqual(tally(nh.map((l) => l['target'])), { [LB01]: 1, [LB03]: 2, [LB04]: 1 });
      const failed = lab.edge.events('target-failed').filter((l) => l['trunk'] === 'nohealth');
      assert.deepEqual(failed.map((l) => l['target']), [LB02], JSON.stringify(failed));

      // `spread` knows lb02 is down: its calls go to the other three only.
      await placeCalls(lab.edge, SPREAD_NUMBER, 3);
      const sp = await waitForCount(lab.edge, inviteOn('spread'), 3);
      assert.deepEqual(sp.map((l) => l['status']), [200, 200, 200]);
      assert.deepEqual(tally(sp.map((l) => l['target'])), { [LB01]: 1, [LB03]: 1, [LB04]: 1 });
      assert.equal(lab.edge.events('target-failed').filter((l) => l['trunk'] === 'spread').length, 0);
      assert.equal(lab.hosts.invites(LB02).length, 0);

      await lab.hosts.restartHost(LB02);
      const up = await lab.edge.waitFor(upstream('up', 'spread', LB02));
      assert.ok(lab.edge.logs.indexOf(up) > lab.edge.logs.indexOf(down));

      await placeCalls(lab.edge, SPREAD_NUMBER, 4);
      const again = (await waitForCount(lab.edge, inviteOn('spread'), 7)).slice(3);
      assert.deepEqual(again.map((l) => l['status']), [200, 200, 200, 200]);
      assert.deepEqual(tally(again.map((l) => l['target'])), Object.fromEntries(LB_HOSTS.map((h) => [h, 1])));
      assert.equal(lab.hosts.invites(LB02).length, 1);
      assert.equal(lab.hosts.invites(LB02)[0]?.status, 200);
    } finally {
      await stopLab(lab);
    }
  });

  it('lb03 with a wrong-name certificate is never used: name-mismatch, calls complete elsewhere', { timeout: TEST_TIMEOUT }, async () => {
    const wrong = pki.negative['wrong-name'];
    const lab = await startLab({ present: { [LB03]: { chain: wrong.chain, key: wrong.key } } });
    try {
      const failure = await lab.edge.waitFor((l) => l.event === 'tls-failure' && l['servername'] === LB03);
      assert.equal(failure['role'], 'client');
      assert.equal(failure['reason'], 'name-mismatch');
      const down = await lab.edge.waitFor(upstream('down', 'spread', LB03));
      assert.match(String(down['reason']), /name-mismatch/);

      // Offered lb03 first once (no health on this trunk): the handshake fails, lb04 takes the call.
      await placeCalls(lab.edge, NOHEALTH_NUMBER, 4);
      const nh = await waitForCount(lab.edge, inviteOn('nohealth'), 4);
      assert.deepEqual(nh.map((l) => l['status']), [200, 200, 200, 200]);
      assert.deepEqual(tally(nh.map((l) => l['target'])), { [LB01]: 1, [LB02]: 1, [LB04]: 2 });
      const failed = lab.edge.events('target-failed').filter((l) => l['trunk'] === 'nohealth');
      assert.deepEqual(failed.map((l) => l['target']), [LB03]);
      assert.match(String(failed[0]?.['reason']), /name-mismatch/);

      await placeCalls(lab.edge, SPREAD_NUMBER, 3);
      const sp = await waitForCount(lab.edge, inviteOn('spread'), 3);
      assert.deepEqual(sp.map((l) => l['status']), [200, 200, 200]);
      assert.deepEqual(tally(sp.map((l) => l['target'])), { [LB01]: 1, [LB02]: 1, [LB04]: 1 });

      assert.equal(lab.hosts.invites(LB03).length, 0, 'lb03 saw no INVITE');
      assert.ok(lab.edge.events('tls-failure').every((l) => l['servername'] === LB03 && l['reason'] === 'name-mismatch'), JSON.stringify(lab.edge.events('tls-failure')));
      assert.equal(lab.edge.events('upstream-up').length, 0, 'lb03 never came up');
    } finally {
      await stopLab(lab);
    }
  });

  it('FQDN mode: R-URI host is <fqdn>.<byoc domain>, but SNI and validation are the lb name', { timeout: TEST_TIMEOUT }, async () => {
    const lab = await startLab();
    try {
      await placeCalls(lab.edge, FQDN_NUMBER, 1);
      const [inv] = await waitForCount(lab.edge, inviteOn('fqdn'), 1);
      assert.equal(inv?.['status'], 200);
      const lb = String(inv?.['target']);
      assert.ok(LB_HOSTS.includes(lb), lb);
      const seen = lab.hosts.invites(lb);
      assert.equal(seen.length, 1);
      const s = seen[0]!;
      assert.equal(s.status, 200);
      assert.equal(s.mode, 'FQDN');
      assert.equal(s.servername, lb, 'SNI = the lb host connected to, not the FQDN');
      assert.match(s.requestUri, new RegExp(`^sip:\\+${FQDN_NUMBER}@${FQDN_HOST.replace(/\./g, '\\.')}:\\d+;transport=tls$`));
      // The handshake the edge verified was against the lb name (no tls-failure at all).
      assert.equal(lab.edge.events('tls-failure').length, 0);
      // S-URI-5: the note that FQDN-name validation is not expected to succeed, once for the trunk.
      assert.equal(lab.edge.logs.filter((l) => l['trunk'] === 'fqdn' && /fqdn/i.test(l.msg) && l.level === 40).length, 1);
    } finally {
      await stopLab(lab);
    }
  });

  it('an IP address as trunk host is refused at load: exit 2, S-VAL-3 message with the key path', { timeout: TEST_TIMEOUT }, async () => {
    const file = writeConfig(edgeYaml({ ports: [], pbxPort: 5060, hostsYaml: '      - { host: 127.0.0.1, port: 15061 }' }));
    const r = await runCli(['start', '--config', file]);
    assert.equal(r.code, 2, `stdout:\n${r.stdout}\nstderr:\n${r.stderr}`);
    assert.match(r.stderr, /trunks\[0\]\.hosts\[0\]\.host/);
    assert.match(r.stderr, /"127\.0\.0\.1"/);
    assert.match(r.stderr, /S-VAL-3/);
    assert.match(r.stderr, /IP address cannot be validated/);
    assert.doesNotMatch(r.stdout, /"event":"listening"/);
  });

  it('outside: a stranger (127.0.0.9) is refused at accept, before TLS; vendorSources (127.0.0.10) and the lb hosts\' address (127.0.0.1) are admitted', { timeout: TEST_TIMEOUT }, async () => {
    // vendorSources holds only 127.0.0.10: 127.0.0.1 is admitted because the lb names resolve to it.
    const lab = await startLab({ vendorSources: ['127.0.0.10/32'] });
    try {
      // Issue 11 #6: the source is checked at accept on the outside listener (the SIP-level 403
      // remains for strangers admitted by limits.unknownSourceConnectionsPerListener).
      await assert.rejects(tlsOptionsFrom('127.0.0.9', lab.edge, 'stranger'));
      const log = await lab.edge.waitFor((l) => l.event === 'connection-rejected' && l['reason'] === 'unknown-source');
      assert.equal(log['side'], 'outside');
      assert.match(String(log['remote']), /^127\.0\.0\.9:/);

      assert.match(await tlsOptionsFrom('127.0.0.10', lab.edge, 'vendor-source'), /^SIP\/2\.0 200 /);

      // lb01 calls in from 127.0.0.1: the INVITE reaches the inside peer and the call completes.
      const edgeName = labFiles(pki).edgeName;
      const call = await lab.hosts.region(LB01).callEdge({ via: LB01, edge: { name: edgeName, address: '127.0.0.1', port: lab.edge.port('outside', 'tls') }, number: '+4930555000', caller: '+13175550100', srtp: true });
      assert.ok(call.tls.ok, JSON.stringify(call.tls));
      assert.equal(call.result?.final?.status, 200, call.result?.error ?? '');
      assert.equal(call.result?.byeStatus, 200);
      assert.equal(lab.pbx.received.get(call.callId ?? '')?.status, 200, 'the PBX got the INVITE');
      assert.equal(lab.edge.events('local-reply').filter((l) => l['code'] === 'SIPS_ERR_ROUTE_FORBIDDEN').length, 0);
    } finally {
      await stopLab(lab);
    }
  });

  it('inside: UDP from an unlisted source (127.0.0.9) is dropped silently; the listed 127.0.0.1 is served', { timeout: TEST_TIMEOUT }, async () => {
    const lab = await startLab();
    const port = lab.edge.port('inside', 'udp');
    const stranger = await udpSocket('127.0.0.9');
    const pbx = await udpSocket('127.0.0.1');
    try {
      const strangerGot: string[] = [];
      stranger.on('message', (m) => strangerGot.push(m.toString('latin1')));
      stranger.send(optionsText({ requestUri: `sip:127.0.0.1:${port}`, transport: 'UDP', local: '127.0.0.9', localPort: stranger.address().port, tag: 'stranger' }), port, '127.0.0.1');
      const dropped = await lab.edge.waitFor((l) => l.event === 'local-reply' && l['code'] === 'SIPS_ERR_ROUTE_FORBIDDEN');
      assert.equal(dropped['status'], 0);
      assert.equal(dropped['detail'], 'dropped');
      assert.match(String(dropped['peer']), /^127\.0\.0\.9:/);

      // The listed source is answered; by the time its 200 is here, a reply to the stranger would be too.
      const answer = new Promise<string>((resolve) => pbx.once('message', (m) => resolve(m.toString('latin1'))));
      pbx.send(optionsText({ requestUri: `sip:127.0.0.1:${port}`, transport: 'UDP', local: '127.0.0.1', localPort: pbx.address().port, tag: 'pbx' }), port, '127.0.0.1');
      assert.match(await answer, /^SIP\/2\.0 200 /);
      await new Promise<void>((r) => setImmediate(r));
      assert.deepEqual(strangerGot, []);
      assert.equal(lab.edge.events('local-reply').length, 1);
    } finally {
      stranger.close();
      pbx.close();
      await stopLab(lab);
    }
  });

  it('route --explain prints the four targets, each with the name its certificate is checked against', { timeout: TEST_TIMEOUT }, async () => {
    const ports = LB_HOSTS.map((name, i) => ({ name, port: 15061 + i }));
    const file = writeConfig(edgeYaml({ ports, pbxPort: 5060 }));
    const r = await runCli(['route', '--explain', `sip:${SPREAD_NUMBER}@127.0.0.1`, '--from', 'pbx', '--config', file, '--offline']);
    assert.equal(r.code, 0, `stdout:\n${r.stdout}\nstderr:\n${r.stderr}`);
    assert.match(r.stdout, /route\s+trunk spread by routing\.defaultTrunk/);
    const targets = [...r.stdout.matchAll(/^ {2}\d+\. (\S+) {2}(\S+) {2}tls\n {5}R-URI {5}(\S+)\n {5}identity {2}(.+)$/gm)].map((m) => ({ label: m[1], address: m[2], ruri: m[3], identity: m[4] }));
    assert.equal(targets.length, 4, r.stdout);
    assert.deepEqual(targets.map((t) => t.label).sort(), [...LB_HOSTS]);
    for (const t of targets) {
      const p = ports.find((x) => x.name === t.label)!;
      assert.equal(t.address, `127.0.0.1:${p.port}`);
      assert.equal(t.identity, t.label, 'validated against its own lb name');
      assert.equal(t.ruri, `sip:+${SPREAD_NUMBER};tgrp=it-tgrp;trunk-context=byoc.euc1.pure.cloud@${t.label}:${p.port};transport=tls`);
    }

    // FQDN trunk: every R-URI names the FQDN, every identity is still the lb name.
    const f = await runCli(['route', '--explain', `sip:${FQDN_NUMBER}@127.0.0.1`, '--from', 'pbx', '--config', file, '--offline']);
    assert.equal(f.code, 0, f.stderr);
    const ft = [...f.stdout.matchAll(/^ {2}\d+\. (\S+) .*\n {5}R-URI {5}(\S+)\n {5}identity {2}(.+)$/gm)];
    assert.equal(ft.length, 4, f.stdout);
    for (const m of ft) {
      assert.match(m[2]!, new RegExp(`@${FQDN_HOST.replace(/\./g, '\\.')}:\\d+;transport=tls$`));
      assert.equal(m[3], m[1]);
    }
  });
});
