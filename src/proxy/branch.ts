import { randomBytes } from 'node:crypto';
import { BRANCH_MAGIC_COOKIE } from '../message/constants.js';
import type { SipMessage } from '../message/message.js';

/**
 * Branches the edge writes: `z9hG4bK` + `se` + worker + `.` + loop hash + `.` + unique part.
 * The loop hash covers what RFC 3261 §16.6 step 8 lists (Request-URI as received, From/To tags,
 * Call-ID, CSeq number, Route, Proxy-Require, Proxy-Authorization), so a request that comes back
 * unchanged is a loop (482) while one whose Request-URI changed is a spiral (§16.3 step 4). It
 * hashes those header fields as written (From and To whole, tags included), which tells the same
 * request from another just as well and needs no parsing.
 * The worker slot (`edge.workers`, 0 for a single process) tells which worker holds the client
 * transaction, so a response that the kernel hands to another worker is passed to it (docs/workers.md).
 */
const PREFIX = `${BRANCH_MAGIC_COOKIE}se`;
let counter = 0;
const instance = randomBytes(3).toString('hex');
let thisWorker = 0;

/** Once per process, before the first branch: the worker slot written into every branch. */
export function setBranchWorker(slot: number): void {
  thisWorker = slot;
}

/** The worker slot inside one of our branches (0: a single process or a stateless branch), or null for another element's branch. */
export function workerOfBranch(branch: string | null | undefined): number | null {
  if (branch === null || branch === undefined || !branch.startsWith(PREFIX)) return null;
  let n = 0;
  for (let i = PREFIX.length; i < branch.length && i < PREFIX.length + 3; i++) {
    const c = branch.charCodeAt(i);
    if (c === 0x2e) return i === PREFIX.length ? null : n;
    if (c < 0x30 || c > 0x39) return null;
    n = n * 10 + (c - 0x30);
  }
  return null;
}

export function loopHash(request: SipMessage): string {
  // Not a security hash: it only has to tell "the same request again" from "another one" (FNV-1a,
  // two 32-bit lanes, no allocation per field on the hot path).
  const h = { a: 0x811c9dc5, b: 0x01000193 };
  mix(h, request.requestUriText);
  for (const f of request.headers) {
    switch (f.key) {
      case 'from': case 'to': case 'call-id': case 'cseq':
      case 'route': case 'proxy-require': case 'proxy-authorization':
        mix(h, f.key);
        mix(h, f.value);
        break;
      default:
        break;
    }
  }
  return hex12(h);
}

function mix(h: { a: number; b: number }, s: string): void {
  let a = h.a;
  let b = h.b;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x5bd1e995) ^ (b >>> 15);
  }
  h.a = Math.imul(a ^ 0xff, 0x01000193);
  h.b = b ^ 0xff;
}

export function newBranch(loop: string, worker = thisWorker): string {
  counter = (counter + 1) % 0x7fffffff;
  // join: one flat string (the client transaction keeps it for up to 32 s).
  return [PREFIX, worker, '.', loop, '.', instance, counter.toString(36)].join('');
}

/** The loop hash inside one of our branches, or null for someone else's branch. */
export function loopHashOf(branch: string | null): string | null {
  if (branch === null || !branch.startsWith(PREFIX)) return null;
  const parts = branch.slice(PREFIX.length).split('.');
  return parts.length === 3 ? parts[1]! : null;
}

/** A branch for requests the edge originates itself (ACK/BYE of a refused answer, probes). */
export function branchOnly(): string {
  return newBranch('000000000000');
}

/**
 * RFC 3261 §16.11: a request forwarded statelessly (the ACK for a 2xx) must get the same branch
 * every time it is retransmitted, so the branch is derived from the incoming top Via's branch
 * and sent-by instead of a counter.
 */
export function statelessBranch(request: SipMessage): string {
  const via = request.via();
  const h = { a: 0x811c9dc5, b: 0x01000193 };
  mix(h, via.branch ?? '');
  mix(h, via.host);
  mix(h, String(via.port ?? ''));
  mix(h, request.callId());
  mix(h, request.requestUriText);
  // No loop hash: an ACK is never answered, so there is no loop to report for it (§16.3 step 4).
  return `${PREFIX}0.0.s${hex12(h)}`;
}

const HEX = [48, 49, 50, 51, 52, 53, 54, 55, 56, 57, 97, 98, 99, 100, 101, 102];

/** 48 bits of the two lanes as 12 hex digits, written in one go (radix toString is slow in V8). */
function hex12(h: { a: number; b: number }): string {
  const a = h.a >>> 0;
  const b = h.b >>> 0;
  return String.fromCharCode(
    HEX[a >>> 28]!, HEX[(a >>> 24) & 15]!, HEX[(a >>> 20) & 15]!, HEX[(a >>> 16) & 15]!,
    HEX[(a >>> 12) & 15]!, HEX[(a >>> 8) & 15]!, HEX[(a >>> 4) & 15]!, HEX[a & 15]!,
    HEX[b >>> 28]!, HEX[(b >>> 24) & 15]!, HEX[(b >>> 20) & 15]!, HEX[(b >>> 16) & 15]!,
  );
}
