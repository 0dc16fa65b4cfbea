/**
 * The PBX simulator: a UDP SIP endpoint on loopback that places calls through the edge's inside
 * listener and answers the calls the edge brings in from the vendor. It answers an SRTP offer with
 * SRTP (one offered crypto line, fresh key) and a plain offer with plain RTP, like an ordinary PBX.
 */
import type { SipMessage } from '../message/message.js';
import { checkOffer } from '../sdp/srtp-policy.js';
import { makeAnswer, makeOffer } from './lab-sdp.js';
import { UdpEndpoint } from './udp-endpoint.js';
import { LabUa, type CallResult, type Hop, type InviteDecision } from './lab-ua.js';

export interface PbxReceived {
  readonly callId: string;
  readonly requestUri: string;
  readonly from: string;
  readonly srtpOffered: boolean;
  readonly status: number;
  readonly answered: string | null;
}

export class PbxSimulator {
  readonly received = new Map<string, PbxReceived>();
  readonly byes = new Set<string>();
  private readonly ua: LabUa;

  readonly address: string;
  readonly port: number;

  private constructor(private readonly udp: UdpEndpoint, t1Ms: number) {
    this.address = udp.address;
    this.port = udp.port;
    this.ua = new LabUa({
      sentBy: `${udp.address}:${udp.port}`,
      viaTransport: 'UDP',
      agent: 'pbx',
      t1Ms,
      onInvite: (req) => this.onInvite(req),
      onBye: (callId) => this.byes.add(callId),
    });
    udp.attach(this.ua);
  }

  static async start(address: string, port: number, t1Ms: number): Promise<PbxSimulator> {
    return new PbxSimulator(await UdpEndpoint.bind('pbx', address, port), t1Ms);
  }

  hopTo(address: string, port: number): Hop {
    return this.udp.hopTo(address, port);
  }

  private onInvite(req: SipMessage): InviteDecision {
    const offer = req.body.toString('latin1');
    const srtpOffered = /RTP\/SAVP/i.test(offer) && /a=crypto:/i.test(offer);
    const base = { callId: req.callId(), requestUri: req.requestUriText, from: req.get('from') ?? '', srtpOffered };
    if (offer.trim() === '' || (srtpOffered && !checkOffer(offer).ok)) {
      this.received.set(req.callId(), { ...base, status: 488, answered: null });
      return { status: 488, warning: 'offer not acceptable' };
    }
    const answer = makeAnswer(offer, { user: 'pbx', address: this.address });
    this.received.set(req.callId(), { ...base, status: 200, answered: answer.chosen.join(', ') });
    return { status: 200, sdp: answer.sdp };
  }

  /** Calls `number` through the edge's inside UDP listener. */
  call(edge: { readonly address: string; readonly port: number }, number: string, srtp: boolean): Promise<CallResult & { readonly offer: string }> {
    const offer = makeOffer({ user: 'pbx', address: this.address, srtp });
    return this.ua
      .call({
        hop: this.hopTo(edge.address, edge.port),
        requestUri: `sip:${number}@${edge.address}:${edge.port}`,
        from: `sip:+4930555000@${this.address}`,
        to: `sip:${number}@${edge.address}`,
        sdp: offer,
      })
      .then((r) => ({ ...r, offer }));
  }

  async stop(): Promise<void> {
    this.ua.close();
    await this.udp.close();
  }
}
