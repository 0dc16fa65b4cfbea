import type { SipMessage } from '../message/message.js';
import type { Leg } from './identity.js';

/** The edge's Via for a leg: sent-by is the leg's advertised host; rport on UDP (RFC 3581). */
export function viaValue(leg: Leg, branch: string): string {
  return `SIP/2.0/${leg.transport.toUpperCase()} ${leg.host}:${leg.port};branch=${branch}${leg.transport === 'udp' ? ';rport' : ''}`;
}

/** A response as it goes upstream: our Via removed (RFC 3261 §16.7 step 3). */
export function withoutTopVia(response: SipMessage): SipMessage {
  const res = response.clone();
  res.shift('via');
  return res;
}

/**
 * §16.7 step 3: with its Via off a response carrying only ours "was meant for this element and
 * MUST NOT be forwarded". Far ends that build the INVITE's 487 from the CANCEL (whose only Via is
 * the edge's, §9.1) send exactly that. A final 3xx-6xx still ends the branch, so it goes on under
 * the Vias of the request the edge forwarded (what the far end should have copied); null for any
 * other response, which is dropped.
 */
export function withRequestVias(response: SipMessage, forwarded: SipMessage | null): SipMessage | null {
  if (response.status < 300 || forwarded === null) return null;
  const vias = forwarded.values('via');
  const mended = response.clone();
  mended.shift('via');
  for (let i = vias.length - 1; i >= 0; i--) mended.prepend('via', vias[i]!);
  return mended;
}
