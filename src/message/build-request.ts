import { SIP_VERSION } from './constants.js';
import { SipMessage, type HeaderField } from './message.js';

function field(name: string, key: string, value: string): HeaderField {
  return { name, key, value, raw: null };
}

/**
 * RFC 3261 §9.1: a CANCEL has the Request-URI, Call-ID, To, From and CSeq number of the request it
 * cancels, its top Via (same branch) only, and its Route header fields.
 */
export function buildCancel(sent: SipMessage): SipMessage {
  const topVia = sent.values('via')[0] ?? '';
  const fields: HeaderField[] = [field('Via', 'via', topVia)];
  for (const h of sent.headers) {
    if (h.key === 'route' || h.key === 'from' || h.key === 'to' || h.key === 'call-id') fields.push(h);
  }
  fields.push(field('CSeq', 'cseq', `${sent.cseq().seq} CANCEL`));
  fields.push(field('Max-Forwards', 'max-forwards', '70'));
  return new SipMessage({ kind: 'request', method: 'CANCEL', uri: sent.requestUriText, version: SIP_VERSION }, fields, Buffer.alloc(0));
}

export interface InDialogRequestParts {
  readonly method: string;
  readonly requestUri: string;
  readonly via: string;
  /** Route values, in order. */
  readonly routes: readonly string[];
  readonly from: string;
  readonly to: string;
  readonly callId: string;
  readonly cseq: number;
  readonly headers?: readonly (readonly [string, string])[];
}

/** A request inside an existing dialog (ACK for 2xx, BYE), built from the dialog's parts (RFC 3261 §12.2.1.1). */
export function buildInDialogRequest(p: InDialogRequestParts): SipMessage {
  const fields: HeaderField[] = [field('Via', 'via', p.via)];
  for (const r of p.routes) fields.push(field('Route', 'route', r));
  fields.push(field('Max-Forwards', 'max-forwards', '70'));
  fields.push(field('From', 'from', p.from));
  fields.push(field('To', 'to', p.to));
  fields.push(field('Call-ID', 'call-id', p.callId));
  fields.push(field('CSeq', 'cseq', `${p.cseq} ${p.method}`));
  for (const [n, v] of p.headers ?? []) fields.push(field(n, n.toLowerCase(), v));
  return new SipMessage({ kind: 'request', method: p.method, uri: p.requestUri, version: SIP_VERSION }, fields, Buffer.alloc(0));
}
