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
import dgram from 'node:dgram';
import type { AddressInfo } from 'node:net';
import { parseMessage } from '../message/parse-message.js';
import type { SipMessage } from '../message/message.js';
import type { CallMedia } from './media/call-media.js';
import { answerWhenHeard, mediaExchange } from './media/exchange.js';
import { openCarrierMedia } from './media/rtp-carrier.js';
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

  private constructor(private readonly socket: dgram.Socket, readonly address: string, readonly port: number, t1Ms: number) {
    this.ua = new LabUa({
      sentBy: `${address}:${port}`,
      viaTransport: 'UDP',
      agent: 'carrier',
      t1Ms,
      onInvite: (req) => this.onInvite(req),
      onBye: (callId) => this.byes.add(callId),
    });
    socket.on('message', (data, rinfo) => {
      const r = parseMessage(data, { framing: 'udp' });
      if (!r.ok) return;
      const msg = r.value;
      this.ua.receive(msg, msg.isRequest ? this.responseHop(msg, rinfo) : this.hopTo(rinfo.address, rinfo.port));
    });
  }

  static async start(address: string, port: number, t1Ms: number): Promise<CarrierSimulator> {
    const socket = dgram.createSocket('udp4');
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(port, address, () => {
        socket.off('error', reject);
        resolve();
      });
    });
    socket.on('error', () => undefined);
    const a = socket.address() as AddressInfo;
    return new CarrierSimulator(socket, a.address, a.port, t1Ms);
  }

  hopTo(address: string, port: number): Hop {
    return { reliable: false, label: `carrier -> ${address}:${port}`, send: (data) => this.socket.send(data, port, address) };
  }

  /** RFC 3261 §18.2.2 + RFC 3581 §4: responses go to received/rport, else the sent-by. */
  private responseHop(req: SipMessage, rinfo: dgram.RemoteInfo): Hop {
    const via = req.via();
    const host = via.received ?? via.host;
    const port = typeof via.rport === 'number' ? via.rport : via.rport === null ? rinfo.port : via.port ?? 5060;
    return this.hopTo(host.replace(/^\[|\]$/g, ''), port);
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
    await new Promise<void>((resolve) => this.socket.close(() => resolve()));
  }
}
