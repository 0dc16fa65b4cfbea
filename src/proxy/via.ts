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
