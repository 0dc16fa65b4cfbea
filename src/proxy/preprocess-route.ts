import type { SipMessage } from '../message/message.js';
import { SipUri } from '../message/uri.js';
import type { ProxyIdentity } from './identity.js';
import { readOwnRoute, type OwnRoute } from './record-route.js';

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
  // The original's parsed Route list, only read here: validation parsed it already (the copy's lists
  // start unparsed), so an in-dialog request's entries are not split and parsed again.
  const routes = original.routes();
  let last = routes.length;
  const ruri = request.requestUri();
  if (ruri instanceof SipUri && identity.isOwnUri(ruri)) {
    const mine = readOwnRoute(ruri, signer);
    if (mine === 'forged') forged = true;
    else if (mine !== null && last > 0) {
      own.push(mine);
      const lastUri = routes[last - 1]!.uri;
      if (lastUri instanceof SipUri) {
        request.setRequestUri(lastUri);
        removeLastRoute(request);
        last--;
        strictFixed = true;
      }
    }
  }
  let popped = 0;
  while (popped < last) {
    const uri = routes[popped]!.uri;
    if (!(uri instanceof SipUri) || !identity.isOwnUri(uri)) break;
    popped++;
    const mine = readOwnRoute(uri, signer);
    if (mine === 'forged') forged = true;
    else if (mine !== null) own.push(mine);
  }
  // Every entry left was the edge's (an in-dialog request between two legs of ours): no split at all.
  if (popped > 0 && popped === last) request.remove('route');
  else if (popped > 0) request.shiftValues('route', popped);
  return { request, own, strictFixed, forged };
}

function removeLastRoute(m: SipMessage): void {
  const all = m.values('route');
  m.remove('route');
  for (const v of all.slice(0, -1)) m.append('route', v);
}
