/**
 * Issue 7, drain: SIGTERM while a call rings. The ringing call completes (200, ACK, BYE -> 200), a
 * new INVITE gets 503 with Retry-After, and the edge logs `draining`, then `stopped`, and exits 0
 * within edge.drainTimeoutSeconds.
 */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { udpTrunkConfig } from '../../helpers/edge-configs.js';
import { EdgeProcess } from '../../helpers/edge-process.js';
import { freeUdpPort, runSipp, type SippResult } from '../../helpers/sipp.js';

const edges: EdgeProcess[] = [];
after(async () => { for (const e of edges) await e.stop('SIGKILL'); });

function ok(r: SippResult, who: string): void {
  assert.equal(r.code, 0, `${who} failed (exit ${r.code}):\n${r.stdout.slice(-1500)}\n${r.traces.slice(-6000)}`);
}

test('SIGTERM while ringing: the call completes, a new INVITE gets 503 + Retry-After, exit 0', async () => {
  const far = await freeUdpPort();
  // logging debug: the `sip` trace lines tell when the far end's 180 has passed the edge.
  const yaml = udpTrunkConfig({ farPorts: [far], extra: 'logging: { level: debug }\n' }).replace('  name: edge.test.sips-edge.test\n', '  name: edge.test.sips-edge.test\n  drainTimeoutSeconds: 10\n');
  const edge = await EdgeProcess.start(yaml);
  edges.push(edge);
  const inside = `127.0.0.1:${edge.port('inside', 'udp')}`;

  const uas = runSipp({ scenario: 'uas-ring-1500-answer-expect-bye.xml', port: far });
  const uac1 = runSipp({ scenario: 'uac-call-caller-bye.xml', port: await freeUdpPort(), remote: inside });
  await edge.waitFor((l) => l.event === 'sip' && l['dir'] === 'in' && String(l.msg).includes('180 Ringing'));

  edge.proc.kill('SIGTERM');
  const draining = await edge.waitFor((l) => l.event === 'draining');
  assert.equal(draining['timeoutSeconds'], 10);

  const uac2 = runSipp({ scenario: 'uac-expect-503-retry-after.xml', port: await freeUdpPort(), remote: inside });
  const [r2, r1, rs] = await Promise.all([uac2.done, uac1.done, uas.done]);
  ok(r2, 'second UAC (expects 503 + Retry-After)');
  ok(r1, 'first UAC (ringing call)');
  ok(rs, 'far end');

  assert.equal(await edge.exited, 0);
  const stopped = edge.events('stopped');
  assert.equal(stopped.length, 1);
  assert.equal(stopped[0]?.['code'], 0);
  assert.ok(edge.logs.indexOf(draining) < edge.logs.indexOf(stopped[0]!), 'draining before stopped');
  // The new INVITE was refused by the edge itself, with the draining code.
  assert.ok(edge.events('local-reply').some((l) => l['code'] === 'SIPS_ERR_PROXY_DRAINING'));
  // Both transactions of the ringing call completed through the edge.
  const done = edge.events('transaction').filter((l) => l['code'] === null);
  assert.deepEqual(done.map((l) => [l['method'], l['status']]), [['INVITE', 200], ['BYE', 200]]);
});
