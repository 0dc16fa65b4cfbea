/**
 * The PBX simulator: a UDP SIP endpoint on loopback that places calls through the edge's inside
 * listener and answers the calls the edge brings in from the vendor. It answers an SRTP offer with
 * SRTP (one offered crypto line, fresh key) and a plain offer with plain RTP, like an ordinary PBX.
 */
import dgram from 'node:dgram';
import type { AddressInfo } from 'node:net';
import { parseMessage } from '../message/parse-message.js';
import type { SipMessage } from '../message/message.js';
import { checkOffer } from '../sdp/srtp-policy.js';
import { makeAnswer, makeOffer } from './lab-sdp.js';
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

  private constructor(private readonly socket: dgram.Socket, readonly address: string, readonly port: number, t1Ms: number) {
    this.ua = new LabUa({
      sentBy: `${address}:${port}`,
      viaTransport: 'UDP',
      agent: 'pbx',
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

  static async start(address: string, port: number, t1Ms: number): Promise<PbxSimulator> {
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
    return new PbxSimulator(socket, a.address, a.port, t1Ms);
  }

  hopTo(address: string, port: number): Hop {
    return { reliable: false, label: `pbx -> ${address}:${port}`, send: (data) => this.socket.send(data, port, address) };
  }

  /** RFC 3261 §18.2.2 + RFC 3581 §4: responses go to received/rport, else the sent-by. */
  private responseHop(req: SipMessage, rinfo: dgram.RemoteInfo): Hop {
    const via = req.via();
    const host = via.received ?? via.host;
    const port = typeof via.rport === 'number' ? via.rport : via.rport === null ? rinfo.port : via.port ?? 5060;
    return this.hopTo(host.replace(/^\[|\]$/g, ''), port);
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
    await new Promise<void>((resolve) => this.socket.close(() => resolve()));
  }
}
