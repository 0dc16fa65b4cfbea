import { createHash, randomBytes } from 'node:crypto';
import { BRANCH_MAGIC_COOKIE } from '../message/constants.js';
import type { SipMessage } from '../message/message.js';

/**
 * Branches the edge writes: `z9hG4bK` + `se` + worker + `.` + loop hash + `.` + unique part.
 * The loop hash covers what RFC 3261 §16.6 step 8 lists (Request-URI as received, From/To tags,
 * Call-ID, CSeq number, Route, Proxy-Require, Proxy-Authorization), so a request that comes back
 * unchanged is a loop (482) while one whose Request-URI changed is a spiral (§16.3 step 4).
 * The worker index leaves room for several workers per machine (architecture seams).
 */
const PREFIX = `${BRANCH_MAGIC_COOKIE}se`;
let counter = 0;
const instance = randomBytes(3).toString('hex');

export function loopHash(request: SipMessage): string {
  const h = createHash('sha1');
  h.update(request.requestUriText);
  h.update('\0' + (request.from().tag ?? ''));
  h.update('\0' + (request.to().tag ?? ''));
  h.update('\0' + request.callId());
  h.update('\0' + request.cseq().seq);
  for (const v of request.values('route')) h.update('\0r' + v);
  for (const v of request.values('proxy-require')) h.update('\0p' + v);
  for (const v of request.values('proxy-authorization')) h.update('\0a' + v);
  return h.digest('hex').slice(0, 10);
}

export function newBranch(loop: string, worker = 0): string {
  counter = (counter + 1) % 0x7fffffff;
  return `${PREFIX}${worker}.${loop}.${instance}${counter.toString(36)}`;
}

/** The loop hash inside one of our branches, or null for someone else's branch. */
export function loopHashOf(branch: string | null): string | null {
  if (branch === null || !branch.startsWith(PREFIX)) return null;
  const parts = branch.slice(PREFIX.length).split('.');
  return parts.length === 3 ? parts[1]! : null;
}

/** A branch for requests the edge originates itself (ACK/BYE of a refused answer, probes). */
export function branchOnly(): string {
  return newBranch('0000000000');
}

/**
 * RFC 3261 §16.11: a request forwarded statelessly (the ACK for a 2xx) must get the same branch
 * every time it is retransmitted, so the branch is derived from the incoming top Via's branch
 * and sent-by instead of a counter.
 */
export function statelessBranch(request: SipMessage): string {
  const via = request.via();
  const h = createHash('sha1').update(`${via.branch ?? ''}\0${via.host}:${via.port ?? ''}\0${request.callId()}`).digest('hex').slice(0, 12);
  return `${PREFIX}0.${loopHash(request)}.s${h}`;
}
