/**
 * The carrier simulator: a UDP SIP endpoint on its own loopback address (the `carrier` peer of
 * config/sips-edge.yaml) that speaks plain RTP only, no TLS, no SRTP, as a carrier behind the edge.
 * Its calls are anchored by the edge through rtpengine (`media: anchor`, `srtp: none`), which turns
 * its RTP into SRTP toward the vendor and back. Media is real: openCarrierMedia() sends and checks
 * packets (src/lab/media/).
 *
 * Answering, it answers the offer and starts sending once the offerer's first packet arrives (the
 * offerer has the answer then, and so has the relay); placing a call, the scenario offers, accepts
 * the 2xx answer and exchanges packets between ACK and BYE (mediaExchange).
 */
import type { SipMessage } from '../message/message.js';
import type { CallMedia } from './media/call-media.js';
import { answerWhenHeard, mediaExchange } from './media/exchange.js';
import { openCarrierMedia } from './media/rtp-carrier.js';
import { UdpEndpoint } from './udp-endpoint.js';
import { LabUa, type CallResult, type Hop, type InviteDecision } from './lab-ua.js';

export interface CarrierReceived {
  readonly callId: string;
  readonly requestUri: string;
  readonly status: number;
  /** Why the offer was refused (a CallMedia refusal), or null. */
  readonly refusal: string | null;
}

export class CarrierSimulator {
  readonly received = new Map<string, CarrierReceived>();
  /** The media of the calls it answered, by Call-ID (closed at stop). */
  readonly media = new Map<string, CallMedia>();
  readonly byes = new Set<string>();
  private readonly ua: LabUa;
  private readonly opened: CallMedia[] = [];

  readonly address: string;
  readonly port: number;

  private constructor(private readonly udp: UdpEndpoint, t1Ms: number) {
    this.address = udp.address;
    this.port = udp.port;
    this.ua = new LabUa({
      sentBy: `${udp.address}:${udp.port}`,
      viaTransport: 'UDP',
      agent: 'carrier',
      t1Ms,
      onInvite: (req) => this.onInvite(req),
      onBye: (callId) => this.byes.add(callId),
    });
    udp.attach(this.ua);
  }

  static async start(address: string, port: number, t1Ms: number): Promise<CarrierSimulator> {
    return new CarrierSimulator(await UdpEndpoint.bind('carrier', address, port), t1Ms);
  }

  hopTo(address: string, port: number): Hop {
    return this.udp.hopTo(address, port);
  }

  private async openMedia(): Promise<CallMedia> {
    const m = await openCarrierMedia({ address: this.address });
    this.opened.push(m);
    return m;
  }

  private async onInvite(req: SipMessage): Promise<InviteDecision> {
    const base = { callId: req.callId(), requestUri: req.requestUriText };
    const media = await this.openMedia();
    const answer = media.answer(req.body.toString('latin1'));
    if (answer === null) {
      this.received.set(base.callId, { ...base, status: 488, refusal: media.refusal });
      return { status: 488, warning: `offer not acceptable (${media.refusal ?? '?'}): RTP/AVP with PCMU only` };
    }
    this.received.set(base.callId, { ...base, status: 200, refusal: null });
    this.media.set(base.callId, media);
    answerWhenHeard(media);
    return { status: 200, sdp: answer };
  }

  /** Calls `number` through the edge's inside UDP listener with a real RTP offer and exchanges media while up. */
  async call(edge: { readonly address: string; readonly port: number }, number: string): Promise<CallResult & { readonly media: CallMedia; readonly mediaError: string | null }> {
    const media = await this.openMedia();
    let mediaError: string | null = null;
    const r = await this.ua.call({
      hop: this.hopTo(edge.address, edge.port),
      requestUri: `sip:${number}@${edge.address}:${edge.port}`,
      from: `sip:+4940666000@${this.address}`,
      to: `sip:${number}@${edge.address}`,
      sdp: media.offer(),
      whileUp: async (answer) => {
        mediaError = await mediaExchange(media, answer);
      },
    });
    return { ...r, media, mediaError };
  }

  async stop(): Promise<void> {
    this.ua.close();
    await Promise.all(this.opened.splice(0).map((m) => m.close().catch(() => undefined)));
    await this.udp.close();
  }
}
