import { parseMessage } from '../../src/message/parse-message.js';
import type { SipMessage } from '../../src/message/message.js';

/** Realistic SIP text (CRLF line ends) parsed by the real parser, for transaction tests. */

export function parse(text: string): SipMessage {
  const r = parseMessage(Buffer.from(text, 'latin1'));
  if (!r.ok) throw r.error;
  return r.value;
}

export interface RequestOptions {
  readonly method?: string;
  readonly ruri?: string;
  /** Full top Via value; overrides branch/host/port/transport. */
  readonly via?: string;
  readonly branch?: string | null;
  readonly viaHost?: string;
  readonly viaPort?: number | null;
  readonly transport?: 'UDP' | 'TCP' | 'TLS';
  readonly rport?: boolean;
  /** Extra Via values below the top one. */
  readonly lowerVias?: readonly string[];
  readonly callId?: string;
  readonly cseq?: number;
  readonly cseqMethod?: string;
  readonly fromTag?: string;
  readonly toTag?: string | null;
  readonly routes?: readonly string[];
}

export function requestText(o: RequestOptions = {}): string {
  const method = o.method ?? 'INVITE';
  const ruri = o.ruri ?? 'sip:+4969123456789@edge.example.com';
  const branch = o.branch === undefined ? 'z9hG4bK-edge-1' : o.branch;
  const port = o.viaPort === undefined ? 5060 : o.viaPort;
  const via = o.via ?? `SIP/2.0/${o.transport ?? 'UDP'} ${o.viaHost ?? 'pbx.example.net'}${port === null ? '' : ':' + port}${branch === null ? '' : ';branch=' + branch}${o.rport ? ';rport' : ''}`;
  const lines = [
    `${method} ${ruri} SIP/2.0`,
    `Via: ${via}`,
    ...(o.lowerVias ?? []).map((v) => `Via: ${v}`),
    'Max-Forwards: 69',
    ...(o.routes ?? []).map((r) => `Route: ${r}`),
    `From: "PBX" <sip:+4940555111@pbx.example.net>;tag=${o.fromTag ?? 'from-1'}`,
    `To: <sip:+4969123456789@edge.example.com>${o.toTag ? ';tag=' + o.toTag : ''}`,
    `Call-ID: ${o.callId ?? 'a84b4c76e66710@pbx.example.net'}`,
    `CSeq: ${o.cseq ?? 314159} ${o.cseqMethod ?? method}`,
    'Contact: <sip:+4940555111@192.0.2.10:5060>',
    'Content-Length: 0',
    '',
    '',
  ];
  return lines.join('\r\n');
}

export function request(o: RequestOptions = {}): SipMessage {
  return parse(requestText(o));
}

export interface ResponseOptions {
  readonly reason?: string;
  readonly toTag?: string | null;
  /** Overrides the top Via branch (a response for another transaction). */
  readonly branch?: string;
  readonly cseqMethod?: string;
}

/** A response to `req` as its peer would write it: Vias, From, To (+tag), Call-ID, CSeq copied. */
export function responseTo(req: SipMessage, status: number, o: ResponseOptions = {}): SipMessage {
  const vias = req.values('via');
  if (o.branch !== undefined && vias[0] !== undefined) vias[0] = vias[0].replace(/branch=[^;]+/, `branch=${o.branch}`);
  const toTag = o.toTag === undefined ? (status === 100 ? null : 'uas-tag-9') : o.toTag;
  const to = req.get('to') ?? '';
  const cseq = req.cseq();
  const lines = [
    `SIP/2.0 ${status} ${o.reason ?? REASONS[status] ?? 'Whatever'}`,
    ...vias.map((v) => `Via: ${v}`),
    `From: ${req.get('from') ?? ''}`,
    `To: ${to}${toTag !== null && !/;\s*tag=/i.test(to) ? ';tag=' + toTag : ''}`,
    `Call-ID: ${req.callId()}`,
    `CSeq: ${cseq.seq} ${o.cseqMethod ?? cseq.method}`,
    'Content-Length: 0',
    '',
    '',
  ];
  return parse(lines.join('\r\n'));
}

const REASONS: Record<number, string> = {
  100: 'Trying', 180: 'Ringing', 183: 'Session Progress', 200: 'OK', 302: 'Moved Temporarily',
  404: 'Not Found', 408: 'Request Timeout', 486: 'Busy Here', 487: 'Request Terminated', 503: 'Service Unavailable',
};

/** The ACK a UAC sends for a non-2xx final response (same branch as the INVITE, §17.1.1.3). */
export function ackFor(invite: SipMessage, response: SipMessage, o: { branch?: string } = {}): SipMessage {
  const start = invite.startLine;
  if (start.kind !== 'request') throw new Error('not a request');
  let via = invite.values('via')[0] ?? '';
  if (o.branch !== undefined) via = via.replace(/branch=[^;]+/, `branch=${o.branch}`);
  const lines = [
    `ACK ${start.uri} SIP/2.0`,
    `Via: ${via}`,
    'Max-Forwards: 70',
    `From: ${invite.get('from') ?? ''}`,
    `To: ${response.get('to') ?? ''}`,
    `Call-ID: ${invite.callId()}`,
    `CSeq: ${invite.cseq().seq} ACK`,
    'Content-Length: 0',
    '',
    '',
  ];
  return parse(lines.join('\r\n'));
}

/** The CANCEL for a request (§9.1: same Request-URI, Call-ID, From, To, CSeq number, top Via). */
export function cancelFor(req: SipMessage): SipMessage {
  const start = req.startLine;
  if (start.kind !== 'request') throw new Error('not a request');
  const lines = [
    `CANCEL ${start.uri} SIP/2.0`,
    `Via: ${req.values('via')[0] ?? ''}`,
    'Max-Forwards: 70',
    `From: ${req.get('from') ?? ''}`,
    `To: ${req.get('to') ?? ''}`,
    `Call-ID: ${req.callId()}`,
    `CSeq: ${req.cseq().seq} CANCEL`,
    'Content-Length: 0',
    '',
    '',
  ];
  return parse(lines.join('\r\n'));
}
