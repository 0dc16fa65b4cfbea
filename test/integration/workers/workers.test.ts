/**
 * Issue 13, edge.workers: two worker processes on shared SO_REUSEPORT sockets that look like one
 * edge. SIPp as the PBX (inside, UDP, one socket per call with `-t un`, so the kernel spreads the
 * calls over both workers) and a SIPp far end standing in for the lb host: the far end answers
 * from one port, so its responses all hash to one worker and the other worker's need a handoff.
 */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { udpTrunkConfig } from '../../helpers/edge-configs.js';
import { EdgeProcess, type LogLine } from '../../helpers/edge-process.js';
import { freeUdpPort, runSipp, udpBound, type SippResult } from '../../helpers/sipp.js';

const edges: EdgeProcess[] = [];
after(async () => { for (const e of edges) await e.stop('SIGKILL'); });

function workersConfig(far: number, extra = ''): string {
  return udpTrunkConfig({ farPorts: [far], extra })
    .replace('  name: edge.test.sips-edge.test\n', '  name: edge.test.sips-edge.test\n  workers: 2\n  drainTimeoutSeconds: 5\n')
    .replace('admin:\n  enabled: false\n', 'admin:\n  enabled: true\n  address: 127.0.0.1\n  port: 0\n');
}

async function startEdge(far: number): Promise<EdgeProcess> {
  const e = await EdgeProcess.start(workersConfig(far));
  edges.push(e);
  return e;
}

function adminUrl(edge: EdgeProcess, path: string): string {
  const listening = edge.events('listening')[0]!;
  const admin = listening['admin'] as { address: string; port: number };
  return `http://${admin.address}:${admin.port}${path}`;
}

async function metric(edge: EdgeProcess, name: string, labels = ''): Promise<number> {
  const text = await (await fetch(adminUrl(edge, '/metrics'))).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name}${labels} `) || (labels === '' && l.startsWith(`${name} `)));
  return line === undefined ? 0 : Number(line.split(' ').pop());
}

/** SIPp's final "Successful call" and "Failed call" counts (the cumulative column). */
function counts(r: SippResult): { successful: number; failed: number } {
  const num = (label: string): number => {
    const lines = r.stdout.split('\n').filter((l) => l.includes(label));
    const cells = (lines.at(-1) ?? '').split('|').map((c) => c.trim());
    return Number(cells[2] ?? NaN);
  };
  return { successful: num('Successful call'), failed: num('Failed call') };
}

function ok(r: SippResult, who: string, peer?: SippResult): void {
  // The peer's traces too: a call the far end aborted shows only there.
  const other = peer === undefined ? '' : `\n--- the other side (exit ${peer.code}):\n${peer.traces.slice(0, 6000)}`;
  assert.equal(r.code, 0, `${who} failed (exit ${r.code}):\n${r.stdout.slice(-2500)}\n${r.traces.slice(-4000)}${other}`);
}

/** A UAC run with one socket per call (`-t un`): each call its own source port. */
async function uac(edge: EdgeProcess, scenario: string, calls: number, rate: number) {
  const port = await freeUdpPort();
  return runSipp({
    scenario, calls, rate, port, remote: `127.0.0.1:${edge.port('inside', 'udp')}`, timeoutSeconds: 60,
    extra: ['-t', 'un', '-max_socket', String(calls + 20)],
  });
}

function invitesBy(edge: EdgeProcess, worker: number, pid?: number): LogLine[] {
  return edge.events('transaction').filter((l) => l['method'] === 'INVITE' && l['worker'] === worker && (pid === undefined || l['pid'] === pid));
}

test('workers: 2 — one listening line, calls spread over both workers, every call completes, one /metrics sums them, far-end responses handed to their worker', async () => {
  const far = await freeUdpPort();
  const edge = await startEdge(far);
  const listening = edge.events('listening');
  assert.equal(listening.length, 1, 'the primary prints one listening line');
  assert.equal(listening[0]!['workers'], 2);
  assert.equal(listening[0]!['worker'], 0);
  assert.equal(edge.events('worker-listening').length, 2);
  assert.deepEqual(edge.events('worker-listening').map((l) => l['listeners']), [edge.listeners, edge.listeners], 'both workers bound the same ports');
  const ready = await fetch(adminUrl(edge, '/readyz'));
  assert.equal(ready.status, 200);

  const calls = 40;
  const uas = runSipp({ scenario: 'uas-answer-expect-bye.xml', port: far, calls, timeoutSeconds: 60 });
  await udpBound(far);
  const r = await (await uac(edge, 'uac-call-caller-bye.xml', calls, 20)).done;
  const farEnd = await uas.done;
  ok(r, 'UAC', farEnd);
  ok(farEnd, 'far end');
  assert.deepEqual(counts(r), { successful: calls, failed: 0 });

  await edge.line('the last BYE transaction', () => edge.events('transaction').filter((l) => l['method'] === 'BYE').length === calls);
  const w1 = invitesBy(edge, 1).length;
  const w2 = invitesBy(edge, 2).length;
  assert.equal(w1 + w2, calls);
  assert.ok(w1 > 0 && w2 > 0, `calls spread over both workers (${w1} / ${w2})`);
  // One endpoint, the sum over the workers.
  assert.equal(await metric(edge, 'sips_edge_requests_total', '{method="INVITE",direction="outbound"}'), calls);
  assert.equal(await metric(edge, 'sips_edge_responses_total', '{method="BYE",status="200",direction="outbound"}'), calls);
  assert.equal(await metric(edge, 'sips_edge_workers_listening'), 2);
  const handed = await metric(edge, 'sips_edge_worker_handoffs_total', '{kind="response"}');
  // The far end answers from one port: every response of the calls on the other worker crosses.
  assert.ok(handed > 0, `responses handed over (${handed})`);
  assert.equal(await metric(edge, 'sips_edge_worker_handoff_failures_total'), 0);
});

test('workers: 2 under retransmissions and CANCEL: late-ACKed 200 retransmissions passed on, INVITE sent twice absorbed, CANCEL after 180 — every call as expected', async () => {
  const far = await freeUdpPort();
  const edge = await startEdge(far);
  const calls = 30;

  // The PBX ACKs 700 ms late: the far end retransmits its 200 (T1 500 ms), each copy crossing the edge.
  let uas = runSipp({ scenario: 'uas-answer-expect-bye.xml', port: far, calls, timeoutSeconds: 60 });
  await udpBound(far);
  let r = await (await uac(edge, 'uac-call-late-ack.xml', calls, 20)).done;
  let far1 = await uas.done;
  ok(r, 'UAC slow to ACK', far1);
  ok(far1, 'far end retransmitting 200');
  assert.deepEqual(counts(r), { successful: calls, failed: 0 });
  const twoHundreds = r.stdout.split('\n').find((l) => /^\s+200 <-+\s+E-RTD1/.test(l)) ?? '';
  const retrans = Number(twoHundreds.split(/\s+/).filter((c) => c !== '')[4]);
  assert.ok(retrans >= 1, `retransmitted 200s reached the PBX through the edge (${twoHundreds.trim()})`);

  // The PBX sends each INVITE twice and the far end answers 200 twice: the copy reaches the worker holding the
  // INVITE (same source 4-tuple) and is absorbed, the second 200 is handed over like the first and passed on.
  uas = runSipp({ scenario: 'uas-answer-twice.xml', port: far, calls, timeoutSeconds: 60 });
  await udpBound(far);
  r = await (await uac(edge, 'uac-retransmit.xml', calls, 20)).done;
  far1 = await uas.done;
  ok(r, 'UAC sending INVITE twice', far1);
  ok(far1, 'far end answering twice');
  assert.deepEqual(counts(r), { successful: calls, failed: 0 });

  // CANCEL after 180: 200 for the CANCEL, 487 for the INVITE, on whichever worker holds it.
  uas = runSipp({ scenario: 'uas-ring-expect-cancel.xml', port: far, calls, timeoutSeconds: 60 });
  await udpBound(far);
  r = await (await uac(edge, 'uac-cancel-after-180.xml', calls, 20)).done;
  ok(r, 'UAC cancelling after 180');
  ok(await uas.done, 'far end expecting CANCEL');
  assert.deepEqual(counts(r), { successful: calls, failed: 0 });

  const handed = await metric(edge, 'sips_edge_worker_handoffs_total', '{kind="response"}');
  assert.ok(handed > 0, `responses handed over (${handed})`);
  // One INVITE transaction per call of the three runs, summed over the workers, however many copies crossed.
  assert.equal(await metric(edge, 'sips_edge_requests_total', '{method="INVITE",direction="outbound"}'), 3 * calls);
});

test('workers: 2, one worker SIGKILLed while its calls are up: the primary restarts it in its slot, every call ends, calls after the restart complete on both workers', async () => {
  const far = await freeUdpPort();
  const edge = await startEdge(far);
  const pids = edge.events('listening')[0]!['pids'] as Record<string, number>;
  const victim = pids['2']!;

  const held = 16;
  const uas = runSipp({ scenario: 'uas-answer-expect-bye.xml', port: far, calls: held, timeoutSeconds: 60 });
  await udpBound(far);
  const run = await uac(edge, 'uac-call-hold-bye.xml', held, 20);
  // Every call answered (their BYEs come 5 s later): kill worker 2 with its calls up.
  await edge.line('every held call answered', () => edge.events('transaction').filter((l) => l['method'] === 'INVITE').length === held, 15_000);
  const onKilled = invitesBy(edge, 2).length;
  assert.ok(onKilled > 0 && onKilled < held, `calls on both workers (${onKilled} of ${held} on worker 2)`);
  process.kill(victim, 'SIGKILL');

  const exit = await edge.line('worker-exit', (l) => l.event === 'worker-exit' && l['slot'] === 2, 10_000);
  assert.equal(exit['signal'], 'SIGKILL');
  assert.equal(exit['pid'], victim);
  const restarted = await edge.line('worker-restarted', (l) => l.event === 'worker-restarted' && l['slot'] === 2, 15_000);
  const fresh = restarted['pid'] as number;
  assert.notEqual(fresh, victim);

  const r = await run.done;
  await uas.done;
  const c = counts(r);
  assert.equal(c.successful + c.failed, held);
  // No per-dialog state: the BYEs of the killed worker's calls are served by whichever worker gets them.
  assert.ok(c.failed <= onKilled, `failed calls (${c.failed}) at most the calls on the killed worker (${onKilled})`);

  // After the restart: the new worker serves, every call completes.
  const calls = 30;
  const uas2 = runSipp({ scenario: 'uas-answer-expect-bye.xml', port: far, calls, timeoutSeconds: 60 });
  await udpBound(far);
  const r2 = await (await uac(edge, 'uac-call-caller-bye.xml', calls, 20)).done;
  ok(r2, 'UAC after the restart');
  ok(await uas2.done, 'far end after the restart');
  assert.deepEqual(counts(r2), { successful: calls, failed: 0 });
  await edge.line('the last BYE after the restart', () => edge.events('transaction').filter((l) => l['method'] === 'BYE').length >= held + calls - c.failed, 10_000);
  assert.ok(invitesBy(edge, 2, fresh).length > 0, 'the restarted worker 2 carried calls');
  assert.equal((await fetch(adminUrl(edge, '/readyz'))).status, 200);
  assert.equal(await metric(edge, 'sips_edge_worker_restarts_total'), 1);
});

test('workers: 2 — SIGHUP reaches every worker (each logs reloaded), SIGTERM drains every worker and the process exits 0', async () => {
  const far = await freeUdpPort();
  const edge = await startEdge(far);
  edge.proc.kill('SIGHUP');
  const w1 = await edge.line('reloaded by worker 1', (l) => l.event === 'reloaded' && l['worker'] === 1, 15_000);
  const w2 = await edge.line('reloaded by worker 2', (l) => l.event === 'reloaded' && l['worker'] === 2, 15_000);
  assert.equal(w1['trigger'], 'SIGHUP');
  assert.equal(w2['trigger'], 'SIGHUP');
  // The process is still up after the reload.
  assert.equal((await fetch(adminUrl(edge, '/healthz'))).status, 200);

  edge.proc.kill('SIGTERM');
  assert.equal(await edge.exited, 0);
  assert.deepEqual(edge.events('draining').map((l) => l['worker']).sort(), [0, 1, 2]);
  const exits = edge.events('worker-exit');
  assert.deepEqual(exits.map((l) => [l['slot'], l['code']]).sort(), [[1, 0], [2, 0]]);
  const stopped = edge.events('stopped').find((l) => l['worker'] === 0);
  assert.equal(stopped?.['code'], 0);
  assert.equal(edge.events('worker-restarted').length, 0, 'no restart while draining');
});
