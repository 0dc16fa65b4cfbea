/**
 * A small SIP user agent for the lab's simulated endpoints (the vendor's lb hosts and the PBX): just
 * enough RFC 3261 for one call at a time per Call-ID, correct on the wire.
 *
 * UAC: INVITE (retransmitted on unreliable hops, §17.1.1.2 Timer A, until a response arrives), ACK
 * for a non-2xx on the INVITE's branch (§17.1.1.3), ACK for a 2xx as a new transaction along the
 * dialog's route set (§13.2.2.4, §12.2.1.1), BYE (§15.1.1), every request over the hop the INVITE
 * used (in the lab, the first route always is the edge leg the INVITE was sent to).
 * UAS: To-tag (§8.2.6.2), Record-Route copied into dialog-creating responses (§12.1.1), 2xx
 * retransmitted until the ACK (§13.3.1.4), retransmitted requests answered with the last response,
 * BYE and OPTIONS answered 200, anything else 405.
 */
import { randomBytes } from 'node:crypto';
import { buildResponse, newTag } from '../message/build-response.js';
import { BRANCH_MAGIC_COOKIE, SIP_VERSION } from '../message/constants.js';
import { SipMessage, type HeaderField } from '../message/message.js';

/** Where a message goes: a UDP address or one TLS connection. */
export interface Hop {
  readonly reliable: boolean;
  readonly label: string;
  send(data: Buffer): void;
}

export interface InviteDecision {
  readonly status: number;
  readonly reason?: string;
  /** RFC 3261 §20.43: `399 <agent> "<text>"` is written from this. */
  readonly warning?: string;
  readonly sdp?: string;
  /** Send 180 Ringing before a 2xx (default true). */
  readonly ring?: boolean;
}

export interface UaOptions {
  /** Host (and port) written in Via sent-by and Contact. */
  readonly sentBy: string;
  readonly viaTransport: 'UDP' | 'TCP' | 'TLS';
  /** Contact user and Warning agent. */
  readonly agent: string;
  readonly t1Ms: number;
  /** An incoming INVITE (not a retransmission). */
  readonly onInvite?: (req: SipMessage, hop: Hop) => InviteDecision | Promise<InviteDecision>;
  /** A BYE was answered 200 for this Call-ID. */
  readonly onBye?: (callId: string) => void;
}

export interface CallResult {
  readonly callId: string;
  /** The SDP answer of a 2xx. */
  readonly answer: string | null;
  readonly final: SipMessage | null;
  readonly provisionals: readonly number[];
  /** The BYE's final status when the call was answered and hung up by us; null otherwise. */
  readonly byeStatus: number | null;
  readonly error: string | null;
}

interface ClientTx {
  readonly isInvite: boolean;
  readonly provisionals: number[];
  settled: boolean;
  timer: NodeJS.Timeout | null;
  resolve(final: SipMessage | null, error: string | null): void;
}

interface ServerTx {
  last: Buffer | null;
  readonly hop: Hop;
  retransmit: NodeJS.Timeout | null;
}

export function newBranch(): string {
  return BRANCH_MAGIC_COOKIE + randomBytes(8).toString('hex');
}

function field(name: string, value: string): HeaderField {
  return { name, key: name.toLowerCase(), value, raw: null };
}

export class LabUa {
  private readonly clients = new Map<string, ClientTx>();
  private readonly servers = new Map<string, ServerTx>();
  /** Call-ID -> the ACK we sent for its 2xx, re-sent when the 2xx is retransmitted. */
  private readonly acks = new Map<string, { data: Buffer; hop: Hop }>();
  private closed = false;

  constructor(private readonly o: UaOptions) {}

  close(): void {
    this.closed = true;
    for (const c of this.clients.values()) c.resolve(null, 'closed');
    for (const s of this.servers.values()) if (s.retransmit) clearTimeout(s.retransmit);
    this.clients.clear();
    this.servers.clear();
  }

  /** Feed every parsed message received on `hop`. */
  receive(msg: SipMessage, hop: Hop): void {
    if (this.closed) return;
    if (msg.isRequest) {
      this.onRequest(msg, hop);
      return;
    }
    const branch = msg.via().branch ?? '';
    const tx = this.clients.get(branch);
    if (tx === undefined) {
      // A retransmitted 2xx after our ACK (§13.2.2.4): send the ACK again.
      const ack = this.acks.get(msg.callId());
      if (ack !== undefined && msg.status >= 200 && msg.status < 300) ack.hop.send(ack.data);
      return;
    }
    if (tx.timer !== null && (tx.isInvite || msg.status >= 200)) {
      clearTimeout(tx.timer); // §17.1.1.2: a provisional stops INVITE retransmissions
      tx.timer = null;
    }
    if (msg.status < 200) {
      tx.provisionals.push(msg.status);
      return;
    }
    this.clients.delete(branch);
    tx.resolve(msg, null);
  }

  /** Sends a request and waits for its final response (64*T1 at most, Timer B/F). */
  request(req: SipMessage, hop: Hop): Promise<{ final: SipMessage | null; provisionals: readonly number[]; error: string | null }> {
    const branch = req.via().branch ?? '';
    const data = req.serialize();
    return new Promise((resolve) => {
      const tx: ClientTx = {
        isInvite: req.method === 'INVITE',
        provisionals: [],
        settled: false,
        timer: null,
        resolve: (final, error) => {
          if (tx.settled) return;
          tx.settled = true;
          if (tx.timer) clearTimeout(tx.timer);
          clearTimeout(giveUp);
          this.clients.delete(branch);
          resolve({ final, provisionals: tx.provisionals, error });
        },
      };
      const giveUp = setTimeout(() => tx.resolve(null, 'timeout (64*T1)'), 64 * this.o.t1Ms);
      this.clients.set(branch, tx);
      hop.send(data);
      if (!hop.reliable) {
        let interval = this.o.t1Ms;
        const again = (): void => {
          hop.send(data);
          interval = Math.min(interval * 2, tx.isInvite ? Infinity : 4 * this.o.t1Ms);
          tx.timer = setTimeout(again, interval);
        };
        tx.timer = setTimeout(again, interval);
      }
    });
  }

  /**
   * A whole call as UAC: INVITE with `sdp`, then ACK; when answered, BYE once `whileUp` is done
   * (at once without it). `headers` are extra INVITE headers.
   */
  async call(opts: {
    readonly hop: Hop;
    readonly requestUri: string;
    readonly from: string;
    readonly to: string;
    readonly sdp: string;
    readonly headers?: readonly (readonly [string, string])[];
    /** Runs between the ACK and the BYE with the 2xx's SDP answer (the lab's media rows). */
    readonly whileUp?: (answer: string) => Promise<void>;
  }): Promise<CallResult> {
    const callId = `${randomBytes(10).toString('hex')}@${this.o.sentBy.replace(/:\d+$/, '')}`;
    const fromTag = newTag();
    const from = `<${opts.from}>;tag=${fromTag}`;
    const to = `<${opts.to}>`;
    const via = this.via(newBranch());
    const invite = this.buildRequest('INVITE', opts.requestUri, via, [], from, to, callId, 1, [
      ['Contact', this.contact()],
      ['Allow', 'INVITE, ACK, BYE, CANCEL, OPTIONS'],
      ...(opts.headers ?? []),
    ], Buffer.from(opts.sdp, 'latin1'));
    const r = await this.request(invite, opts.hop);
    if (r.final === null) return { callId, answer: null, final: null, provisionals: r.provisionals, byeStatus: null, error: r.error };
    const res = r.final;
    if (res.status >= 300) {
      // §17.1.1.3: the ACK for a non-2xx is part of the INVITE transaction: same branch and R-URI.
      const ack = this.buildRequest('ACK', opts.requestUri, via, [], from, res.get('to') ?? to, callId, 1, []);
      opts.hop.send(ack.serialize());
      return { callId, answer: null, final: res, provisionals: r.provisionals, byeStatus: null, error: null };
    }
    // §12.1.2: the route set is the Record-Route list reversed; the remote target the Contact.
    const routes = res.values('record-route').reverse();
    const contact = res.contacts()[0];
    const target = contact === undefined || contact === '*' ? opts.requestUri : contact.uriText;
    const toValue = res.get('to') ?? to;
    const ack = this.buildRequest('ACK', target, this.via(newBranch()), routes, from, toValue, callId, 1, []);
    const ackData = ack.serialize();
    this.acks.set(callId, { data: ackData, hop: opts.hop });
    opts.hop.send(ackData);
    if (opts.whileUp !== undefined) await opts.whileUp(res.body.toString('latin1'));
    const bye = this.buildRequest('BYE', target, this.via(newBranch()), routes, from, toValue, callId, 2, []);
    const b = await this.request(bye, opts.hop);
    // Keep answering 2xx retransmissions for a little while (§13.2.2.4), then forget the call.
    setTimeout(() => this.acks.delete(callId), 4 * this.o.t1Ms).unref();
    return { callId, answer: res.body.length > 0 ? res.body.toString('latin1') : null, final: res, provisionals: r.provisionals, byeStatus: b.final?.status ?? null, error: b.error };
  }

  via(branch: string): string {
    return `SIP/2.0/${this.o.viaTransport} ${this.o.sentBy};branch=${branch};rport`;
  }

  contact(): string {
    return `<sip:${this.o.agent}@${this.o.sentBy}${this.o.viaTransport === 'UDP' ? '' : `;transport=${this.o.viaTransport.toLowerCase()}`}>`;
  }

  buildRequest(method: string, uri: string, via: string, routes: readonly string[], from: string, to: string, callId: string, cseq: number, headers: readonly (readonly [string, string])[], body?: Buffer): SipMessage {
    const fields: HeaderField[] = [field('Via', via)];
    for (const r of routes) fields.push(field('Route', r));
    fields.push(field('Max-Forwards', '70'), field('From', from), field('To', to), field('Call-ID', callId), field('CSeq', `${cseq} ${method}`));
    for (const [n, v] of headers) fields.push(field(n, v));
    fields.push(field('User-Agent', `sips-edge-lab ${this.o.agent}`));
    if (body !== undefined && body.length > 0) fields.push(field('Content-Type', 'application/sdp'));
    return new SipMessage({ kind: 'request', method, uri, version: SIP_VERSION }, fields, body ?? Buffer.alloc(0));
  }

  private respond(req: SipMessage, hop: Hop, status: number, o: { reason?: string; toTag?: string; headers?: readonly (readonly [string, string])[]; sdp?: string } = {}): Buffer {
    const res = buildResponse(req, status, {
      ...(o.reason !== undefined ? { reason: o.reason } : {}),
      ...(o.toTag !== undefined ? { toTag: o.toTag } : {}),
      headers: [...(o.headers ?? []), ['Server', `sips-edge-lab ${this.o.agent}`]],
      ...(o.sdp !== undefined ? { body: Buffer.from(o.sdp, 'latin1'), contentType: 'application/sdp' } : {}),
    });
    const data = res.serialize();
    hop.send(data);
    return data;
  }

  private onRequest(req: SipMessage, hop: Hop): void {
    const branch = req.via().branch ?? '';
    const method = req.method;
    if (method === 'ACK') {
      // Stops 2xx retransmission (§13.3.1.4) or absorbs the hop-by-hop ACK of a non-2xx.
      for (const [k, s] of this.servers) {
        if (k.startsWith(`${req.callId()} `) && s.retransmit) {
          clearTimeout(s.retransmit);
          s.retransmit = null;
        }
      }
      return;
    }
    const key = `${req.callId()} ${branch} ${method}`;
    const known = this.servers.get(key);
    if (known !== undefined) {
      if (known.last !== null) hop.send(known.last); // §17.2.1: a retransmission gets the last response again
      return;
    }
    const tx: ServerTx = { last: null, hop, retransmit: null };
    this.servers.set(key, tx);
    setTimeout(() => {
      if (tx.retransmit) clearTimeout(tx.retransmit);
      this.servers.delete(key);
    }, 64 * this.o.t1Ms).unref();
    if (method === 'BYE') {
      tx.last = this.respond(req, hop, 200);
      this.o.onBye?.(req.callId());
      return;
    }
    if (method === 'OPTIONS') {
      tx.last = this.respond(req, hop, 200, { headers: [['Allow', 'INVITE, ACK, BYE, CANCEL, OPTIONS'], ['Accept', 'application/sdp']] });
      return;
    }
    if (method !== 'INVITE') {
      tx.last = this.respond(req, hop, 405, { headers: [['Allow', 'INVITE, ACK, BYE, CANCEL, OPTIONS']] });
      return;
    }
    void this.answerInvite(req, hop, tx);
  }

  private async answerInvite(req: SipMessage, hop: Hop, tx: ServerTx): Promise<void> {
    let d: InviteDecision;
    try {
      d = this.o.onInvite ? await this.o.onInvite(req, hop) : { status: 488, warning: 'this endpoint takes no calls' };
    } catch (e) {
      d = { status: 500, warning: (e as Error).message };
    }
    if (this.closed) return;
    const toTag = newTag();
    const rr: [string, string][] = req.values('record-route').map((v) => ['Record-Route', v]);
    if (d.status >= 200 && d.status < 300) {
      if (d.ring !== false) tx.last = this.respond(req, hop, 180, { toTag, headers: [...rr, ['Contact', this.contact()]] });
      const data = this.respond(req, hop, d.status, {
        toTag,
        headers: [...rr, ['Contact', this.contact()], ['Allow', 'INVITE, ACK, BYE, CANCEL, OPTIONS']],
        ...(d.reason !== undefined ? { reason: d.reason } : {}),
        ...(d.sdp !== undefined ? { sdp: d.sdp } : {}),
      });
      tx.last = data;
      // §13.3.1.4: retransmit the 2xx at T1, doubling up to T2 (4 s), until the ACK.
      let interval = this.o.t1Ms;
      const again = (): void => {
        hop.send(data);
        interval = Math.min(interval * 2, 8 * this.o.t1Ms);
        tx.retransmit = setTimeout(again, interval);
        tx.retransmit.unref();
      };
      tx.retransmit = setTimeout(again, interval);
      tx.retransmit.unref();
      return;
    }
    const headers: [string, string][] = d.warning === undefined ? [] : [['Warning', `399 ${this.o.agent} "${d.warning.replace(/["\\]/g, "'")}"`]];
    tx.last = this.respond(req, hop, d.status, { toTag, headers, ...(d.reason !== undefined ? { reason: d.reason } : {}) });
  }
}

/** The Warning text of a response (`399 agent "text"` -> `agent: text`), or null. */
export function warningText(res: SipMessage): string | null {
  const w = res.get('warning');
  if (w === undefined) return null;
  const m = /^\d{3}\s+(\S+)\s+"(.*)"\s*$/.exec(w);
  return m === null ? w : `${m[1]}: ${m[2]}`;
}
