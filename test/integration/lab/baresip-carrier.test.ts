/**
 * test/helpers/baresip.ts against real peers: Debian's baresip as the carrier-side UA (plain RTP),
 * calling and called by a lab UA (src/lab/lab-ua.ts) whose media is a carrier CallMedia endpoint.
 * Proves the helper (ready, dial, auto-answer, hang up, events) and that baresip's RTP really
 * reaches the lab's media endpoint and the lab's reaches baresip.
 */
import assert from 'node:assert/strict';
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { after, before, describe, it } from 'node:test';
import { parseMessage } from '../../../src/message/parse-message.js';
import type { SipMessage } from '../../../src/message/message.js';
import { LabUa, type Hop } from '../../../src/lab/lab-ua.js';
import type { CallMedia } from '../../../src/lab/media/call-media.js';
import { openCarrierMedia } from '../../../src/lab/media/rtp-carrier.js';
import { readAudio } from '../../../src/lab/media/sdp-media.js';
import { Baresip } from '../../helpers/baresip.js';

/** A lab UA on UDP 127.0.0.1:0 that answers INVITEs with a carrier (RTP) CallMedia. */
class MediaUa {
  readonly ua: LabUa;
  readonly byes: string[] = [];
  media: CallMedia | null = null;
  offers: string[] = [];
  private constructor(readonly socket: Socket, readonly port: number) {
    this.ua = new LabUa({
      sentBy: `127.0.0.1:${port}`,
      viaTransport: 'UDP',
      agent: 'lab',
      t1Ms: 500,
      onInvite: async (req) => {
        const offer = req.body.toString('latin1');
        this.offers.push(offer);
        const media = await openCarrierMedia({ user: 'lab' });
        this.media = media;
        const answer = media.answer(offer);
        if (answer === null) return { status: 488, warning: media.refusal ?? 'refused' };
        media.start({ packets: 50 });
        return { status: 200, sdp: answer };
      },
      onBye: (callId) => this.byes.push(callId),
    });
    socket.on('message', (data: Buffer, rinfo: RemoteInfo) => {
      const r = parseMessage(data, { framing: 'udp' });
      if (!r.ok) return;
      const msg: SipMessage = r.value;
      if (msg.isRequest) {
        const via = msg.via();
        const port = typeof via.rport === 'number' ? via.rport : via.rport === null ? rinfo.port : via.port ?? 5060;
        this.ua.receive(msg, this.hop(via.received ?? via.host, port));
      } else {
        this.ua.receive(msg, this.hop(rinfo.address, rinfo.port));
      }
    });
  }

  static async open(): Promise<MediaUa> {
    const s = createSocket('udp4');
    await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
    s.on('error', () => undefined);
    return new MediaUa(s, s.address().port);
  }

  hop(address: string, port: number): Hop {
    return { reliable: false, label: `lab -> ${address}:${port}`, send: (d) => this.socket.send(d, port, address) };
  }

  async close(): Promise<void> {
    this.ua.close();
    await this.media?.close();
    await new Promise<void>((r) => this.socket.close(() => r()));
  }
}

describe('baresip as the carrier UA (test/helpers/baresip.ts)', () => {
  let bs: Baresip;
  let lab: MediaUa;
  before(async () => {
    bs = await Baresip.start({ answerMode: 'auto' });
    lab = await MediaUa.open();
  });
  after(async () => {
    await lab?.close();
    await bs?.stop();
  });

  it('baresip dials the lab UA: call established, RTP both ways, baresip hangs up, call closed', async () => {
    await bs.dial(`sip:4969123456789@127.0.0.1:${lab.port}`);
    const est = await bs.waitForEvent('CALL_ESTABLISHED');
    assert.equal(est.direction, 'outgoing');
    // baresip offered plain RTP from loopback, no crypto (SRTP off).
    const offer = readAudio(lab.offers[0]!);
    assert.equal(offer?.proto, 'RTP/AVP');
    assert.equal(offer?.address, '127.0.0.1');
    assert.deepEqual(offer?.crypto, []);
    const media = lab.media!;
    // baresip's tone (not the lab pattern) arrives at the lab's media endpoint, from the SDP address.
    const got = await media.waitFor((s) => s.outOfPattern >= 25);
    assert.equal(got.payloadOk, 0);
    assert.equal(got.authFailed, 0);
    assert.equal(got.source, `127.0.0.1:${offer?.port}`);
    await media.done();
    assert.equal(media.stats().sent, 50);
    const status = await bs.callStatus();
    assert.match(status, /ESTABLISHED/);
    assert.match(status, /PCMU\/8000/);
    await bs.hangup();
    const closed = await bs.waitForEvent('CALL_CLOSED');
    assert.equal(closed.direction, 'outgoing');
    await bs.waitForOutput(/terminated \(duration/);
    assert.equal(lab.byes.length, 1);
  });

  it('the lab UA calls baresip (answermode auto): 200 with an RTP/AVP answer on loopback, BYE 200, call closed', async () => {
    const media = await openCarrierMedia({ user: 'lab' });
    try {
      const result = await lab.ua.call({
        hop: lab.hop('127.0.0.1', bs.sipPort),
        requestUri: bs.uri,
        from: `sip:lab@127.0.0.1:${lab.port}`,
        to: bs.uri,
        sdp: media.offer(),
      });
      assert.equal(result.final?.status, 200);
      const answer = readAudio(result.answer ?? '');
      assert.equal(answer?.proto, 'RTP/AVP');
      assert.equal(answer?.address, '127.0.0.1');
      assert.ok(answer?.payloadTypes.includes(0));
      assert.equal(result.byeStatus, 200);
      assert.equal((await bs.waitForEvent('CALL_ESTABLISHED')).direction, 'incoming');
      await bs.waitForEvent('CALL_CLOSED');
    } finally {
      await media.close();
    }
  });
});
