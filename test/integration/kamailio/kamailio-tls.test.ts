import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { generateLabPki, type LabPki } from '../../../src/tls/lab-pki.js';
import { EdgeProcess, type LogLine } from '../../helpers/edge-process.js';
import { freeTcpPort, KamailioProcess, POLICY_CIPHERS_OPENSSL, type KamEvent } from '../../helpers/kamailio.js';
import { freeUdpPort, runSipp, type SippResult, udpBound } from '../../helpers/sipp.js';

/**
 * Issues 3 and 4: the edge against a real TLS peer. Kamailio 5.6 plays the vendor proxy
 * lb01.voice.euc1.pure.cloud (lab certificate, leaf + intermediate, TLS 1.2 only, the policy
 * ciphers, ECDHE on secp384r1 only) in front of SIPp far ends; SIPp plays the PBX inside.
 *
 *   PBX (SIPp, udp) -> edge inside udp -> edge TLS client -> Kamailio tls (lb01) -> far end (SIPp, udp)
 *   vendor caller (SIPp, udp) -> Kamailio -> TLS client -> edge outside tls -> PBX (SIPp, udp)
 *
 * Every test starts its own edge and Kamailio, with a lab PKI made once for this file.
 */
const EDGE_NAME = 'edge.lab.sips-edge.test';
/** Hard bound per test: process starts (~1 s each) plus SIPp's own -timeout of 20 s, with room. */
const TEST_TIMEOUT_MS = 90_000;
const LB01 = 'lb01.voice.euc1.pure.cloud';

let pkiDir = '';
let pki: LabPki;
const running = new Set<Rig>();

before(() => {
  pkiDir = mkdtempSync(join(tmpdir(), 'sips-edge-kamailio-pki-'));
  pki = generateLabPki({ outDir: pkiDir, edgeName: EDGE_NAME, regions: ['euc1'] });
});

after(async () => {
  for (const r of running) await r.stop();
  if (pkiDir) rmSync(pkiDir, { recursive: true, force: true });
});

interface Ports {
  /** Kamailio's TLS port (the vendor's "5061"), dialled by the edge as lb01:<port>. */
  readonly kamTls: number;
  readonly kamUdp: number;
  /** SIPp far end behind Kamailio (outbound calls). */
  readonly far: number;
  /** SIPp PBX behind the edge (inbound calls). */
  readonly pbx: number;
  /** SIPp caller. */
  readonly caller: number;
}

interface Rig {
  readonly edge: EdgeProcess;
  readonly kam: KamailioProcess;
  readonly ports: Ports;
  readonly edgeTls: number;
  readonly edgeInside: number;
  stop(): Promise<void>;
}

/** The edge: PBX on inside UDP, the trunk to lb01 over TLS (trust = the lab root), its own 5061-style listener outside. */
function edgeConfig(p: Ports): string {
  const q = (s: string) => JSON.stringify(s);
  return `edge:
  name: ${EDGE_NAME}
listen:
  - { side: inside, transport: udp, address: 127.0.0.1, port: 0 }
  - { side: outside, transport: tls, address: 127.0.0.1, port: 0 }
tls:
  # S-TLS-6's 500 ms has its own tests (test/integration/tls/); on a loaded 2-core box a real peer's
  # handshake must not make these calls flaky.
  handshakeTimeoutMs: 3000
  identities:
    - { cert: ${q(pki.edge.chain)}, key: ${q(pki.edge.key)} }
  crlFiles: [${q(pki.crls.ev.pem)}, ${q(pki.crls.g2.pem)}]
timers: { T1: 100, T2: 1000, T4: 1000, timerC: 181000 }
trunks:
  - name: vendor
    hosts:
      - { host: ${LB01}, port: ${p.kamTls} }
    transport: tls
    mode: tgrp
    tgrp: lab-trunk
    trunkContext: byoc.euc1.pure.cloud
    failover: 0
    trust: { files: [${q(pki.roots.ev)}] }
    health: { enabled: false }
peers:
  - name: pbx
    host: 127.0.0.1
    port: ${p.pbx}
    sources: [127.0.0.1/32]
    trunk: vendor
routing:
  defaultTrunk: vendor
  defaultPeer: pbx
  vendorSources: [127.0.0.1/32]
dns:
  overrides:
    ${LB01}: [127.0.0.1]
srtp:
  policy: strict
admin:
  enabled: false
logging:
  level: debug
`;
}

/** Starts the edge, then Kamailio presenting `vendorCert` (a chain file of the lab PKI). */
async function startRig(vendorCert: { chain: string; key: string }): Promise<Rig> {
  const ports: Ports = {
    kamTls: await freeTcpPort(),
    kamUdp: await freeUdpPort(),
    far: await freeUdpPort(),
    pbx: await freeUdpPort(),
    caller: await freeUdpPort(),
  };
  const edge = await EdgeProcess.start(edgeConfig(ports));
  let kam: KamailioProcess;
  try {
    kam = await KamailioProcess.start({
      udpPort: ports.kamUdp,
      tlsPort: ports.kamTls,
      cert: vendorCert.chain,
      key: vendorCert.key,
      ca: pki.roots.ev,
      edgeName: EDGE_NAME,
      edgePort: edge.port('outside', 'tls'),
      farPort: ports.far,
    });
  } catch (e) {
    await edge.stop();
    throw e;
  }
  const rig: Rig = {
    edge,
    kam,
    ports,
    edgeTls: edge.port('outside', 'tls'),
    edgeInside: edge.port('inside', 'udp'),
    async stop() {
      running.delete(rig);
      await kam.stop();
      await edge.stop();
    },
  };
  running.add(rig);
  return rig;
}

/** Runs `body`; a failure carries the tails of Kamailio's and the edge's logs. */
async function withRig(vendorCert: { chain: string; key: string }, body: (rig: Rig) => Promise<void>): Promise<void> {
  const rig = await startRig(vendorCert);
  try {
    await body(rig);
  } catch (e) {
    if (e instanceof Error) {
      const edgeTail = rig.edge.logs.slice(-25).map((l) => JSON.stringify(l)).join('\n');
      const extra = `\n--- kamailio log tail (${rig.kam.logFile}):\n${rig.kam.tail(50)}\n--- edge log tail:\n${edgeTail}\n${rig.edge.stderr.slice(-2000)}`;
      e.message += extra;
      // The runner prints the stack, which was fixed when the error was made.
      if (e.stack !== undefined) e.stack += extra;
    }
    throw e;
  } finally {
    await rig.stop();
  }
}

function lb01(): { chain: string; key: string } {
  const v = pki.vendor[LB01];
  assert.ok(v, 'the lab PKI has lb01.voice.euc1.pure.cloud');
  return v;
}

function ok(r: SippResult, who: string): void {
  assert.equal(r.code, 0, `${who} failed (exit ${r.code}):\n${r.stdout.slice(-1500)}\n${r.traces.slice(-6000)}`);
}

/** SIPp scenarios live in test/fixtures/sipp (shared) and test/fixtures/kamailio (these tests). */
const own = (f: string) => `../kamailio/${f}`;

async function call(o: { uac: string; uacTo: number; uacPort: number; uas?: { scenario: string; port: number } }): Promise<SippResult> {
  const uas = o.uas && runSipp({ scenario: o.uas.scenario, port: o.uas.port, timeoutSeconds: 20 });
  if (o.uas) await udpBound(o.uas.port); // the UAS listens before the first INVITE can reach it
  const uac = runSipp({ scenario: o.uac, port: o.uacPort, remote: `127.0.0.1:${o.uacTo}`, timeoutSeconds: 20 });
  const [c, s] = await Promise.all([uac.done, uas?.done]);
  ok(c, `UAC ${o.uac}`);
  if (s) ok(s, `UAS ${o.uas!.scenario}`);
  return c;
}

const transactions = (edge: EdgeProcess) => edge.events('transaction');
const tlsUp = (edge: EdgeProcess, role: 'client' | 'server') => edge.events('tls-established').filter((l) => l['role'] === role);
const field = (e: KamEvent | undefined, k: string) => e?.fields[k];

/**
 * The edge's log line matching pred. SIPp can exit before the edge's line about the same message
 * has been read from its stdout, so wait for it (bounded). Lines arrive in the order the edge wrote
 * them: once a line is here, every earlier one is too (the negative checks rely on that).
 */
/** Kamailio's KAMTEST line of `kind` for `method` (and status), waited for (bounded). */
function kamLine(kam: KamailioProcess, kind: string, method: string, status?: string): Promise<KamEvent> {
  return kam.waitFor((e) => e.kind === kind && field(e, 'method') === method && (status === undefined || field(e, 'status') === status), 5000);
}

/** The edge's own account of its TLS handshakes: TLS 1.2, a policy cipher, the SNI name. */
function assertEdgeHandshake(lines: readonly LogLine[], role: 'client' | 'server', servername: string): void {
  assert.ok(lines.length > 0, `the edge logged a TLS ${role} handshake`);
  for (const l of lines) {
    assert.equal(l['protocol'], 'TLSv1.2');
    assert.ok((POLICY_CIPHERS_OPENSSL as readonly string[]).includes(String(l['cipher'])), `policy cipher: ${String(l['cipher'])}`);
    assert.equal(l['servername'], servername);
  }
}

/** What Kamailio saw of the edge as a TLS client: TLS 1.2, a policy cipher, SNI = the name dialled. */
function assertEdgeClientHello(e: KamEvent | undefined, method: string): void {
  assert.ok(e, `Kamailio logged the ${method} it received over TLS`);
  assert.equal(field(e, 'version'), 'TLSv1.2', 'S-TLS-1: TLS 1.2');
  const cipher = field(e, 'cipher') ?? '';
  assert.ok((POLICY_CIPHERS_OPENSSL as readonly string[]).includes(cipher), `S-TLS-3: ${cipher} is a policy cipher`);
  // Kamailio allows only P-384 for ECDHE (OPENSSL_CONF): an ECDHE suite here means the edge offered secp384r1 (S-TLS-5).
  assert.match(cipher, /^ECDHE-RSA-/, 'forward-secret ECDHE preferred');
  assert.equal(field(e, 'sni'), LB01, 'SNI = the trunk host name (RFC 5922 §7.1)');
}

/** What Kamailio saw of the edge as a TLS server (its client profile verifies the chain against the lab root). */
function assertEdgeServerCert(e: KamEvent | undefined, what: string): void {
  assert.ok(e, `Kamailio logged ${what} over TLS`);
  assert.equal(field(e, 'version'), 'TLSv1.2', 'S-TLS-1');
  assert.ok((POLICY_CIPHERS_OPENSSL as readonly string[]).includes(field(e, 'cipher') ?? ''), `S-TLS-3: ${field(e, 'cipher')}`);
  assert.equal(field(e, 'peer_cn'), EDGE_NAME, 'the edge presented its own certificate');
  assert.equal(field(e, 'issuer_cn'), 'Lab EV Intermediate');
  // Kamailio's ca_list holds the lab root only: the chain verified, so the edge sent the intermediate (S-TRUST-5).
  assert.equal(field(e, 'verified'), '1', 'Kamailio verified the chain');
}

/** A TLS 1.2 ECDHE-only handshake with Kamailio on the given curve. */
function ecdheHandshake(port: number, curve: string): Promise<string> {
  return new Promise((resolve) => {
    const s = tls.connect({
      host: '127.0.0.1', port, servername: LB01, rejectUnauthorized: false,
      minVersion: 'TLSv1.2', maxVersion: 'TLSv1.2', ciphers: 'ECDHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-AES128-GCM-SHA256', ecdhCurve: curve,
    });
    s.once('secureConnect', () => { resolve(`ok ${s.getCipher().name}`); s.destroy(); });
    s.once('error', (e) => { resolve(`failed ${(e as NodeJS.ErrnoException).code ?? e.message}`); s.destroy(); });
  });
}

// --- 1. the edge as TLS client -> Kamailio as the vendor's lb01 -----------------------------------

test('outbound call over TLS to Kamailio (lb01 certificate), the caller hangs up: BYE along the Record-Route set', { timeout: TEST_TIMEOUT_MS }, async () => {
  await withRig(lb01(), async ({ edge, kam, ports, edgeInside }) => {
    // Precondition: this Kamailio really refuses ECDHE on any curve but P-384, so the call below proves S-TLS-5.
    assert.match(await ecdheHandshake(ports.kamTls, 'X25519'), /^failed/);
    assert.match(await ecdheHandshake(ports.kamTls, 'secp384r1'), /^ok ECDHE-RSA-/);

    await call({ uac: 'uac-call-caller-bye.xml', uacTo: edgeInside, uacPort: ports.caller, uas: { scenario: 'uas-answer-expect-bye.xml', port: ports.far } });

    const done = await edge.transactionsAfter('BYE');
    assert.deepEqual(done.map((l) => [l['method'], l['status'], l['direction'], l['target']]), [
      ['INVITE', 200, 'outbound', LB01],
      ['BYE', 200, 'outbound', LB01],
    ]);
    const inviteIn = await kamLine(kam, 'tls-in', 'INVITE');
    assertEdgeClientHello(inviteIn, 'INVITE');
    // TGRP mode (S-URI-3): the Request-URI the vendor gets names its own host, with tgrp and trunk-context.
    const req = await kamLine(kam, 'req', 'INVITE');
    assert.match(field(req, 'ruri') ?? '', new RegExp(`^sip:\\+?\\d+;tgrp=lab-trunk;trunk-context=byoc\\.euc1\\.pure\\.cloud@${LB01.replace(/\./g, '\\.')}:${ports.kamTls};transport=tls$`));
    // The caller's BYE reached Kamailio over TLS from the edge on the INVITE's connection: Kamailio's
    // own Route entry names 127.0.0.1, and the edge dialled it by the name in its t= parameter (S-VAL-3).
    const byeIn = await kamLine(kam, 'tls-in', 'BYE');
    assert.equal(field(byeIn, 'src'), field(inviteIn, 'src'), 'BYE on the INVITE\'s connection');
    assertEdgeHandshake(tlsUp(edge, 'client'), 'client', LB01);
    assert.equal(tlsUp(edge, 'client').length, 1, 'one connection to lb01 for the whole dialog');
  });
});

test('outbound call over TLS to Kamailio, the far end hangs up: Kamailio dials the edge by its Record-Route, the edge forwards to the PBX', { timeout: TEST_TIMEOUT_MS }, async () => {
  await withRig(lb01(), async ({ edge, kam, ports, edgeInside, edgeTls }) => {
    await call({ uac: 'uac-call-callee-bye.xml', uacTo: edgeInside, uacPort: ports.caller, uas: { scenario: own('uas-answer-then-bye-tagged.xml'), port: ports.far } });

    const done = await edge.transactionsAfter('BYE');
    assert.deepEqual(done.map((l) => [l['method'], l['status'], l['direction']]), [
      ['INVITE', 200, 'outbound'],
      ['BYE', 200, 'inbound'],
    ]);
    assert.equal(done[0]?.['target'], LB01);
    assertEdgeClientHello(await kamLine(kam, 'tls-in', 'INVITE'), 'INVITE');
    // Kamailio followed the edge's outside Record-Route entry (the edge's name) to its TLS listener ...
    const relay = await kamLine(kam, 'relay', 'BYE');
    assert.equal(field(relay, 'du'), `sip:127.0.0.1:${edgeTls};transport=tls`);
    // ... and got the 200 for its BYE over that connection, from the certificate of the edge's name.
    assertEdgeServerCert(await kamLine(kam, 'tls-reply', 'BYE', '200'), 'the 200 for its BYE');
    assertEdgeHandshake(tlsUp(edge, 'server'), 'server', EDGE_NAME);
  });
});

// --- 2. a vendor certificate without the name dialled ---------------------------------------------

for (const [label, pick] of [
  ['the lab wrong-name leaf (sbc.wrong-name.lab.sips-edge.test)', () => pki.negative['wrong-name']],
  ['a valid vendor leaf for lb02 while the edge dials lb01', () => pki.vendor['lb02.voice.euc1.pure.cloud']!],
] as const) {
  test(`Kamailio presents ${label}: the edge refuses the connection (name-mismatch) and answers 503`, { timeout: TEST_TIMEOUT_MS }, async () => {
    await withRig(pick(), async ({ edge, kam, ports, edgeInside }) => {
      const r = await call({ uac: own('uac-expect-503-name-mismatch.xml'), uacTo: edgeInside, uacPort: ports.caller });

      const [invite] = await edge.transactionsAfter('INVITE');
      assert.equal(invite?.['status'], 503);
      assert.equal(invite?.['code'], 'SIPS_ERR_PROXY_TRANSPORT');
      // The local 503 names the code, the host and the reason (architecture: one string end to end).
      const warning = /^Warning: (.*)$/m.exec(r.traces)?.[1]?.trim();
      assert.equal(warning, `399 sips-edge "SIPS_ERR_PROXY_TRANSPORT: ${LB01}: name-mismatch"`);
      assert.match(r.traces, /^Retry-After: \d+/m);
      // The edge's TLS log names the check that failed (S-VAL-2); logged before the 503's transaction line.
      const failure = edge.events('tls-failure').find((l) => l['role'] === 'client');
      assert.equal(failure?.['reason'], 'name-mismatch');
      assert.equal(failure?.['servername'], LB01);
      assert.deepEqual(tlsUp(edge, 'client'), [], 'no client connection counted as established');
      // Nothing was sent over the connection the edge did not trust: Kamailio (stopped, so its log is
      // complete) saw no SIP request over TLS.
      await kam.stop();
      assert.deepEqual(kam.eventsOf('tls-in'), []);
    });
  });
}

// --- 3. Kamailio as TLS client -> the edge's outside listener ---------------------------------------

test('Kamailio connects to the edge over TLS (SNI = edge name, chain verified against the lab root) and pings it with OPTIONS: 200 from the edge itself', { timeout: TEST_TIMEOUT_MS }, async () => {
  await withRig(lb01(), async ({ edge, kam, ports, edgeTls }) => {
    await call({ uac: own('uac-options-expect-200.xml'), uacTo: ports.kamUdp, uacPort: ports.caller });

    const relay = await kamLine(kam, 'relay', 'OPTIONS');
    assert.equal(field(relay, 'ruri'), `sip:${EDGE_NAME}:${edgeTls};transport=tls`);
    assert.equal(field(relay, 'du'), `sip:127.0.0.1:${edgeTls};transport=tls`);
    assertEdgeServerCert(await kamLine(kam, 'tls-reply', 'OPTIONS', '200'), 'the OPTIONS 200');
    // The edge's side: a TLS server handshake with SNI = its name (and no client certificate asked
    // for, S-CON-2: Kamailio has none configured, and the handshake completed).
    const up = await edge.line('TLS server handshake', (l) => l.event === 'tls-established' && l['role'] === 'server');
    assertEdgeHandshake([up], 'server', EDGE_NAME);
    // Answered by the edge itself: nothing proxied.
    assert.deepEqual(transactions(edge), []);
  });
});

// --- 4. a call from the vendor side: Kamailio -> edge TLS -> PBX ------------------------------------

test('inbound call: the vendor (Kamailio) dials the edge over TLS, the edge routes it to the PBX; the vendor caller hangs up', { timeout: TEST_TIMEOUT_MS }, async () => {
  await withRig(lb01(), async ({ edge, kam, ports, edgeTls }) => {
    await call({ uac: 'uac-call-caller-bye.xml', uacTo: ports.kamUdp, uacPort: ports.caller, uas: { scenario: 'uas-answer-expect-bye.xml', port: ports.pbx } });

    const done = await edge.transactionsAfter('BYE');
    assert.deepEqual(done.map((l) => [l['method'], l['status'], l['direction'], l['route']]), [
      ['INVITE', 200, 'inbound', 'pbx'],
      ['BYE', 200, 'inbound', 'dialog'], // in-dialog: routed by the Route set, not by a rule
    ]);
    const relay = await kamLine(kam, 'relay', 'INVITE');
    assert.equal(field(relay, 'du'), `sip:127.0.0.1:${edgeTls};transport=tls`);
    assertEdgeServerCert(await kamLine(kam, 'tls-reply', 'INVITE', '200'), 'the 200 for its INVITE');
    assertEdgeServerCert(await kamLine(kam, 'tls-reply', 'BYE', '200'), 'the 200 for its BYE');
    // One connection, opened by the vendor, carried INVITE, ACK and BYE (lines before the BYE's transaction line).
    assertEdgeHandshake(tlsUp(edge, 'server'), 'server', EDGE_NAME);
    assert.equal(tlsUp(edge, 'server').length, 1);
    assert.deepEqual(tlsUp(edge, 'client'), []);
  });
});

test('inbound call, the PBX hangs up: its BYE goes back to the vendor over the TLS connection the vendor opened', { timeout: TEST_TIMEOUT_MS }, async () => {
  await withRig(lb01(), async ({ edge, kam, ports, edgeTls }) => {
    await call({ uac: 'uac-call-callee-bye.xml', uacTo: ports.kamUdp, uacPort: ports.caller, uas: { scenario: own('uas-answer-then-bye-tagged.xml'), port: ports.pbx } });

    const done = await edge.transactionsAfter('BYE');
    assert.deepEqual(done.map((l) => [l['method'], l['status'], l['direction']]), [
      ['INVITE', 200, 'inbound'],
      ['BYE', 200, 'outbound'],
    ]);
    // Kamailio got the BYE over TLS from the edge's listening port: that is the connection Kamailio
    // itself opened to the edge (a connection the edge opened would come from an ephemeral port).
    const bye = await kamLine(kam, 'tls-in', 'BYE');
    assert.equal(field(bye, 'src'), `127.0.0.1:${edgeTls}`);
    assert.deepEqual(tlsUp(edge, 'client'), [], 'the edge opened no connection of its own to Kamailio');
    assert.equal(tlsUp(edge, 'server').length, 1);
  });
});
