import type { HeaderField } from '../message/message.js';
import { SipMessage } from '../message/message.js';

/**
 * RFC 3261 §17.1.1.3: the ACK a client INVITE transaction sends for a 300-699 response.
 *
 * "The ACK request constructed by the client transaction MUST contain values for the Call-ID,
 * From, and Request-URI that are equal to the values of those header fields in the request passed
 * to the transport by the client transaction ... The To header field in the ACK MUST equal the To
 * header field in the response being acknowledged ... The ACK MUST contain a single Via header
 * field, and this MUST be equal to the top Via header field of the original request. The CSeq
 * header field in the ACK MUST contain the same value for the sequence number as was present in
 * the original request, but the method parameter MUST be equal to "ACK". If the INVITE request
 * whose response is being acknowledged had Route header fields, those header fields MUST appear
 * in the ACK."  Max-Forwards is copied from the INVITE (§8.1.1.6: every request carries one).
 */
export function buildNonSuccessAck(invite: SipMessage, response: SipMessage): SipMessage {
  const start = invite.startLine;
  if (start.kind !== 'request') throw new Error('buildNonSuccessAck: not a request');
  const topVia = invite.values('via')[0];
  if (topVia === undefined) throw new Error('buildNonSuccessAck: request has no Via');
  const fields: HeaderField[] = [{ name: 'Via', key: 'via', value: topVia, raw: null }];
  for (const f of invite.headers) {
    if (f.key === 'route' || f.key === 'max-forwards' || f.key === 'from' || f.key === 'call-id') fields.push(f);
  }
  const to = response.getAll('to')[0];
  if (to !== undefined) fields.push(to);
  fields.push({ name: 'CSeq', key: 'cseq', value: `${invite.cseq().seq} ACK`, raw: null });
  return new SipMessage({ kind: 'request', method: 'ACK', uri: start.uri, version: start.version }, fields, Buffer.alloc(0));
}
