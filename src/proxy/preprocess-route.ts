import type { SipMessage } from '../message/message.js';
import { SipUri } from '../message/uri.js';
import type { ProxyIdentity } from './identity.js';
import { readOwnRoute, routeUriOf, type OwnRoute } from './record-route.js';

export interface Preprocessed {
  /** The request with the edge's own Route entries removed (a copy; the original is untouched). */
  readonly request: SipMessage;
  /** The edge's entries that were popped, in order. The last one faces the next hop. */
  readonly own: readonly OwnRoute[];
  /** The strict-router fix was applied (§16.4). */
  readonly strictFixed: boolean;
  /** An entry naming the edge with an `se` marker whose signature does not verify (refuse: 403). */
  readonly forged: boolean;
}

/**
 * RFC 3261 §16.4. If the Request-URI is a value this edge put in a Record-Route (the previous hop
 * was a strict router), the last Route value becomes the Request-URI. Then every Route entry of
 * the edge's own at the top is popped; with double record-routing (RFC 5658) there are two.
 */
export function preprocessRoute(original: SipMessage, identity: ProxyIdentity): Preprocessed {
  const request = original.clone();
  const signer = identity.routeSigner;
  const own: OwnRoute[] = [];
  let strictFixed = false;
  let forged = false;
  const ruri = request.requestUri();
  if (ruri instanceof SipUri && identity.isOwnUri(ruri)) {
    const mine = readOwnRoute(ruri, signer);
    const routes = request.values('route');
    if (mine === 'forged') forged = true;
    else if (mine !== null && routes.length > 0) {
      own.push(mine);
      const last = routeUriOf(routes[routes.length - 1]!);
      if (last !== null) {
        request.setRequestUri(last);
        removeLastRoute(request);
        strictFixed = true;
      }
    }
  }
  for (;;) {
    const top = request.values('route')[0];
    if (top === undefined) break;
    const uri = routeUriOf(top);
    if (uri === null || !identity.isOwnUri(uri)) break;
    request.shift('route');
    const mine = readOwnRoute(uri, signer);
    if (mine === 'forged') forged = true;
    else if (mine !== null) own.push(mine);
  }
  return { request, own, strictFixed, forged };
}

function removeLastRoute(m: SipMessage): void {
  const all = m.values('route');
  m.remove('route');
  for (const v of all.slice(0, -1)) m.append('route', v);
}
