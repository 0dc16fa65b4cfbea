/**
 * Two lab media endpoints over real loopback UDP, keyed from SDPs built by sdp-media.ts: SRTP both
 * ways with each side's own key (RFC 4568 §6.1), plain RTP, a wrong key, RTCP, a ROC wrap.
 */
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { after, describe, it } from 'node:test';
import { CallMedia } from '../../../src/lab/media/call-media.js';
import { MediaEndpoint } from '../../../src/lab/media/media-endpoint.js';
import { openCarrierMedia } from '../../../src/lab/media/rtp-carrier.js';
import { newMasterKey } from '../../../src/lab/media/sdp-media.js';
import { openVendorMedia } from '../../../src/lab/media/srtp-vendor.js';

const opened: { close(): Promise<void> }[] = [];
async function track<T extends { close(): Promise<void> }>(p: Promise<T>): Promise<T> {
  const x = await p;
  opened.push(x);
  return x;
}
after(async () => { await Promise.all(opened.map((x) => x.close())); });

const all = (n: number) => (s: { payloadOk: number; authFailed: number; received: number }) => s.received >= n;

describe('lab media over loopback', () => {
  it('SRTP both ways: 50 packets each, every one authenticated with the peer\'s a=crypto key and its payload intact', async () => {
    const a = await track(openVendorMedia({ user: 'a' }));
    const b = await track(openVendorMedia({ user: 'b', address: '127.0.0.2' }));
    const answer = b.answer(a.offer());
    assert.ok(answer !== null);
    assert.ok(a.accept(answer));
    assert.deepEqual(a.remote, { address: '127.0.0.2', port: b.endpoint.port });
    assert.deepEqual(b.remote, { address: '127.0.0.1', port: a.endpoint.port });
    a.start({ packets: 50 });
    b.start({ packets: 50 });
    await Promise.all([a.done(), b.done()]);
    const [sa, sb] = await Promise.all([a.waitFor(all(50)), b.waitFor(all(50))]);
    for (const s of [sa, sb]) {
      assert.equal(s.sent, 50);
      assert.equal(s.received, 50);
      assert.equal(s.authenticated, 50);
      assert.equal(s.payloadOk, 50);
      assert.equal(s.authFailed, 0);
      assert.equal(s.outOfPattern, 0);
    }
    assert.equal(sb.source, `127.0.0.1:${a.endpoint.port}`);
  });

  it('the tag accepted decides the suite: an answer taking AES_CM_128_HMAC_SHA1_32 authenticates 4-byte tags', async () => {
    const a = await track(openVendorMedia({ suites: ['AES_CM_128_HMAC_SHA1_32', 'AES_CM_128_HMAC_SHA1_80'] }));
    const b = await track(openVendorMedia());
    const answer = b.answer(a.offer())!;
    assert.match(answer, /a=crypto:1 AES_CM_128_HMAC_SHA1_32 inline:/);
    assert.ok(a.accept(answer));
    a.start({ packets: 20 });
    const s = await b.waitFor(all(20));
    assert.equal(s.authenticated, 20);
    assert.equal(s.payloadOk, 20);
  });

  it('plain RTP between carrier endpoints: payload checked, nothing to authenticate', async () => {
    const a = await track(openCarrierMedia());
    const b = await track(openCarrierMedia());
    assert.ok(a.accept(b.answer(a.offer())!));
    a.start({ packets: 50 });
    b.start({ packets: 50 });
    const [sa, sb] = await Promise.all([a.waitFor(all(50)), b.waitFor(all(50))]);
    for (const s of [sa, sb]) {
      assert.equal(s.payloadOk, 50);
      assert.equal(s.authenticated, 0);
      assert.equal(s.authFailed, 0);
    }
  });

  it('a wrong receive key: every packet counted as authFailed, none authenticated, no payload accepted', async () => {
    const a = await track(openVendorMedia());
    const b = await track(openVendorMedia());
    assert.ok(a.accept(b.answer(a.offer())!));
    // b decrypts with a key that is not the one in a's SDP (as if a relay had rewritten a=crypto but kept the old key).
    b.endpoint.receive({ srtpRx: newMasterKey('AES_CM_128_HMAC_SHA1_80') });
    a.start({ packets: 30 });
    const s = await b.waitFor(all(30));
    assert.equal(s.authFailed, 30);
    assert.equal(s.authenticated, 0);
    assert.equal(s.payloadOk, 0);
  });

  it('SRTP sent to a plain-RTP receiver is out of pattern, not payloadOk (encryption really happened)', async () => {
    const tx = await track(MediaEndpoint.open());
    const rx = await track(MediaEndpoint.open());
    tx.start({ address: '127.0.0.1', port: rx.port }, { srtpTx: newMasterKey('AES_CM_128_HMAC_SHA1_80'), packets: 10 });
    const s = await rx.waitFor(all(10));
    assert.equal(s.payloadOk, 0);
    assert.equal(s.outOfPattern + s.malformed, 10);
  });

  it('the ROC wraps on the wire: 50 packets from seq 65520 all authenticate', async () => {
    const key = newMasterKey('AES_CM_128_HMAC_SHA1_80');
    const tx = await track(MediaEndpoint.open());
    const rx = await track(MediaEndpoint.open());
    rx.receive({ srtpRx: key });
    tx.start({ address: '127.0.0.1', port: rx.port }, { srtpTx: key, firstSeq: 65520, packets: 50 });
    const s = await rx.waitFor(all(50));
    assert.equal(s.authenticated, 50);
    assert.equal(s.payloadOk, 50);
  });

  it('RTCP (rtcp-mux) is counted apart and never as an auth failure; garbage is malformed', async () => {
    const rx = await track(MediaEndpoint.open());
    rx.receive({ srtpRx: newMasterKey('AES_CM_128_HMAC_SHA1_80') });
    const raw = createSocket('udp4');
    await new Promise<void>((r) => raw.bind(0, '127.0.0.1', () => r()));
    // An SRTCP-looking sender report (PT 200) and a receiver report (PT 201), then 3 bytes of junk.
    const sr = Buffer.concat([Buffer.from([0x80, 200, 0, 6]), Buffer.alloc(24 + 14, 7)]);
    const rr = Buffer.concat([Buffer.from([0x81, 201, 0, 7]), Buffer.alloc(28 + 14, 9)]);
    for (const p of [sr, rr, Buffer.from([1, 2, 3])]) raw.send(p, rx.port, '127.0.0.1');
    const s = await rx.waitFor((x) => x.rtcp + x.received >= 3);
    raw.close();
    assert.equal(s.rtcp, 2);
    assert.equal(s.received, 1);
    assert.equal(s.malformed, 1);
    assert.equal(s.authFailed, 0);
  });

  it('offer/answer refusals: the carrier takes no RTP/SAVP, the vendor no RTP/AVP', async () => {
    const carrier = await track(openCarrierMedia());
    const vendor = await track(openVendorMedia());
    assert.equal(carrier.answer(vendor.offer()), null);
    assert.equal(carrier.refusal, 'wrong-profile');
    assert.equal(vendor.answer(carrier.offer()), null);
    assert.equal(vendor.refusal, 'wrong-profile');
    assert.equal((await track(CallMedia.open({ mode: 'rtp' }))).accept('v=0\r\n'), false);
  });

  it('close() mid-run stops sending and leaves no timer behind', async () => {
    const tx = await MediaEndpoint.open();
    const rx = await track(MediaEndpoint.open());
    const timers = (): number => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    tx.start({ address: '127.0.0.1', port: rx.port }, { packets: 1000 });
    await rx.waitFor((s) => s.received >= 3);
    const during = timers();
    await tx.close();
    await tx.done();
    const sent = tx.stats().sent;
    assert.ok(sent < 1000);
    assert.equal(timers(), during - 1, 'the pacing timer is gone');
    assert.throws(() => tx.start({ address: '127.0.0.1', port: rx.port }), /closed/);
  });
});
