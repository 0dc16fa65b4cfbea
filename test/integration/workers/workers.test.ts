/**
 * Issue 13, edge.workers: two worker processes on shared SO_REUSEPORT sockets that look like one
 * edge. SIPp as the PBX (inside, UDP, one socket per call with `-t un`, so the kernel spreads the
 * calls over both workers) and a SIPp far end standing in for the lb host: the far end answers
 * from one port, so its responses all hash to one worker and the other worker's need a handoff.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import dgram from 'node:dgram';
import net from 'node:net';
import { after, test } from 'node:test';
import type { SipMessage } from '../../../src/message/message.js';
import { parseMessage } from '../../../src/message/parse-message.js';
import { StreamFramer } from '../../../src/message/stream-framer.js';
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

async function startEdge(far: number, yaml = workersConfig(far)): Promise<EdgeProcess> {
  const e = await EdgeProcess.start(yaml);
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

/**
 * SIPp's final "Successful call" and "Failed call" counts (the cumulative column), from its stdout or,
 * failing that, the screen file `-trace_screen` writes at exit (a CI run once found no counts in stdout).
 */
function counts(r: SippResult): { successful: number; failed: number } {
  const num = (label: string): number => {
    const lines = `${r.stdout}\n${r.traces}`.split('\n').filter((l) => l.includes(label));
    const cells = (lines.at(-1) ?? '').split('|').map((c) => c.trim());
    const n = Number(cells[2] ?? NaN);
    assert.ok(Number.isInteger(n), `SIPp's final screen has no "${label}" count (exit ${r.code}); its stdout ends:\n${r.stdout.slice(-1500)}\nstderr:\n${r.stderr.slice(-1000)}\ntraces:\n${r.traces.slice(-1500)}`);
    return n;
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
    extra: ['-t', 'un', '-max_socket', String(calls + 20), '-trace_screen'],
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
  // edge.warmupLoopbackCalls (default 300): each worker's private stack on its own loopback ports
  // (exclusive binds: never a port the two share through the primary); no call of it reaches the
  // transaction log or the metrics asserted below.
  const loopback = edge.events('warmup-loopback');
  assert.deepEqual(loopback.map((l) => [l['worker'], l['calls'], l['completed']]).sort(), [[1, 300, 300], [2, 300, 300]]);
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

/** One socket of a raw SIP client: UDP (its own source port) or one TCP connection. */
interface Leg {
  readonly port: number;
  send(text: string): void;
  /** The next message matching `pred` (bounded: a lost answer fails the test, it does not hang it). */
  next(what: string, pred: (m: SipMessage) => boolean): Promise<SipMessage>;
  /** How many messages matching `pred` arrived that no next() took. */
  unclaimed(pred: (m: SipMessage) => boolean): number;
  close(): void;
}

function legOf(port: number, write: (data: Buffer) => void, close: () => void): Leg & { take(m: SipMessage): void } {
  const got: SipMessage[] = [];
  let waiters: { pred: (m: SipMessage) => boolean; resolve: (m: SipMessage) => void }[] = [];
  return {
    port,
    send: (text) => write(Buffer.from(text, 'latin1')),
    take(m) {
      const w = waiters.find((x) => x.pred(m));
      if (w === undefined) return void got.push(m);
      waiters = waiters.filter((x) => x !== w);
      w.resolve(m);
    },
    async next(what, pred) {
      const i = got.findIndex(pred);
      if (i >= 0) return got.splice(i, 1)[0]!;
      let timer: NodeJS.Timeout | undefined;
      try {
        return await Promise.race([
          new Promise<SipMessage>((resolve) => waiters.push({ pred, resolve })),
          new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`no ${what} on port ${port} within 20 s`)), 20_000); }),
        ]);
      } finally {
        clearTimeout(timer);
      }
    },
    unclaimed: (pred) => got.filter(pred).length,
    close,
  };
}

async function udpLeg(edgePort: number): Promise<Leg> {
  const s = dgram.createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
  const leg = legOf(s.address().port, (d) => s.send(d, edgePort, '127.0.0.1'), () => s.close());
  s.on('message', (d) => { const r = parseMessage(d, { framing: 'udp' }); if (r.ok) leg.take(r.value); });
  return leg;
}

async function tcpLeg(edgePort: number): Promise<Leg> {
  const s = net.connect({ host: '127.0.0.1', port: edgePort });
  await new Promise<void>((resolve, reject) => { s.once('connect', resolve); s.once('error', reject); });
  const leg = legOf(s.localPort!, (d) => s.write(d), () => s.destroy());
  const framer = new StreamFramer({
    onMessage: (d) => { const r = parseMessage(Buffer.from(d), { framing: 'stream' }); if (r.ok) leg.take(r.value); },
    onKeepAlive: () => undefined,
    onError: () => s.destroy(),
  }, { expectPongs: true });
  s.on('data', (d: Buffer) => framer.push(d));
  s.on('error', () => undefined);
  return leg;
}

/**
 * The far end as a raw UDP UAS that rings and waits for the CANCEL: 180 (again for each copy of the
 * INVITE), then 200 for the CANCEL and 487 for the INVITE, which carries the INVITE's Vias (RFC 3261
 * §9.2; SIPp's uas-ring-expect-cancel.xml answers with the CANCEL's Via, so its 487 reaches the PBX
 * with none left, which a strict parser refuses). Resolves `done` after `calls` ACKs.
 */
async function ringingFarEnd(port: number, calls: number): Promise<{ done: Promise<void>; close(): void }> {
  const s = dgram.createSocket('udp4');
  await new Promise<void>((resolve, reject) => { s.once('error', reject); s.bind(port, '127.0.0.1', () => resolve()); });
  const invites = new Map<string, { msg: SipMessage; tag: string; resend: NodeJS.Timeout | null }>();
  let acks = 0;
  let finished = (): void => undefined;
  let bound: NodeJS.Timeout | undefined;
  const done = new Promise<void>((resolve, reject) => {
    finished = () => { clearTimeout(bound); resolve(); };
    bound = setTimeout(() => reject(new Error(`the far end got ${acks} of ${calls} ACKs within 60 s`)), 60_000);
  });
  const answer = (req: SipMessage, status: string, tag: string, vias = req.values('via'), cseq = req.get('cseq') ?? ''): string => [
    `SIP/2.0 ${status}`, ...vias.map((v) => `Via: ${v}`), `From: ${req.get('from') ?? ''}`, `To: ${req.get('to') ?? ''};tag=${tag}`,
    `Call-ID: ${req.callId()}`, `CSeq: ${cseq}`, 'Content-Length: 0', '', ''].join('\r\n');
  s.on('message', (d, rinfo) => {
    const r = parseMessage(d, { framing: 'udp' });
    if (!r.ok || !r.value.isRequest) return;
    const req = r.value;
    const send = (text: string): void => s.send(Buffer.from(text, 'latin1'), rinfo.port, rinfo.address);
    const call = invites.get(req.callId());
    if (req.method === 'INVITE') {
      const c = call ?? { msg: req, tag: randomBytes(4).toString('hex'), resend: null };
      invites.set(req.callId(), c);
      send(answer(c.msg, '180 Ringing', c.tag));
    } else if (req.method === 'CANCEL' && call !== undefined) {
      send(answer(req, '200 OK', call.tag));
      const terminated = answer(call.msg, '487 Request Terminated', call.tag);
      send(terminated);
      // §17.2.1 Timer G: again until the ACK.
      call.resend ??= setInterval(() => send(terminated), 500);
    } else if (req.method === 'ACK' && call !== undefined && call.resend !== null) {
      clearInterval(call.resend);
      call.resend = null;
      if (++acks === calls) finished();
    }
  });
  return {
    done,
    close: () => {
      clearTimeout(bound);
      for (const c of invites.values()) if (c.resend !== null) clearInterval(c.resend);
      s.close();
    },
  };
}

const SDP = ['v=0', 'o=- 1 1 IN IP4 127.0.0.1', 's=-', 'c=IN IP4 127.0.0.1', 't=0 0', 'm=audio 40000 RTP/SAVP 0 101',
  'a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz', 'a=rtpmap:0 PCMU/8000', 'a=rtpmap:101 telephone-event/8000', ''].join('\r\n');

/**
 * A PBX that sends the CANCEL from another socket than its INVITE (another UDP source port, or
 * another TCP connection): the CANCEL carries the INVITE's top Via as sent, branch and sent-by
 * (RFC 3261 §9.1); the edge's received/rport stamp is its own and the CANCEL gets a stamp of its own.
 * Resolves with the CANCEL's and the INVITE's final statuses once the 487 is ACKed.
 */
async function cancelledFromAnotherSocket(connect: () => Promise<Leg>, transport: 'UDP' | 'TCP', edgePort: number): Promise<[number, number]> {
  const invite = await connect();
  const cancel = await connect();
  try {
    const id = randomBytes(6).toString('hex');
    const uri = `sip:4969123456789@127.0.0.1:${edgePort}`;
    const via = `Via: SIP/2.0/${transport} 127.0.0.1:${invite.port};branch=z9hG4bK${id};rport`;
    const common = [via, `From: <sip:201@127.0.0.1>;tag=${id}`, `To: <${uri}>`, `Call-ID: ${id}@pbx`, 'Max-Forwards: 70'];
    const inviteText = [`INVITE ${uri} SIP/2.0`, ...common, 'CSeq: 1 INVITE', `Contact: <sip:201@127.0.0.1:${invite.port}>`,
      'Content-Type: application/sdp', `Content-Length: ${SDP.length}`, '', SDP].join('\r\n');
    const isInvite = (m: SipMessage): boolean => !m.isRequest && m.cseq().method === 'INVITE';
    invite.send(inviteText);
    // UDP: Timer A as a UAC does it (a datagram lost under load would otherwise hang the call).
    const again = transport === 'UDP' ? setInterval(() => invite.send(inviteText), 500) : undefined;
    let provisional: SipMessage;
    try {
      provisional = await invite.next('a provisional response to the INVITE', (m) => isInvite(m) && m.status < 200);
    } finally {
      clearInterval(again);
    }
    // The far end rings and waits for the CANCEL.
    if (provisional.status !== 180) await invite.next('180 for the INVITE', (m) => isInvite(m) && m.status === 180);
    const cancelText = [`CANCEL ${uri} SIP/2.0`, ...common, 'CSeq: 1 CANCEL', 'Content-Length: 0', '', ''].join('\r\n');
    cancel.send(cancelText);
    const cancelAgain = transport === 'UDP' ? setInterval(() => cancel.send(cancelText), 500) : undefined;
    let cancelStatus: number;
    try {
      cancelStatus = (await cancel.next('final response to the CANCEL', (m) => !m.isRequest && m.cseq().method === 'CANCEL' && m.status >= 200)).status;
    } finally {
      clearInterval(cancelAgain);
    }
    const final = await invite.next(`final response to the ${transport} INVITE (its CANCEL got ${cancelStatus})`, (m) => isInvite(m) && m.status >= 200);
    // §17.1.1.3: the ACK of a non-2xx final response, on the INVITE's socket and branch.
    invite.send([`ACK ${uri} SIP/2.0`, via, `From: <sip:201@127.0.0.1>;tag=${id}`, `To: ${final.get('to') ?? ''}`, `Call-ID: ${id}@pbx`,
      'Max-Forwards: 70', 'CSeq: 1 ACK', 'Content-Length: 0', '', ''].join('\r\n'));
    return [cancelStatus, final.status];
  } finally {
    invite.close();
    cancel.close();
  }
}

test('workers: 2 — a CANCEL from another UDP port or TCP connection than its INVITE goes round to the worker holding the INVITE: 200 for every CANCEL, 487 for every INVITE', async () => {
  const far = await freeUdpPort();
  const yaml = workersConfig(far).replace('  - { side: inside, transport: udp, address: 127.0.0.1, port: 0 }\n',
    '  - { side: inside, transport: udp, address: 127.0.0.1, port: 0 }\n  - { side: inside, transport: tcp, address: 127.0.0.1, port: 0 }\n');
  const edge = await startEdge(far, yaml);
  // Each call's two sockets (UDP ports, TCP connections) hash to the two workers independently: the
  // chance that none of 20 calls crosses (every CANCEL lands on its INVITE's worker) is 2^-20 a phase.
  const calls = 20;
  const farEnd = await ringingFarEnd(far, 2 * calls);
  try {
    const udp = edge.port('inside', 'udp');
    const overUdp = await Promise.all(Array.from({ length: calls }, () => cancelledFromAnotherSocket(() => udpLeg(udp), 'UDP', udp)));
    assert.deepEqual(overUdp, Array.from({ length: calls }, () => [200, 487]), 'UDP: 200 for each CANCEL, 487 for each INVITE');
    const udpCancels = await metric(edge, 'sips_edge_worker_handoffs_total', '{kind="cancel"}');
    assert.ok(udpCancels > 0, `CANCELs handed to the worker holding their INVITE (${udpCancels})`);

    // TCP: the CANCEL's 200 is for a connection of the worker it arrived on: written there (flow-send).
    const tcp = edge.port('inside', 'tcp');
    const overTcp = await Promise.all(Array.from({ length: calls }, () => cancelledFromAnotherSocket(() => tcpLeg(tcp), 'TCP', tcp)));
    assert.deepEqual(overTcp, Array.from({ length: calls }, () => [200, 487]), 'TCP: 200 for each CANCEL, 487 for each INVITE');
    assert.ok(await metric(edge, 'sips_edge_worker_handoffs_total', '{kind="cancel"}') > udpCancels, 'TCP CANCELs handed over too');
    assert.ok(await metric(edge, 'sips_edge_worker_handoffs_total', '{kind="flow-send"}') > 0, 'their 200s written by the worker holding the connection');
    // Every 487 ACKed back to the far end through the edge (the ACK from the INVITE's socket reaches its worker).
    await farEnd.done;
    assert.equal(await metric(edge, 'sips_edge_worker_handoff_failures_total'), 0);
  } finally {
    farEnd.close();
  }
});

/**
 * The far end as a raw UDP UAS that rejects every INVITE with 486 (again for each copy of the INVITE
 * or retransmission of it by the edge) and takes the edge's hop-by-hop ACK (§17.1.1.3).
 */
async function rejectingFarEnd(port: number): Promise<{ close(): void }> {
  const s = dgram.createSocket('udp4');
  await new Promise<void>((resolve, reject) => { s.once('error', reject); s.bind(port, '127.0.0.1', () => resolve()); });
  const tags = new Map<string, string>();
  s.on('message', (d, rinfo) => {
    const r = parseMessage(d, { framing: 'udp' });
    if (!r.ok || !r.value.isRequest || r.value.method !== 'INVITE') return;
    const req = r.value;
    const tag = tags.get(req.callId()) ?? randomBytes(4).toString('hex');
    tags.set(req.callId(), tag);
    const text = ['SIP/2.0 486 Busy Here', ...req.values('via').map((v) => `Via: ${v}`), `From: ${req.get('from') ?? ''}`,
      `To: ${req.get('to') ?? ''};tag=${tag}`, `Call-ID: ${req.callId()}`, `CSeq: ${req.get('cseq') ?? ''}`, 'Content-Length: 0', '', ''].join('\r\n');
    s.send(Buffer.from(text, 'latin1'), rinfo.port, rinfo.address);
  });
  return { close: () => s.close() };
}

/** An OPTIONS to the edge itself from `leg` (§11), resolved when its 200 is in. */
async function optionsAnswered(leg: Leg, edgePort: number, from: string, callId: string, seq: number): Promise<void> {
  const branch = `z9hG4bK${randomBytes(6).toString('hex')}`;
  leg.send([`OPTIONS sip:127.0.0.1:${edgePort} SIP/2.0`, `Via: SIP/2.0/UDP 127.0.0.1:${leg.port};branch=${branch};rport`, from,
    `To: <sip:127.0.0.1:${edgePort}>`, `Call-ID: ${callId}`, 'Max-Forwards: 70', `CSeq: ${seq} OPTIONS`, 'Content-Length: 0', '', ''].join('\r\n'));
  await leg.next('200 for the OPTIONS', (m) => !m.isRequest && m.cseq().method === 'OPTIONS' && m.via().branch === branch && m.status === 200);
}

/**
 * A PBX that sends the ACK for a 486 from another UDP port than its INVITE (its INVITE socket only
 * sends): the ACK carries the INVITE's top Via as sent, branch and sent-by (§17.1.1.3). Then, from
 * the INVITE's socket, the INVITE once more (a late copy) and an OPTIONS to the edge itself: the
 * worker holding the INVITE server transaction takes both in order, so when the OPTIONS's 200 is in,
 * a Completed transaction (the ACK lost) would have resent the 486 before it, a Confirmed one (the
 * ACK absorbed, §17.2.1) absorbs the copy. Resolves true once a round saw no 486 (Confirmed).
 */
async function rejectedAckedFromAnotherPort(edgePort: number): Promise<boolean> {
  const invite = await udpLeg(edgePort);
  const ack = await udpLeg(edgePort);
  try {
    const id = randomBytes(6).toString('hex');
    const uri = `sip:4969123456789@127.0.0.1:${edgePort}`;
    const via = `Via: SIP/2.0/UDP 127.0.0.1:${invite.port};branch=z9hG4bK${id};rport`;
    const from = `From: <sip:201@127.0.0.1>;tag=${id}`;
    const inviteText = [`INVITE ${uri} SIP/2.0`, via, from, `To: <${uri}>`, `Call-ID: ${id}@pbx`, 'Max-Forwards: 70', 'CSeq: 1 INVITE',
      `Contact: <sip:201@127.0.0.1:${invite.port}>`, 'Content-Type: application/sdp', `Content-Length: ${SDP.length}`, '', SDP].join('\r\n');
    const is486 = (m: SipMessage): boolean => !m.isRequest && m.cseq().method === 'INVITE' && m.status === 486;
    invite.send(inviteText);
    // Timer A as a UAC does it, until the final response (the edge's 100 may come first).
    const again = setInterval(() => invite.send(inviteText), 500);
    let final: SipMessage;
    try {
      final = await invite.next('486 for the INVITE', is486);
    } finally {
      clearInterval(again);
    }
    ack.send([`ACK ${uri} SIP/2.0`, via, from, `To: ${final.get('to') ?? ''}`, `Call-ID: ${id}@pbx`, 'Max-Forwards: 70', 'CSeq: 1 ACK',
      'Content-Length: 0', '', ''].join('\r\n'));
    // An OPTIONS to the edge from the ACK's socket lands on the same worker and is taken after it:
    // once its 200 is in, the ACK was processed there or handed on to the worker holding the INVITE.
    await optionsAnswered(ack, edgePort, from, `${id}@pbx-ack`, 1);
    // A lost ACK leaves the transaction Completed until Timer H (64*T1): every round's copy gets a
    // 486. Taken, it is Confirmed: a round gets none. More than one round only when the first raced
    // the handoff datagram into the INVITE's worker (or a Timer G resend crossed the ACK): bounded,
    // so a lost ACK fails the call.
    for (let round = 1; round <= 5; round++) {
      const before = invite.unclaimed(is486);
      invite.send(inviteText);
      await optionsAnswered(invite, edgePort, from, `${id}@pbx-options`, round);
      if (invite.unclaimed(is486) === before) return true;
    }
    return false;
  } finally {
    invite.close();
    ack.close();
  }
}

test('workers: 2 — the ACK for a 486 sent from another UDP port than its INVITE goes round to the worker holding the INVITE: every INVITE server transaction is Confirmed', async () => {
  const far = await freeUdpPort();
  const edge = await startEdge(far);
  // Each call's two source ports hash to the two workers independently: no ACK crossing in 20 calls is 2^-20.
  const calls = 20;
  const farEnd = await rejectingFarEnd(far);
  try {
    const udp = edge.port('inside', 'udp');
    const confirmed = await Promise.all(Array.from({ length: calls }, () => rejectedAckedFromAnotherPort(udp)));
    assert.deepEqual(confirmed, Array.from({ length: calls }, () => true), 'every 486 ACKed into its transaction (no 486 for a late INVITE copy)');
    const acks = await metric(edge, 'sips_edge_worker_handoffs_total', '{kind="ack"}');
    assert.ok(acks > 0, `ACKs handed to the worker holding their INVITE (${acks})`);
    assert.equal(await metric(edge, 'sips_edge_worker_handoff_failures_total'), 0);
  } finally {
    farEnd.close();
  }
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
