import type { Side } from '../diagnostics.js';
import { buildInDialogRequest } from '../message/build-request.js';
import type { SipMessage } from '../message/message.js';
import { branchOnly } from './branch.js';
import { viaValue } from './via.js';
import type { ProxyDeps } from './deps.js';
import { routeUriOf } from './record-route.js';
import type { Target } from './types.js';

/**
 * S-MEDIA-1, policy strict: a 2xx whose SDP answer fails the SRTP check must not set up a call with
 * clear media. The edge completes the answerer's INVITE transaction with an ACK and ends the dialog
 * with a BYE carrying the reason (RFC 3326), both toward the side that answered; the caller gets a
 * 488 instead of the 2xx (the ForwardContext sends it). Also used for a 2xx that arrives on a
 * branch the edge had given up on (failover), with `cause` 408.
 */
export function refuseAnswer(deps: ProxyDeps, sent: SipMessage, target: Target, exitSide: Side, response: SipMessage, reasonText: string, cause = 488): Buffer {
  const contact = response.contacts()[0];
  const requestUri = contact !== undefined && contact !== '*' ? contact.uriText : sent.requestUriText;
  // Our route set toward the answerer: the Record-Route entries below ours, nearest first (§12.1.2).
  const rr = response.values('record-route');
  const ownIndex = rr.findIndex((v) => isOwn(deps, v));
  const routes = (ownIndex < 0 ? rr : rr.slice(0, ownIndex)).slice().reverse();
  const leg = deps.identity.exitLeg(exitSide, target.transport);
  const common = {
    requestUri,
    routes,
    from: sent.get('from') ?? '',
    to: response.get('to') ?? '',
    callId: sent.callId(),
  };
  const seq = sent.cseq().seq;
  const ack = buildInDialogRequest({ ...common, method: 'ACK', via: viaValue(leg, branchOnly()), cseq: seq });
  const ackBytes = ack.serialize();
  deps.sendStateless(ackBytes, target).catch(() => undefined);
  const bye = buildInDialogRequest({
    ...common,
    method: 'BYE',
    via: viaValue(leg, branchOnly()),
    cseq: seq + 1,
    headers: [['Reason', `SIP;cause=${cause};text="${reasonText.replace(/["\\\r\n]/g, "'").slice(0, 120)}"`], ['Server', deps.agent]],
  });
  deps.transactions.createClient(bye, target, { onResponse: () => undefined, onTimeout: () => undefined, onTransportError: () => undefined });
  // The caller resends it for 2xx retransmissions (RFC 3261 §13.2.2.4).
  return ackBytes;
}

function isOwn(deps: ProxyDeps, value: string): boolean {
  try {
    const uri = routeUriOf(value);
    return uri !== null && deps.identity.isOwnUri(uri);
  } catch {
    return false;
  }
}
