/**
 * Issue 14, media anchoring end to end (test/helpers/media-rig.ts): a SIPp carrier that speaks
 * only RTP, anchored through a real rtpengine, toward TLS lb stand-ins that must see SRTP; the lab's
 * lb03 calls in over TLS with SRTP. Tests run in order and share the rig; each sets the lb scripts
 * it relies on (failover last: a 503 may count against lb01).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { SipMessage } from '../../../src/message/message.js';
import { labFiles } from '../../helpers/lab-region.js';
import { openCarrierMedia } from '../../../src/lab/media/rtp-carrier.js';
import { openVendorMedia } from '../../../src/lab/media/srtp-vendor.js';
import { LB03, MediaRig, PASSTHROUGH_ADDRESS, UdpCarrier } from '../../helpers/media-rig.js';
import type { SippResult } from '../../helpers/sipp.js';

const TEST_TIMEOUT = 30_000;
const ALLOWED = ['AES_CM_128_HMAC_SHA1_80', 'AES_CM_128_HMAC_SHA1_32'];

let rig: MediaRig;

before(async () => {
  rig = await MediaRig.start();
});

after(async () => {
  await rig?.stop();
});

const lines = (sdp: string, prefix: string): string[] => sdp.split(/\r?\n/).filter((l) => l.startsWith(prefix));
const body = (m: SipMessage): string => m.body.toString('latin1');
const ok = (r: SippResult): void => assert.equal(r.code, 0, `sipp failed:\n${r.stdout.slice(-1500)}\n${r.stderr}\n${r.traces.slice(-4000)}`);

/** What rtpengine wrote toward the vendor: SRTP with allowed suites only, its outside address, no ICE. */
function assertVendorOffer(sdp: string): void {
  assert.match(lines(sdp, 'm=audio')[0] ?? '', /^m=audio \d+ RTP\/SAVP 0 101$/, sdp);
  const suites = lines(sdp, 'a=crypto:').map((l) => l.split(' ')[1]!);
  assert.ok(suites.length >= 1, 'the offer toward the vendor carries a=crypto');
  for (const s of suites) assert.ok(ALLOWED.includes(s), `suite ${s} is not allowed`);
  assert.deepEqual(lines(sdp, 'c='), ['c=IN IP4 127.0.0.2']);
  assert.deepEqual(lines(sdp, 'a=candidate'), []);
  assert.deepEqual(lines(sdp, 'a=ice-'), []);
}

describe('media anchoring through rtpengine (carrier: media anchor, srtp none)', () => {
  it('outbound: RTP/AVP from the carrier reaches the lb as RTP/SAVP with a=crypto on 127.0.0.2; the carrier gets RTP/AVP on 127.0.0.1; logged, counted, deleted after BYE', { timeout: TEST_TIMEOUT }, async () => {
    rig.reset();
    const before = rig.lb01.invites.length;
    ok(await rig.uac('uac-anchor-call.xml'));
    assert.equal(rig.lb01.invites.length, before + 1, 'lb01 got the INVITE');
    const invite = rig.lb01.invites.at(-1)!;
    const callId = invite.callId();
    const offer = body(invite);
    assertVendorOffer(offer);
    assert.deepEqual(lines(offer, 'a=rtpmap:101'), ['a=rtpmap:101 telephone-event/8000']);
    assert.doesNotMatch(offer, /c=IN IP4 127\.0\.0\.1\b/, 'the carrier\'s own address does not leak to the vendor');
    await rig.lb01.until('BYE', () => rig.lb01.count(rig.lb01.byes, callId) === 1);

    const tx = await rig.edge.line('INVITE transaction line', (l) => l.event === 'transaction' && l['method'] === 'INVITE' && l['callId'] === callId);
    assert.equal(tx['media'], 'rtp1', JSON.stringify(tx));
    assert.ok((await rig.metric('sips_edge_media_anchored_calls_total', 'instance="rtp1"')) >= 1);
    await rig.gone(callId);
    assert.ok(!(await rig.calls()).includes(callId));
    // The SDES key rtpengine generated toward the vendor is in no edge log line.
    const key = lines(offer, 'a=crypto:')[0]!.split('inline:')[1]!.split('|')[0]!;
    assert.ok(!rig.edge.logs.some((l) => JSON.stringify(l).includes(key)) && !rig.edge.stderr.includes(key), 'an SDES key is in the edge log');
  });

  it('inbound: lb03 offers SRTP over TLS; the carrier is offered RTP/AVP; the answer toward lb03 is SRTP with one a=crypto of an offered tag', { timeout: TEST_TIMEOUT }, async () => {
    const uas = await rig.carrierUas('uas-anchor-answer.xml');
    try {
      const call = await rig.region.callEdge({ via: LB03, edge: { name: labFiles(rig.pki).edgeName, address: '127.0.0.1', port: rig.edge.port('outside', 'tls') }, number: '+4930555000', caller: '+13175550100', srtp: true });
      assert.ok(call.tls.ok, JSON.stringify(call.tls));
      assert.equal(call.result?.final?.status, 200, call.result?.error ?? '');
      assert.equal(call.result?.byeStatus, 200);
      const answer = call.result?.answer ?? '';
      assert.match(lines(answer, 'm=audio')[0] ?? '', /^m=audio \d+ RTP\/SAVP /, answer);
      const crypto = lines(answer, 'a=crypto:');
      assert.equal(crypto.length, 1, answer);
      const [tag, suite] = crypto[0]!.slice('a=crypto:'.length).split(' ');
      const offered = lines(call.offer, 'a=crypto:').map((l) => l.slice('a=crypto:'.length).split(' ').slice(0, 2).join(' '));
      assert.ok(offered.includes(`${tag} ${suite}`), `answered ${tag} ${suite}, offered ${offered.join(', ')}`);
      assert.deepEqual(lines(answer, 'c='), ['c=IN IP4 127.0.0.2']);
      ok(await uas.done);
      await rig.gone(call.callId!);
    } finally {
      uas.kill();
    }
  });

  it('re-INVITE to hold (a=sendonly) and back: each 200, each SDP rewritten (SRTP toward the lb, RTP/AVP toward the carrier)', { timeout: TEST_TIMEOUT }, async () => {
    rig.reset();
    const before = rig.lb01.invites.length;
    ok(await rig.uac('uac-anchor-hold.xml'));
    const invites = rig.lb01.invites.slice(before);
    assert.equal(invites.length, 3, 'initial INVITE and two re-INVITEs at lb01');
    const callId = invites[0]!.callId();
    assert.ok(invites.every((m) => m.callId() === callId));
    for (const m of invites) assertVendorOffer(body(m));
    assert.deepEqual(lines(body(invites[1]!), 'a=sendonly'), ['a=sendonly'], 'hold reaches the vendor');
    assert.deepEqual(lines(body(invites[2]!), 'a=sendonly'), [], 'and so does the resume');
    await rig.lb01.until('BYE', () => rig.lb01.count(rig.lb01.byes, callId) === 1);
    await rig.gone(callId);
  });

  it('CANCEL after 180: 487 to the carrier and no session left in rtpengine', { timeout: TEST_TIMEOUT }, async () => {
    rig.reset();
    rig.lb01.script = { onInvite: (c) => c.respond(180) };
    const before = rig.lb01.invites.length;
    ok(await rig.uac('uac-anchor-cancel.xml'));
    assert.equal(rig.lb01.invites.length, before + 1);
    const callId = rig.lb01.invites.at(-1)!.callId();
    assert.equal(rig.lb01.count(rig.lb01.cancels, callId), 1, 'the CANCEL reached lb01');
    await rig.gone(callId);
    assert.ok(!(await rig.calls()).includes(callId));
  });

  it('486 from the far end: relayed to the carrier and no session left in rtpengine', { timeout: TEST_TIMEOUT }, async () => {
    rig.reset();
    rig.lb01.script = { onInvite: (c) => { c.respond(180); c.respond(486); } };
    rig.lb02.script = { onInvite: (c) => c.respond(500) };
    const before = rig.lb01.invites.length;
    ok(await rig.uac('uac-anchor-486.xml'));
    const callId = rig.lb01.invites.at(-1)!.callId();
    assert.equal(rig.lb01.invites.length, before + 1);
    assert.equal(rig.lb02.count(rig.lb02.invites, callId), 0, 'a 486 is final: no failover');
    await rig.gone(callId);
    assert.ok(!(await rig.calls()).includes(callId));
  });

  it('a clear-RTP offer from the passthrough peer toward the vendor still gets 488 SIPS_ERR_PROXY_SRTP_REQUIRED', { timeout: TEST_TIMEOUT }, async () => {
    rig.reset();
    const before = rig.lb01.invites.length + rig.lb02.invites.length;
    ok(await rig.uac('uac-clear-offer-expect-488.xml', { from: PASSTHROUGH_ADDRESS }));
    const reply = await rig.edge.line('488 local reply', (l) => l.event === 'local-reply' && l['code'] === 'SIPS_ERR_PROXY_SRTP_REQUIRED');
    assert.equal(reply['status'], 488);
    assert.match(String(reply['peer']), /^127\.0\.0\.3:/, 'sent by the passthrough peer, not the anchored carrier');
    assert.equal(rig.lb01.invites.length + rig.lb02.invites.length, before, 'no lb saw it');
  });

  it('media flows: 50 RTP packets from the carrier reach the lb as SRTP that authenticates with the key rtpengine wrote in the offer, and 50 back', { timeout: TEST_TIMEOUT }, async () => {
    rig.reset();
    const carrierMedia = await openCarrierMedia({ user: 'carrier' });
    const vendorMedia = await openVendorMedia({ user: 'lb01' });
    const ua = await UdpCarrier.start();
    let vendorAnswer: string | null = null;
    rig.lb01.script = {
      onInvite: (c) => {
        vendorAnswer = vendorMedia.answer(body(c.invite));
        if (vendorAnswer === null) return c.respond(488);
        c.respond(180);
        c.respond(200, vendorAnswer);
      },
    };
    try {
      const call = await ua.call(rig.edge.port('inside', 'udp'), '4969123456789', async (answer) => {
        assert.ok(carrierMedia.accept(answer), `the carrier refused the edge's answer: ${carrierMedia.refusal}`);
        // Both directions start once the carrier has the 200: rtpengine has both SDPs by then.
        vendorMedia.start({ packets: 50 });
        carrierMedia.start({ packets: 50 });
        await Promise.all([carrierMedia.done(), vendorMedia.done()]);
        const v = await vendorMedia.waitFor((s) => s.payloadOk >= 45);
        const c = await carrierMedia.waitFor((s) => s.payloadOk >= 45);
        assert.equal(v.authFailed, 0);
        assert.equal(v.authenticated, v.payloadOk, 'every payload the lb accepted was SRTP under the offered key');
        assert.equal(c.authFailed, 0);
        assert.equal(c.authenticated, 0, 'the carrier gets plain RTP');
      }, carrierMedia.offer());
      assert.equal(call.final?.status, 200, call.error ?? '');
      assert.ok(vendorAnswer !== null, `the lb refused rtpengine's offer: ${vendorMedia.refusal}`);
      assert.match(vendorAnswer ?? '', /a=crypto:\d+ AES_CM_128_HMAC_SHA1_(80|32) inline:/);
      assert.equal(call.byeStatus, 200);
      await rig.gone(call.callId);
    } finally {
      await ua.stop();
      await carrierMedia.close();
      await vendorMedia.close();
    }
  });

  it('failover: lb01 answers 503, lb02 gets its own rtpengine offer and the call completes', { timeout: TEST_TIMEOUT }, async () => {
    rig.reset();
    rig.lb01.script = { onInvite: (c) => c.respond(503) };
    const offers = await rig.metric('sips_edge_media_commands_total', 'command="offer"', 'result="ok"');
    const before = rig.lb01.invites.length;
    ok(await rig.uac('uac-anchor-call.xml'));
    assert.equal(rig.lb01.invites.length, before + 1, 'lb01 tried first');
    const callId = rig.lb01.invites.at(-1)!.callId();
    assert.equal(rig.lb02.count(rig.lb02.invites, callId), 1, 'lb02 tried next');
    const second = rig.lb02.invites.find((m) => m.callId() === callId)!;
    assertVendorOffer(body(second));
    assert.ok((await rig.metric('sips_edge_media_commands_total', 'command="offer"', 'result="ok"')) - offers >= 2, 'a re-offer for the second host');
    await rig.lb02.until('BYE', () => rig.lb02.count(rig.lb02.byes, callId) === 1);
    await rig.gone(callId);
  });
});
