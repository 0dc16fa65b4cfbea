import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { EdgeProcess } from '../../helpers/edge-process.js';
import { udpTrunkConfig, type UdpTrunkOptions } from '../../helpers/edge-configs.js';
import { freeUdpPort, runSipp, udpBound, type SippResult } from '../../helpers/sipp.js';

/**
 * Issue 4: the edge as its own process between SIPp as the PBX (inside, UDP) and SIPp far ends
 * standing in for the vendor's lb hosts (UDP here; TLS toward kamailio in kamailio-tls.test.ts).
 */
const edges: EdgeProcess[] = [];
after(async () => { for (const e of edges) await e.stop(); });

async function startEdge(o: UdpTrunkOptions): Promise<EdgeProcess> {
  const e = await EdgeProcess.start(udpTrunkConfig(o));
  edges.push(e);
  return e;
}

function ok(r: SippResult, who: string): void {
  assert.equal(r.code, 0, `${who} failed (exit ${r.code}):\n${r.stdout.slice(-1500)}\n${r.traces.slice(-6000)}`);
}

async function call(edge: EdgeProcess, uacScenario: string, uas: { scenario: string; port: number }[]): Promise<void> {
  const servers = uas.map((u) => runSipp({ scenario: u.scenario, port: u.port }));
  for (const u of uas) await udpBound(u.port); // far ends listen before the first INVITE
  const uac = runSipp({ scenario: uacScenario, port: await freeUdpPort(), remote: `127.0.0.1:${edge.port('inside', 'udp')}` });
  const [c, ...s] = await Promise.all([uac.done, ...servers.map((x) => x.done)]);
  ok(c!, `UAC ${uacScenario}`);
  s.forEach((r, i) => ok(r, `UAS ${uas[i]!.scenario}`));
}

test('basic call, caller hangs up: 100/180/200/ACK/BYE through double Record-Route', async () => {
  const far = await freeUdpPort();
  const edge = await startEdge({ farPorts: [far] });
  await call(edge, 'uac-call-caller-bye.xml', [{ scenario: 'uas-answer-expect-bye.xml', port: far }]);
  const done = await edge.transactionsAfter('BYE');
  assert.deepEqual(done.map((l) => [l['method'], l['status'], l['direction']]), [
    ['INVITE', 200, 'outbound'],
    ['BYE', 200, 'outbound'],
  ]);
});

test('basic call, callee hangs up: the far end BYE is routed back to the PBX by the Record-Route', async () => {
  const far = await freeUdpPort();
  const edge = await startEdge({ farPorts: [far] });
  await call(edge, 'uac-call-callee-bye.xml', [{ scenario: 'uas-answer-then-bye.xml', port: far }]);
  const bye = (await edge.transactionsAfter('BYE')).find((l) => l['method'] === 'BYE');
  assert.equal(bye?.['direction'], 'inbound');
});

test('CANCEL after 180: 200 for the CANCEL, 487 from the far end forwarded', async () => {
  const far = await freeUdpPort();
  const edge = await startEdge({ farPorts: [far] });
  await call(edge, 'uac-cancel-after-180.xml', [{ scenario: 'uas-ring-expect-cancel.xml', port: far }]);
});

test('486 Busy Here from the far end reaches the caller; the ACK is absorbed hop by hop', async () => {
  const far = await freeUdpPort();
  const edge = await startEdge({ farPorts: [far] });
  await call(edge, 'uac-expect-486.xml', [{ scenario: 'uas-reply-486.xml', port: far }]);
});

test('503 from the first target, the call succeeds on the second (serial failover)', async () => {
  const [far1, far2] = [await freeUdpPort(), await freeUdpPort()];
  const edge = await startEdge({ farPorts: [far1, far2] });
  await call(edge, 'uac-call-caller-bye.xml', [{ scenario: 'uas-reply-503.xml', port: far1 }, { scenario: 'uas-answer-expect-bye.xml', port: far2 }]);
  const invite = (await edge.transactionsAfter('INVITE')).find((l) => l['method'] === 'INVITE');
  assert.equal(invite?.['target'], 'far2.lab.test');
});

test('a first target that never answers: Timer B, then the next target answers', async () => {
  const [silent, far2] = [await freeUdpPort(), await freeUdpPort()];
  const edge = await startEdge({ farPorts: [silent, far2] });
  await call(edge, 'uac-call-caller-bye.xml', [{ scenario: 'uas-answer-expect-bye.xml', port: far2 }]);
  const invite = (await edge.transactionsAfter('INVITE')).find((l) => l['method'] === 'INVITE');
  assert.equal(invite?.['target'], 'far2.lab.test');
});

test('all targets fail: the caller gets the best response (a downstream 503 becomes 500, RFC 3261 §16.7)', async () => {
  const far1 = await freeUdpPort();
  const edge = await startEdge({ farPorts: [far1] });
  await call(edge, 'uac-expect-500.xml', [{ scenario: 'uas-reply-503.xml', port: far1 }]);
});

test('re-INVITE inside the dialog, routed by the Route set both ways', async () => {
  const far = await freeUdpPort();
  const edge = await startEdge({ farPorts: [far] });
  await call(edge, 'uac-reinvite.xml', [{ scenario: 'uas-reinvite.xml', port: far }]);
  const invites = (await edge.transactionsAfter('INVITE', (l) => l['route'] === 'dialog')).filter((l) => l['method'] === 'INVITE');
  assert.equal(invites.length, 2);
  assert.equal(invites[1]?.['route'], 'dialog');
});

test('UDP loss: a retransmitted INVITE is absorbed and answered, a retransmitted 200 is passed on', async () => {
  const far = await freeUdpPort();
  const edge = await startEdge({ farPorts: [far] });
  await call(edge, 'uac-retransmit.xml', [{ scenario: 'uas-answer-twice.xml', port: far }]);
  // One INVITE and one BYE transaction, however many copies crossed the wire.
  const done = await edge.transactionsAfter('BYE');
  assert.deepEqual(done.map((l) => l['method']), ['INVITE', 'BYE']);
});

test('Max-Forwards 0 gets 483 from the edge and goes nowhere', async () => {
  const far = await freeUdpPort();
  const edge = await startEdge({ farPorts: [far] });
  await call(edge, 'uac-maxforwards-0-expect-483.xml', []);
  const reply = await edge.line('local reply', (l) => l.event === 'local-reply');
  assert.equal(reply?.['code'], 'SIPS_ERR_PROXY_TOO_MANY_HOPS');
  assert.equal(edge.events('transaction').length, 0);
});

test('a routing loop back into the edge ends in 482 Loop Detected', async () => {
  const inside = await freeUdpPort();
  // The trunk's only host is the edge's own inside listener: the request comes back unchanged.
  const edge = await startEdge({ farPorts: [inside], insidePort: inside });
  await call(edge, 'uac-expect-482.xml', []);
  await edge.line('local reply with the loop code', (l) => l.event === 'local-reply' && l['code'] === 'SIPS_ERR_PROXY_LOOP');
});

test('an offer without SRTP is refused with 488 and a Warning, and reaches no one', async () => {
  const far = await freeUdpPort();
  const edge = await startEdge({ farPorts: [far] });
  await call(edge, 'uac-clear-offer-expect-488.xml', []);
  const reply = await edge.line('local reply', (l) => l.event === 'local-reply');
  assert.equal(reply?.['code'], 'SIPS_ERR_PROXY_SRTP_REQUIRED');
});

test('a 2xx answer without SRTP: the far end gets ACK + BYE (Reason 488), the caller 488', async () => {
  const far = await freeUdpPort();
  const edge = await startEdge({ farPorts: [far] });
  await call(edge, 'uac-expect-488.xml', [{ scenario: 'uas-clear-answer.xml', port: far }]);
});
