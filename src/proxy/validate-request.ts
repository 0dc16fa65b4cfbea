import type { SipMessage } from '../message/message.js';
import { SipParseError } from '../message/parse-error.js';
import { SipUri, TelUri } from '../message/uri.js';
import { loopHash, loopHashOf } from './branch.js';
import type { ProxyErrorCode } from './error-responses.js';
import type { ProxyIdentity } from './identity.js';

export type Validation =
  | { readonly ok: true; readonly toSelf: boolean }
  | { readonly ok: false; readonly code: ProxyErrorCode; readonly detail: string; readonly headers?: readonly (readonly [string, string])[] };

/**
 * RFC 3261 §16.3 request validation, in the RFC's order. `toSelf` is set for an OPTIONS addressed
 * to the edge itself (no user part, one of its names, no Route), which the edge answers even with
 * Max-Forwards 0 (§16.3 step 3 allows it; the vendor's proxies ping with OPTIONS).
 */
export function validateRequest(request: SipMessage, identity: ProxyIdentity): Validation {
  // Step 1: reasonable syntax — the views the proxy reads must parse.
  let uri;
  let maxForwards: number | undefined;
  try {
    uri = request.requestUri();
    request.from();
    request.to();
    maxForwards = request.maxForwards();
    // The headers the far end builds its dialog from: a malformed one is refused here, not
    // forwarded (and not left to throw wherever it is read first; RFC 4475 §3.1.2.13).
    if (request.has('contact')) request.contacts();
    if (request.has('record-route')) request.recordRoutes();
    if (request.has('route')) request.routes();
  } catch (e) {
    if (e instanceof SipParseError) return { ok: false, code: 'SIPS_ERR_PROXY_BAD_REQUEST', detail: `${e.code}: ${e.message}` };
    throw e;
  }
  // Step 2: URI scheme.
  if (!(uri instanceof SipUri) && !(uri instanceof TelUri)) {
    return { ok: false, code: 'SIPS_ERR_PROXY_URI_SCHEME', detail: `scheme ${uri.scheme} is not supported`, headers: [['Unsupported', uri.scheme]] };
  }
  const toSelf = request.method === 'OPTIONS' && uri instanceof SipUri && uri.user === null && identity.isOwnUri(uri) && !request.has('route');
  // Step 3: Max-Forwards.
  if (maxForwards === 0 && !toSelf) return { ok: false, code: 'SIPS_ERR_PROXY_TOO_MANY_HOPS', detail: 'Max-Forwards is 0' };
  // The forwarded copy carries one more Via: refuse here (a 483 the sender can read) rather than
  // send what the next hop, or this edge's response path, must refuse (issue 11 §2).
  if (request.viaRoom < 1 && !toSelf) {
    return { ok: false, code: 'SIPS_ERR_PROXY_TOO_MANY_VIAS', detail: `forwarding would add a Via past limits.maxVia (${request.values('via').length} already)` };
  }
  // Step 4: loop detection — one of our Vias whose branch carries this very request's hash.
  // Only a request with more than one Via can have passed through this edge already.
  const vias = request.hasSeveral('via') ? safeVias(request) : [];
  if (vias.some((v) => identity.isOwnHost(v.host, v.port, v.transport === 'TLS'))) {
    const hash = loopHash(request);
    for (const v of vias) {
      if (identity.isOwnHost(v.host, v.port, v.transport === 'TLS') && loopHashOf(v.branch) === hash) {
        return { ok: false, code: 'SIPS_ERR_PROXY_LOOP', detail: 'the request came back unchanged' };
      }
    }
  }
  // Step 5: Proxy-Require — the edge supports no proxy extensions.
  const required = request.values('proxy-require');
  if (required.length) {
    return { ok: false, code: 'SIPS_ERR_PROXY_BAD_EXTENSION', detail: `unsupported: ${required.join(', ')}`, headers: [['Unsupported', required.join(', ')]] };
  }
  return { ok: true, toSelf };
}

function safeVias(request: SipMessage) {
  try {
    return request.vias();
  } catch {
    // A malformed lower Via is not ours to judge; only the top one was checked at parse time.
    return [request.via()];
  }
}
