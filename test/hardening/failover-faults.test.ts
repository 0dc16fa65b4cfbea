/**
 * Issue 11, failover faults, end to end: the edge runs as its own process; the lb hosts are
 * scripted TLS stand-ins (test/helpers/failover-lb.ts) with the lab leaves of lb01..lb04; the PBX
 * is a UDP caller. Trunk `main` (priority lb01 > lb02 > lb03 > lb04) has health probes every 60 s
 * with downAfter 1, so only passive feedback can mark a host down while a test runs.
 *
 * timers: timerC 1500 ms, inviteFailover 1000 ms (no response at all within 1 s: next host).
 * Tests run in order and share the lbs; each sets the scripts it relies on. The mid-ring kill is last
 * (it closes lb01).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { generateLabPki, type LabPki } from '../../src/tls/lab-pki.js';
import { EdgeProcess } from '../helpers/edge-process.js';
import { ANSWER, StandInLb, UdpCaller, type LbCall } from '../helpers/failover-lb.js';
import { IT_REGION, LB_HOSTS, labFiles } from '../helpers/lab-region.js';
import { freePort } from '../helpers/ports.js';

const [LB01, LB02, LB03, LB04] = LB_HOSTS as [string, string, string, string];
const PLAIN = 'lb05.voice.euc1.pure.cloud';
const REFUSED = 'lb06.voice.euc1.pure.cloud';
/** RFC 6761: .invalid never resolves (NXDOMAIN without a network). */
const NXHOST = 'lb09.nowhere.invalid';
const MAIN = '4969100000';
const PLAIN_NUMBER = '4950100000';
const DNS_NUMBER = '4960100000';
const MIXED_NUMBER = '4961100000';

let dir: string;
let pki: LabPki;
const lbs: Record<string, StandInLb> = {};
let plain: net.Server;
let refusedPort: number;
let edge: EdgeProcess;
let caller: UdpCaller;

function yaml(): string {
  const f = labFiles(pki);
  const q = (s: string): string => JSON.stringify(s);
  const trust = `    trust: { files: [${f.roots.map(q).join(', ')}] }`;
  const host = (name: string, port: number): string => `      - { host: ${name}, port: ${port} }`;
  const plainPort = (plain.address() as net.AddressInfo).port;
  return `edge:
  name: ${f.edgeName}
  drainTimeoutSeconds: 0
listen:
  - { name: outside-tls, side: outside, transport: tls, address: 127.0.0.1, port: 0 }
  - { name: inside-udp, side: inside, transport: udp, address: 127.0.0.1, port: 0 }
tls:
  handshakeTimeoutMs: 2000
  revocation: soft
  crlFiles: [${f.crls.map(q).join(', ')}]
  identities:
    - { cert: ${q(f.edgeChain)}, key: ${q(f.edgeKey)} }
timers: { timerC: 1500, inviteFailover: 1000 }
dns:
  overrides:
${[...LB_HOSTS, PLAIN, REFUSED].map((h) => `    ${h}: [127.0.0.1]`).join('\n')}
trunks:
  - name: main
    region: ${IT_REGION.code}
    mode: dnis
    strategy: priority
    hosts:
${[LB01, LB02, LB03, LB04].map((h) => host(h, lbs[h]!.port)).join('\n')}
${trust}
    health: { intervalSeconds: 60, downAfter: 1, upAfter: 1 }
  - name: plain
    region: ${IT_REGION.code}
    mode: dnis
    strategy: priority
    hosts:
${host(REFUSED, refusedPort)}
${host(PLAIN, plainPort)}
${host(LB03, lbs[LB03]!.port)}
${trust}
    health: { enabled: false }
  - name: dnsfail
    region: ${IT_REGION.code}
    mode: dnis
    hosts:
${host(NXHOST, 5061)}
${trust}
    health: { enabled: false }
  - name: mixed
    region: ${IT_REGION.code}
    mode: dnis
    strategy: priority
    hosts:
${host(NXHOST, 5061)}
${host(LB04, lbs[LB04]!.port)}
${trust}
    health: { enabled: false }
peers:
  - { name: pbx, host: 127.0.0.1, port: 5999, transport: udp, sources: [127.0.0.1/32] }
routing:
  defaultTrunk: main
  defaultPeer: pbx
  outbound:
    - { prefix: "4950", trunk: plain }
    - { prefix: "4960", trunk: dnsfail }
    - { prefix: "4961", trunk: mixed }
  vendorSources: [127.0.0.1/32]
srtp: { policy: strict }
admin: { enabled: false }
logging: { level: info }
`;
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sips-edge-failover-'));
  pki = generateLabPki({ outDir: join(dir, 'pki'), regions: [IT_REGION.code] });
  for (const h of [LB01, LB02, LB03, LB04]) lbs[h] = await StandInLb.start(h, pki);
  // A TCP-only SIP host on the TLS port: it reads the ClientHello as SIP, answers 400, closes.
  plain = net.createServer((s) => {
    s.on('error', () => undefined);
    s.once('data', () => s.end('SIP/2.0 400 Bad Request\r\nContent-Length: 0\r\n\r\n'));
  });
  await new Promise<void>((r) => plain.listen(0, '127.0.0.1', r));
  // A port nothing listens on: connect refused.
  refusedPort = await freePort();
  edge = await EdgeProcess.start(yaml());
  caller = await UdpCaller.start(edge.port('inside', 'udp'));
});

after(async () => {
  caller?.close();
  if (edge !== undefined) {
    const bound = setTimeout(() => edge.proc.kill('SIGKILL'), 10_000);
    await edge.stop();
    clearTimeout(bound);
  }
  for (const lb of Object.values(lbs)) await lb.stop().catch(() => undefined);
  await new Promise<void>((r) => plain?.close(() => r()));
  rmSync(dir, { recursive: true, force: true });
});

const invitesOf = (callId: string): Record<string, number> =>
  Object.fromEntries([LB01, LB02, LB03, LB04].map((h) => [h.split('.')[0], lbs[h]!.count(lbs[h]!.invites, callId)]));

describe('failover faults (real sockets, edge process)', { timeout: 60_000 }, () => {
  it('Timer C after 100 Trying only, twice: one next host each, late 2xx ACKed and BYEd, no host marked down', async () => {
    // lb01 sends 100 and nothing more; when the CANCEL of Timer C arrives it answers 200 anyway
    // (the 2xx crossing the CANCEL), then 200 to the CANCEL.
    const pending: LbCall[] = [];
    lbs[LB01]!.script = {
      onInvite: (c) => { c.respond(100); pending.push(c); },
      onCancel: (c) => { c.respond(200); c.okCancel(); },
    };
    lbs[LB02]!.script = ANSWER;
    for (let i = 0; i < 2; i++) {
      const callId = caller.invite(MAIN);
      const final = await caller.final(callId);
      assert.equal(final.status, 200, `call ${i + 1}: ${final.status} ${final.get('warning') ?? ''}`);
      // The cascade sent the INVITE to lb02, lb03 and lb04 in one pass; now only lb02 gets it.
      assert.deepEqual(invitesOf(callId), { lb01: 1, lb02: 1, lb03: 0, lb04: 0 });
      await lbs[LB01]!.until('the CANCEL of Timer C', () => lbs[LB01]!.count(lbs[LB01]!.cancels, callId) === 1);
      await lbs[LB01]!.until('ACK and BYE of the late 2xx', () => lbs[LB01]!.count(lbs[LB01]!.acks, callId) === 1 && lbs[LB01]!.count(lbs[LB01]!.byes, callId) === 1);
      const bye = lbs[LB01]!.byes.find((m) => m.callId() === callId)!;
      assert.match(bye.get('reason') ?? '', /cause=408/);
      // The caller never saw lb01's answer: one 200, the one from lb02.
      assert.equal(caller.all(callId).filter((r) => r.status === 200).length, 1);
    }
    // Slow answers are not a host failure: nothing went down, and lb01 (first by priority) gets the next call.
    assert.deepEqual(edge.events('upstream-down'), []);
    lbs[LB01]!.script = ANSWER;
    const callId = caller.invite(MAIN);
    const final = await caller.final(callId);
    assert.equal(final.status, 200);
    assert.deepEqual(invitesOf(callId), { lb01: 1, lb02: 0, lb03: 0, lb04: 0 });
    assert.equal(pending.length, 2);
  });

  it('a silent lb (no response at all) moves the call on after timers.inviteFailover; its late 2xx is ACKed and BYEd', async () => {
    const silent: LbCall[] = [];
    lbs[LB01]!.script = { onInvite: (c) => { silent.push(c); } };
    lbs[LB02]!.script = ANSWER;
    const callId = caller.invite(MAIN);
    const final = await caller.final(callId);
    assert.equal(final.status, 200);
    assert.deepEqual(invitesOf(callId), { lb01: 1, lb02: 1, lb03: 0, lb04: 0 });
    // No provisional from lb01: no CANCEL can be sent (RFC 3261 §9.1) ...
    assert.equal(lbs[LB01]!.count(lbs[LB01]!.cancels, callId), 0);
    // ... and when it answers after all, the edge ends that call itself.
    silent[0]!.respond(200);
    await lbs[LB01]!.until('ACK and BYE of the late 2xx', () => lbs[LB01]!.count(lbs[LB01]!.acks, callId) === 1 && lbs[LB01]!.count(lbs[LB01]!.byes, callId) === 1);
    assert.equal(caller.all(callId).filter((r) => r.status === 200).length, 1);
    assert.deepEqual(edge.events('upstream-down'), []);
    lbs[LB01]!.script = ANSWER;
  });

  it('connect refused and a TCP-only host on the TLS port: clear transport failures, the next host answers', async () => {
    lbs[LB03]!.script = ANSWER;
    const callId = caller.invite(PLAIN_NUMBER);
    const final = await caller.final(callId);
    assert.equal(final.status, 200);
    assert.equal(lbs[LB03]!.count(lbs[LB03]!.invites, callId), 1);
    const failed = await edge.line('target-failed for the TCP-only host', (l) => l.event === 'target-failed' && l['target'] === PLAIN);
    assert.equal(failed['status'], 503);
    const refused = await edge.line('target-failed for the refused host', (l) => l.event === 'target-failed' && l['target'] === REFUSED);
    assert.equal(refused['status'], 503);
  });

  it('a trunk host that does not resolve: 503 with a code, the edge keeps serving; a mixed trunk uses the host that resolves', async () => {
    const callId = caller.invite(DNS_NUMBER);
    const final = await caller.final(callId);
    assert.equal(final.status, 503);
    assert.match(final.get('warning') ?? '', /SIPS_ERR_ROUTE_ALL_DOWN/);
    assert.ok(final.get('retry-after') !== undefined);
    lbs[LB04]!.script = ANSWER;
    const mixed = caller.invite(MIXED_NUMBER);
    assert.equal((await caller.final(mixed)).status, 200);
    assert.equal(lbs[LB04]!.count(lbs[LB04]!.invites, mixed), 1);
    assert.equal(edge.proc.exitCode, null);
  });

  it('caller CANCEL after only 100 Trying from the lb: the CANCEL goes to the lb at once (§9.1), the caller gets 487', async () => {
    lbs[LB01]!.script = { onInvite: (c) => c.respond(100) };
    const callId = caller.invite(MAIN);
    await lbs[LB01]!.until('the INVITE', () => lbs[LB01]!.count(lbs[LB01]!.invites, callId) === 1);
    caller.cancel(callId);
    await lbs[LB01]!.until('the CANCEL', () => lbs[LB01]!.count(lbs[LB01]!.cancels, callId) === 1);
    assert.equal((await caller.final(callId)).status, 487);
    assert.equal(lbs[LB02]!.count(lbs[LB02]!.invites, callId), 0, 'a cancelled call is not offered to the next host');
  });

  it('Timer C on a ringing branch (180): CANCEL and 487, the call is not offered to another host', async () => {
    lbs[LB01]!.script = { onInvite: (c) => c.respond(180) };
    const callId = caller.invite(MAIN);
    const final = await caller.final(callId);
    assert.equal(final.status, 487);
    assert.equal(lbs[LB01]!.count(lbs[LB01]!.cancels, callId), 1);
    assert.deepEqual(invitesOf(callId), { lb01: 1, lb02: 0, lb03: 0, lb04: 0 });
    assert.deepEqual(edge.events('upstream-down'), []);
  });

  it('lb killed mid-ring (after 180): the caller gets a final response at once, not after Timer C', async () => {
    lbs[LB01]!.script = { onInvite: (c) => { c.respond(180); setImmediate(() => c.die()); } };
    const callId = caller.invite(MAIN);
    // Bounded well below timerC + 64*T1 (33.5 s), the earliest final without the lost-connection path.
    const final = await caller.final(callId, 10_000);
    assert.ok(caller.all(callId).some((r) => r.status === 180), '180 was forwarded');
    assert.equal(final.status, 503);
    assert.match(final.get('warning') ?? '', /SIPS_ERR_PROXY_TRANSPORT: .*connection lost/);
    // Ringing at lb01 already: the call is not offered to lb02 (the callee would ring twice).
    assert.equal(lbs[LB02]!.count(lbs[LB02]!.invites, callId), 0);
  });
});
