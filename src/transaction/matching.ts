import type { SipMessage } from '../message/message.js';

/**
 * Transaction matching keys: RFC 3261 §17.1.3 (responses to client transactions) and §17.2.3
 * (requests to server transactions), each a string so the layer looks them up in a Map.
 * Branches are opaque here: the proxy makes them (and may put a worker index in them).
 */

/** `\n` cannot occur in an unfolded header value, so it separates key parts unambiguously. */
const SEP = '\n';
const RFC3261 = '3261';

/** The branch inside an RFC 3261 server key (null for an RFC 2543 key, which has none of its own). */
export function branchOfKey(key: string): string | null {
  if (!key.startsWith(RFC3261 + SEP)) return null;
  const from = RFC3261.length + 1;
  return key.slice(from, key.indexOf(SEP, from));
}

/**
 * §17.1.3: "If the response has the same value of the branch parameter in the top Via header
 * field as the branch parameter in the top Via header field of the request that created the
 * transaction" and "the method parameter in the CSeq header field matches the method of the
 * request that created the transaction" (needed because a CANCEL shares the INVITE's branch).
 */
export function clientKey(branch: string, method: string): string {
  // join, not +: a flat string of its own. Keys live for the transaction's lingering 32 s, and a
  // concatenation would be a tree of pieces, one of them a slice holding the whole message text.
  return [branch, method].join(SEP);
}

/** The client key a response matches, or null when its top Via has no branch. */
export function responseKey(response: SipMessage): string | null {
  const branch = response.via().branch;
  return branch === null ? null : clientKey(branch, response.cseq().method);
}

/** Keys for a request on the server side (§17.2.3). */
export interface ServerKeys {
  /** The transaction this request belongs to (an ACK belongs to its INVITE's). */
  readonly key: string;
  /** RFC 2543 only: the key under which an INVITE transaction is found by its ACK. */
  readonly legacyAckKey: string | null;
  readonly rfc3261: boolean;
}

/**
 * §17.2.3: with the magic cookie, "1. the branch parameter in the request is equal to the one in
 * the top Via header field of the request that created the transaction, and 2. the sent-by value
 * in the top Via of the request is equal to the one in the request that created the transaction,
 * and 3. the method of the request matches the one that created the transaction, except for ACK,
 * where the method of the request that created the transaction is INVITE."
 *
 * Without it (RFC 2543 peers): "the INVITE request matches a transaction if the Request-URI, To
 * tag, From tag, Call-ID, CSeq, and top Via header field match those of the INVITE request which
 * created the transaction ... For all other request methods, a request is matched to a
 * transaction if the Request-URI, To tag, From tag, Call-ID, CSeq (including the method), and top
 * Via header field match". The ACK case (To tag of the ACK = To tag of the response the
 * transaction sent) is `legacyAckKey` plus a To-tag check in the layer.
 *
 * `asMethod` looks the request up as another method: `findInvite(cancel)` uses 'INVITE' (§9.2).
 */
export function serverKeys(request: SipMessage, asMethod?: string): ServerKeys {
  const via = request.via();
  const method = asMethod ?? (request.method === 'ACK' ? 'INVITE' : request.method);
  if (via.rfc3261 && via.branch !== null) {
    const sentBy = via.host.toLowerCase() + ':' + (via.port ?? '');
    return { key: [RFC3261, via.branch, sentBy, method].join(SEP), legacyAckKey: null, rfc3261: true };
  }
  const ruri = request.requestUriText;
  const fromTag = tagOf(() => request.from().tag);
  const callId = request.callId();
  const seq = String(request.cseq().seq);
  const topVia = (request.values('via')[0] ?? '').trim();
  const isAck = request.method === 'ACK' && asMethod === undefined;
  // The ACK carries the response's To tag, so its key leaves the To tag out.
  const legacyAckKey = method === 'INVITE' ? ['2543-ack', ruri, fromTag, callId, seq, topVia].join(SEP) : null;
  if (isAck) return { key: legacyAckKey ?? '', legacyAckKey, rfc3261: false };
  const toTag = tagOf(() => request.to().tag);
  return { key: ['2543', ruri, toTag, fromTag, callId, seq, method, topVia].join(SEP), legacyAckKey, rfc3261: false };
}

/** A tag, or '' when absent or when the header does not parse (then it cannot match a tag). */
function tagOf(read: () => string | null): string {
  try {
    return read() ?? '';
  } catch {
    return '';
  }
}
