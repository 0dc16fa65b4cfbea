import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildResponse } from '../../../src/message/build-response.js';
import type { SipMessage } from '../../../src/message/message.js';
import { TIMER_D_UNRELIABLE_MS, txTiming } from '../../../src/transaction/fsm.js';
import { inviteClientTransition, startInviteClient, type InviteClientState } from '../../../src/transaction/invite-client.js';
import { inviteServerTransition, initialInviteServer, type InviteServerState } from '../../../src/transaction/invite-server.js';
import { nonInviteClientTransition, startNonInviteClient, type NonInviteClientState } from '../../../src/transaction/non-invite-client.js';
import { nonInviteServerTransition, initialNonInviteServer } from '../../../src/transaction/non-invite-server.js';
import { DEFAULT_TIMERS } from '../../../src/transaction/types.js';
import { request, responseTo } from '../../helpers/transaction-messages.js';

/** The pure machines, without drivers: each transition's state and actions. */

const UDP = txTiming(DEFAULT_TIMERS, 'udp');
const TCP = txTiming(DEFAULT_TIMERS, 'tcp');
const kinds = (actions: readonly { kind: string; timer?: string }[]) => actions.map((a) => (a.timer === undefined ? a.kind : `${a.kind}:${a.timer}`));

test('INVITE client machine: start, A doubling, 1xx, 2xx, non-2xx, D and M values', () => {
  const invite = request();
  const s0 = startInviteClient({ ...UDP, request: invite });
  assert.equal(s0.state.name, 'Calling');
  assert.deepEqual(s0.actions, [{ kind: 'send-request' }, { kind: 'start-timer', timer: 'A', ms: 500 }, { kind: 'start-timer', timer: 'B', ms: 32_000 }]);
  let s: InviteClientState = s0.state;
  for (const ms of [1000, 2000, 4000, 8000]) {
    const step = inviteClientTransition(s, { kind: 'timer', timer: 'A' });
    assert.deepEqual(step.actions, [{ kind: 'send-request' }, { kind: 'start-timer', timer: 'A', ms }]);
    s = step.state;
  }
  const ringing = inviteClientTransition(s, { kind: 'response', response: responseTo(invite, 180) });
  assert.equal(ringing.state.name, 'Proceeding');
  assert.deepEqual(kinds(ringing.actions), ['cancel-timer:A', 'cancel-timer:B', 'pass-response']);
  const ok = inviteClientTransition(ringing.state, { kind: 'response', response: responseTo(invite, 200) });
  assert.equal(ok.state.name, 'Accepted');
  assert.deepEqual(ok.actions.find((a) => a.kind === 'start-timer'), { kind: 'start-timer', timer: 'M', ms: 32_000 });
  assert.ok(!ok.actions.some((a) => a.kind === 'send-ack'));
  const busy = inviteClientTransition(ringing.state, { kind: 'response', response: responseTo(invite, 486) });
  assert.equal(busy.state.name, 'Completed');
  assert.deepEqual(kinds(busy.actions), ['cancel-timer:A', 'cancel-timer:B', 'send-ack', 'start-timer:D', 'pass-response']);
  assert.deepEqual(busy.actions.find((a) => a.kind === 'start-timer'), { kind: 'start-timer', timer: 'D', ms: TIMER_D_UNRELIABLE_MS });
  const again = inviteClientTransition(busy.state, { kind: 'response', response: responseTo(invite, 486) });
  assert.deepEqual(kinds(again.actions), ['send-ack']);
  assert.equal(inviteClientTransition(busy.state, { kind: 'timer', timer: 'D' }).state.name, 'Terminated');
  assert.equal(inviteClientTransition(ok.state, { kind: 'timer', timer: 'M' }).state.name, 'Terminated');
  const timeout = inviteClientTransition(s0.state, { kind: 'timer', timer: 'B' });
  assert.deepEqual(kinds(timeout.actions), ['cancel-timer:A', 'timeout', 'terminated']);
  const fail = inviteClientTransition(s0.state, { kind: 'transport-error', failure: { reason: 'r', message: 'm' } });
  assert.deepEqual(kinds(fail.actions), ['cancel-timer:A', 'cancel-timer:B', 'transport-error', 'terminated']);
  assert.deepEqual(inviteClientTransition(fail.state, { kind: 'response', response: responseTo(invite, 200) }).actions, []);
});

test('INVITE client machine over TCP: no Timer A; non-2xx -> Terminated at once (D = 0)', () => {
  const invite = request({ transport: 'TCP' });
  const s0 = startInviteClient({ ...TCP, request: invite });
  assert.deepEqual(kinds(s0.actions), ['send-request', 'start-timer:B']);
  const busy = inviteClientTransition(s0.state, { kind: 'response', response: responseTo(invite, 603) });
  assert.equal(busy.state.name, 'Terminated');
  assert.deepEqual(kinds(busy.actions), ['cancel-timer:A', 'cancel-timer:B', 'send-ack', 'pass-response', 'terminated']);
});

test('non-INVITE client machine: E capped at T2, T2 in Proceeding, K = T4 or 0', () => {
  const req = request({ method: 'OPTIONS' });
  const s0 = startNonInviteClient({ ...UDP, request: req });
  assert.equal(s0.state.name, 'Trying');
  let s: NonInviteClientState = s0.state;
  const seen: number[] = [];
  for (let i = 0; i < 5; i++) {
    const step = nonInviteClientTransition(s, { kind: 'timer', timer: 'E' });
    const t = step.actions.find((a) => a.kind === 'start-timer');
    if (t?.kind === 'start-timer') seen.push(t.ms);
    s = step.state;
  }
  assert.deepEqual(seen, [1000, 2000, 4000, 4000, 4000]);
  const prov = nonInviteClientTransition(s0.state, { kind: 'response', response: responseTo(req, 100) });
  assert.equal(prov.state.name, 'Proceeding');
  assert.deepEqual(kinds(prov.actions), ['pass-response']);
  const e = nonInviteClientTransition(prov.state, { kind: 'timer', timer: 'E' });
  assert.deepEqual(e.actions, [{ kind: 'send-request' }, { kind: 'start-timer', timer: 'E', ms: 4000 }]);
  const fin = nonInviteClientTransition(prov.state, { kind: 'response', response: responseTo(req, 200) });
  assert.equal(fin.state.name, 'Completed');
  assert.deepEqual(fin.actions.find((a) => a.kind === 'start-timer'), { kind: 'start-timer', timer: 'K', ms: 5000 });
  const tcp = startNonInviteClient({ ...TCP, request: req });
  assert.deepEqual(kinds(tcp.actions), ['send-request', 'start-timer:F']);
  assert.equal(nonInviteClientTransition(tcp.state, { kind: 'response', response: responseTo(req, 200) }).state.name, 'Terminated');
});

test('INVITE server machine: G doubling capped at T2, H, ACK -> Confirmed, I, 2xx -> Accepted with L', () => {
  const invite = request();
  const s0: InviteServerState = initialInviteServer(UDP);
  assert.equal(s0.name, 'Proceeding');
  const prov = inviteServerTransition(s0, { kind: 'tu-response', response: buildResponse(invite, 180) });
  assert.equal(prov.state.name, 'Proceeding');
  const done = inviteServerTransition(prov.state, { kind: 'tu-response', response: buildResponse(invite, 486) });
  assert.equal(done.state.name, 'Completed');
  assert.deepEqual(kinds(done.actions), ['send-response', 'start-timer:G', 'start-timer:H']);
  let s: InviteServerState = done.state;
  const g: number[] = [];
  for (let i = 0; i < 5; i++) {
    const step = inviteServerTransition(s, { kind: 'timer', timer: 'G' });
    const t = step.actions.find((a) => a.kind === 'start-timer');
    if (t?.kind === 'start-timer') g.push(t.ms);
    s = step.state;
  }
  assert.deepEqual(g, [1000, 2000, 4000, 4000, 4000]);
  const ack: SipMessage = request({ method: 'ACK' });
  const src = { transport: 'udp', address: '192.0.2.1', port: 5060, localAddress: '203.0.113.1', localPort: 5060 } as const;
  const confirmed = inviteServerTransition(s, { kind: 'ack', ack, source: src });
  assert.equal(confirmed.state.name, 'Confirmed');
  assert.deepEqual(confirmed.actions.find((a) => a.kind === 'start-timer'), { kind: 'start-timer', timer: 'I', ms: 5000 });
  assert.equal(inviteServerTransition(confirmed.state, { kind: 'timer', timer: 'I' }).state.name, 'Terminated');
  const h = inviteServerTransition(s, { kind: 'timer', timer: 'H' });
  assert.deepEqual(kinds(h.actions), ['cancel-timer:G', 'timeout', 'terminated']);
  const accepted = inviteServerTransition(s0, { kind: 'tu-response', response: buildResponse(invite, 200) });
  assert.equal(accepted.state.name, 'Accepted');
  assert.deepEqual(accepted.actions.find((a) => a.kind === 'start-timer'), { kind: 'start-timer', timer: 'L', ms: 32_000 });
  assert.deepEqual(kinds(inviteServerTransition(accepted.state, { kind: 'ack', ack, source: src }).actions), ['pass-ack']);
  assert.deepEqual(inviteServerTransition(accepted.state, { kind: 'request' }).actions, []);
  assert.equal(inviteServerTransition(accepted.state, { kind: 'timer', timer: 'L' }).state.name, 'Terminated');
  const tcpDone = inviteServerTransition(initialInviteServer(TCP), { kind: 'tu-response', response: buildResponse(invite, 486) });
  assert.deepEqual(kinds(tcpDone.actions), ['send-response', 'start-timer:H']);
  assert.equal(inviteServerTransition(tcpDone.state, { kind: 'ack', ack, source: src }).state.name, 'Terminated');
});

test('non-INVITE server machine: Trying discards, Proceeding resends the 1xx, Completed resends the final, J', () => {
  const req = request({ method: 'BYE' });
  const s0 = initialNonInviteServer(UDP);
  assert.deepEqual(nonInviteServerTransition(s0, { kind: 'request' }).actions, []);
  const p = nonInviteServerTransition(s0, { kind: 'tu-response', response: buildResponse(req, 100) });
  assert.equal(p.state.name, 'Proceeding');
  assert.deepEqual(kinds(nonInviteServerTransition(p.state, { kind: 'request' }).actions), ['send-response']);
  const c = nonInviteServerTransition(p.state, { kind: 'tu-response', response: buildResponse(req, 200) });
  assert.equal(c.state.name, 'Completed');
  assert.deepEqual(c.actions.find((a) => a.kind === 'start-timer'), { kind: 'start-timer', timer: 'J', ms: 32_000 });
  assert.deepEqual(nonInviteServerTransition(c.state, { kind: 'tu-response', response: buildResponse(req, 500) }).actions, []);
  assert.equal(nonInviteServerTransition(c.state, { kind: 'timer', timer: 'J' }).state.name, 'Terminated');
  const tcp = nonInviteServerTransition(initialNonInviteServer(TCP), { kind: 'tu-response', response: buildResponse(req, 200) });
  assert.deepEqual(kinds(tcp.actions), ['send-response', 'terminated']);
});

test('custom T1/T2/T4 flow through every derived timer', () => {
  const t = txTiming({ T1: 100, T2: 1000, T4: 2000, timerC: 180_000 }, 'udp');
  const s = startInviteClient({ ...t, request: request() });
  assert.deepEqual(s.actions.slice(1), [{ kind: 'start-timer', timer: 'A', ms: 100 }, { kind: 'start-timer', timer: 'B', ms: 6400 }]);
});
