/**
 * Issue 14, rtpengine lost and back, end to end (test/helpers/media-rig.ts): the daemon is killed by
 * PID while an anchored call is up; the edge notices by its 1 s ping (the `media-instance-down`
 * line is waited for), refuses new anchored calls with 503 and reports not ready, still relays the
 * BYE of the call it held; after a restart on the same ng port (`media-instance-up`) new calls work.
 */
import { after, before, it } from 'node:test';
import assert from 'node:assert/strict';
import { MediaRig, UdpCarrier } from '../../helpers/media-rig.js';

const NUMBER = '4969123456789';
let rig: MediaRig;
let carrier: UdpCarrier;

before(async () => {
  rig = await MediaRig.start();
  carrier = await UdpCarrier.start();
});

after(async () => {
  await carrier?.stop();
  await rig?.stop();
});

/** The first line of `event` logged after line `mark` (bounded wait). */
function lineAfter(event: string, mark: number, ms = 10_000): Promise<unknown> {
  return rig.edge.line(event, (l) => l.event === event && rig.edge.logs.indexOf(l) >= mark, ms);
}

async function notReady(): Promise<{ status: number; notReady: string[] }> {
  const r = await rig.admin('/readyz');
  return { status: r.status, notReady: (JSON.parse(r.text) as { notReady: string[] }).notReady };
}

it('rtpengine killed: new anchored calls 503 SIPS_ERR_MEDIA_UNAVAILABLE, /readyz 503 with media:, the held call\'s BYE 200; restarted: calls anchored again', { timeout: 60_000 }, async () => {
  rig.reset();
  assert.ok(!(await notReady()).notReady.some((n) => n.startsWith('media:')), 'ready for media at start');
  const edgePort = rig.edge.port('inside', 'udp');
  let refused: { status: number | undefined; warning: string } | null = null;
  let ready: { status: number; notReady: string[] } | null = null;

  const held = await carrier.call(edgePort, NUMBER, async (answer) => {
    assert.match(answer, /^m=audio \d+ RTP\/AVP /m, 'the held call is anchored');
    const mark = rig.edge.logs.length;
    await rig.rtp.kill();
    await lineAfter('media-instance-down', mark);
    const invites = rig.lb01.invites.length + rig.lb02.invites.length;
    const fresh = await carrier.call(edgePort, NUMBER);
    assert.equal(rig.lb01.invites.length + rig.lb02.invites.length, invites, 'the refused call reached no lb');
    refused = { status: fresh.final?.status, warning: fresh.final?.get('warning') ?? '' };
    ready = await notReady();
  });

  assert.ok(refused !== null && ready !== null);
  const r = refused as { status: number | undefined; warning: string };
  assert.equal(r.status, 503);
  assert.match(r.warning, /SIPS_ERR_MEDIA_UNAVAILABLE/);
  const rd = ready as { status: number; notReady: string[] };
  assert.equal(rd.status, 503);
  assert.ok(rd.notReady.some((n) => n.startsWith('media:') && n.includes('carrier')), JSON.stringify(rd.notReady));
  assert.equal(held.final?.status, 200);
  assert.equal(held.byeStatus, 200, 'the BYE of the call held before the kill still goes through');

  const mark = rig.edge.logs.length;
  await rig.rtp.restart();
  await lineAfter('media-instance-up', mark);
  assert.ok(!(await notReady()).notReady.some((n) => n.startsWith('media:')), 'ready for media again');
  const anchored = await rig.metric('sips_edge_media_anchored_calls_total', 'instance="rtp1"');
  const again = await carrier.call(edgePort, NUMBER);
  assert.equal(again.final?.status, 200, again.error ?? '');
  assert.match(again.answer ?? '', /^m=audio \d+ RTP\/AVP /m);
  assert.equal(await rig.metric('sips_edge_media_anchored_calls_total', 'instance="rtp1"'), anchored + 1, 'anchored on the restarted instance');
  assert.equal(again.byeStatus, 200);
  await rig.gone(again.callId);
});
