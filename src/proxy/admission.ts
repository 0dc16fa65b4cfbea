/**
 * Admission of new server transactions (issue 11 item 8): token buckets per source, checked in
 * the receive path before the transaction layer allocates anything, so a flood costs a parse and
 * a bucket look-up, never transaction state.
 *
 * - The vendor's addresses (outside) and the peers' addresses (inside) each have their own bucket
 *   (`limits.knownSourceRequestRate` / `...Burst`): no stranger can spend them.
 * - Every other address (a "stranger", refused by access control anyway) has a small bucket of its
 *   own and shares one more for all strangers: a spoofed or distributed flood gets a bounded share
 *   of the CPU, never the vendor's or a peer's.
 * - Not counted: retransmissions and ACKs (they create no transaction: the transaction layer only
 *   asks for new ones). CANCEL and in-dialog requests (To-tag) from known sources end or carry
 *   calls already admitted: they spend the same bucket but may dip into a reserve of one more burst,
 *   so a source's own flood of new calls never starves them (and a flood of them is still bounded).
 * - Refused: 503 with Retry-After, sent statelessly, only ever to the source address. A known
 *   source's 503s come from a bucket of its own as large as its request bucket, so a PBX or lb host
 *   the edge sheds hears about every refused call at the rate it may send them, and fails over or
 *   backs off instead of retransmitting into the overload (RFC 5390 §5: a silently dropped INVITE
 *   comes back up to six times). One 503 per request, never larger than the request, to an
 *   address the operator configured: a forged source gains no amplification and no third-party
 *   target. Everyone else's 503s (and 400s) share one small bucket (`limits.overloadResponseRate`)
 *   so the edge cannot be made a reflector; beyond it, dropped and counted. UDP strangers get
 *   nothing (access control drops their datagrams silently too: no answers to spoofable sources).
 * - Issue 13: while the event loop runs late (`limits.maxEventLoopDelayMs`, the median delay over the
 *   last half second: a lone GC pause does not move it, a loop that keeps falling behind does) new
 *   INVITEs get the same stateless 503 (SIPS_ERR_PROXY_OVERLOAD) before they cost a transaction;
 *   calls already admitted (CANCEL, ACK, in-dialog requests) and other methods go on. And while the
 *   loop is busy (a moving average over about 3 s: its CPU share, or its wall-time utilization while
 *   its UDP listeners fall behind; loop-load.ts) past `limits.maxEventLoopUtilizationPercent`,
 *   a share of new INVITEs in proportion to the excess gets it (every k-th, by error diffusion: no random).
 */
import { LoopDelaySampler, loopBusyPercent } from '../loop-load.js';
import type { Limits } from '../config/limits.js';
import { buildResponse } from '../message/build-response.js';
import type { SipMessage } from '../message/message.js';
import { responseDestination, unicastResponsePort } from '../transaction/response-destination.js';
import type { PeerAddress } from '../transaction/types.js';
import { warningValue } from '../message/warning.js';
import type { ProxyObserver } from './deps.js';
import type { AdmissionRefusedEvent, RefusalReason as AnyRefusalReason, RefusalResponse, Side, SourceKind } from '../diagnostics.js';

/** A lazily refilled token bucket; `tokens` may be fractional. */
export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(private readonly ratePerSecond: number, private readonly burst: number, now: number) {
    this.tokens = burst;
    this.last = now;
  }

  /**
   * Takes one token if there is one. `priority` may also take from a reserve of one more burst
   * below zero: such requests pass while ordinary ones are refused, and are bounded all the same.
   */
  take(now: number, priority = false): boolean {
    if (now > this.last) {
      this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) * this.ratePerSecond) / 1000);
      this.last = now;
    }
    if (this.tokens < (priority ? 1 - this.burst : 1)) return false;
    this.tokens -= 1;
    return true;
  }
}

export type { SourceKind, RefusalResponse } from '../diagnostics.js';
/** The refusals admission itself makes (`trunk-pending` is the proxy's). */
export type RefusalReason = Exclude<AnyRefusalReason, 'trunk-pending'>;
export type AdmissionEvent = AdmissionRefusedEvent;

export interface AdmissionDeps {
  readonly limits: Pick<Limits,
    'knownSourceRequestRate' | 'knownSourceRequestBurst' | 'strangerRequestRate' | 'strangerRequestBurst' |
    'strangersRequestRate' | 'strangersRequestBurst' | 'maxTrackedSources' | 'overloadResponseRate' |
    'overloadResponseBurst' | 'rateLimitRetryAfterSeconds' | 'maxEventLoopDelayMs' | 'eventLoopDelayDrillMs' | 'maxEventLoopUtilizationPercent' | 'eventLoopUtilizationDrillPercent'>;
  /** Tests: the loop utilization (percent) to act on instead of the process's own. */
  readonly loopUtilization?: () => number;
  readonly now: () => number;
  /** The side a source arrived on and whether access control admits it; undefined = unknown listener. */
  readonly classify: (source: PeerAddress) => { readonly side: Side; readonly known: boolean } | undefined;
  readonly send: (data: Buffer, dest: PeerAddress) => Promise<unknown>;
  readonly observer: ProxyObserver;
  readonly agent: string;
}

/**
 * Which class a source was found in is re-checked this often (DNS refreshes change the vendor's
 * addresses); strangers sooner, so a vendor host resolved just after start is not held back long.
 */
const RECLASSIFY_KNOWN_MS = 10_000;
const RECLASSIFY_STRANGER_MS = 1_000;

/** The loop delay admission acts on is the median over windows of this length. */
const LOOP_WINDOW_MS = 500;

/**
 * One sampler per process (the loop is the process's): read as windows by whichever admission asks
 * first once the window has passed, so there is no timer of its own and an idle edge samples only.
 */
let loopSampler: LoopDelaySampler | null = null;
let loopWindowAt = 0;
let loopDelayMs = 0;

function recentLoopDelay(now: number): number {
  loopSampler ??= new LoopDelaySampler();
  if (now - loopWindowAt >= LOOP_WINDOW_MS) {
    loopDelayMs = loopSampler.take().p50;
    loopWindowAt = now;
  }
  return loopDelayMs;
}

interface SourceEntry {
  readonly bucket: TokenBucket;
  /** A known source's own 503 (400) budget; strangers share `Admission.responses`. */
  readonly answers: TokenBucket | null;
  readonly side: Side;
  readonly kind: SourceKind;
  readonly classifiedAt: number;
}

export class Admission {
  /** By source address (and listener port: the same address may be the vendor outside and a stranger inside). */
  private readonly sources = new Map<string, SourceEntry>();
  private readonly strangers: TokenBucket;
  private readonly responses: TokenBucket;
  private readonly retryAfter: string;
  /** Error diffusion of the utilization shed: the share of new INVITEs owed a 503 so far. */
  private shedOwed = 0;

  constructor(private readonly deps: AdmissionDeps) {
    const l = deps.limits;
    const now = deps.now();
    this.strangers = new TokenBucket(l.strangersRequestRate, l.strangersRequestBurst, now);
    this.responses = new TokenBucket(l.overloadResponseRate, l.overloadResponseBurst, now);
    this.retryAfter = String(l.rateLimitRetryAfterSeconds);
  }

  /** The transaction layer's question for every request that would create a server transaction. */
  admit(request: SipMessage, source: PeerAddress): boolean {
    const now = this.deps.now();
    const entry = this.entryFor(source, now);
    // An unknown listener: the proxy answers 403 itself.
    if (entry === undefined) return true;
    const priority = entry.kind !== 'stranger' && (request.method === 'CANCEL' || hasToTag(request));
    const maxDelay = this.deps.limits.maxEventLoopDelayMs;
    if (maxDelay > 0 && request.method === 'INVITE' && !priority) {
      const delay = recentLoopDelay(now) + this.deps.limits.eventLoopDelayDrillMs;
      if (delay > maxDelay) return this.refuse(request, source, entry, 'loop-delay', now);
    }
    const maxBusy = this.deps.limits.maxEventLoopUtilizationPercent;
    if (maxBusy > 0 && request.method === 'INVITE' && !priority) {
      const busy = (this.deps.loopUtilization?.() ?? loopBusyPercent()) + this.deps.limits.eventLoopUtilizationDrillPercent;
      if (busy > maxBusy) {
        this.shedOwed += maxBusy >= 100 ? 1 : Math.min(1, (busy - maxBusy) / (100 - maxBusy));
        if (this.shedOwed >= 1) {
          this.shedOwed -= 1;
          return this.refuse(request, source, entry, 'loop-busy', now);
        }
      } else {
        this.shedOwed = 0;
      }
    }
    if (!entry.bucket.take(now, priority)) return this.refuse(request, source, entry, 'source-rate', now);
    if (entry.kind === 'stranger' && !this.strangers.take(now)) return this.refuse(request, source, entry, 'strangers-rate', now);
    return true;
  }

  /**
   * May a message that did not parse get its raw 400 (505/513)? Never for a UDP stranger (its source
   * address is spoofable: the 400 would be a reflection), and for anyone else only within the same
   * budget as the 503s, so malformed floods cannot make the edge an amplifier either.
   */
  mayAnswerMalformed(source: PeerAddress): boolean {
    const now = this.deps.now();
    const entry = this.entryFor(source, now);
    if (entry === undefined) return false;
    let response: RefusalResponse = 'sent';
    if (entry.kind === 'stranger' && source.transport === 'udp') response = 'silent';
    else if (!(entry.answers ?? this.responses).take(now)) response = 'suppressed';
    if (response !== 'sent') this.deps.observer.admissionRefused?.({ side: entry.side, source: entry.kind, reason: 'malformed', response });
    return response === 'sent';
  }

  /** Tracked source addresses (a test and metrics aid). */
  get trackedSources(): number {
    return this.sources.size;
  }

  private entryFor(source: PeerAddress, now: number): SourceEntry | undefined {
    const key = source.address + ' ' + source.localPort;
    const known = this.sources.get(key);
    if (known !== undefined && now - known.classifiedAt < (known.kind === 'stranger' ? RECLASSIFY_STRANGER_MS : RECLASSIFY_KNOWN_MS)) return known;
    const c = this.deps.classify(source);
    if (c === undefined) return undefined;
    const kind: SourceKind = !c.known ? 'stranger' : c.side === 'outside' ? 'vendor' : 'peer';
    const l = this.deps.limits;
    // A re-classified source keeps its bucket when its class did not change.
    const same = known !== undefined && known.kind === kind;
    const bucket = same
      ? known.bucket
      : kind === 'stranger'
        ? new TokenBucket(l.strangerRequestRate, l.strangerRequestBurst, now)
        : new TokenBucket(l.knownSourceRequestRate, l.knownSourceRequestBurst, now);
    const answers = same ? known.answers : kind === 'stranger' ? null : new TokenBucket(l.knownSourceRequestRate, l.knownSourceRequestBurst, now);
    const entry: SourceEntry = { bucket, answers, side: c.side, kind, classifiedAt: now };
    if (known !== undefined) this.sources.delete(key);
    else if (this.sources.size >= l.maxTrackedSources) {
      // Forget the oldest (Map order is insertion order): a forgotten stranger starts a fresh small
      // bucket, still under the shared strangers' one.
      const oldest = this.sources.keys().next().value;
      if (oldest !== undefined) this.sources.delete(oldest);
    }
    this.sources.set(key, entry);
    return entry;
  }

  private refuse(request: SipMessage, source: PeerAddress, entry: SourceEntry, reason: RefusalReason, now: number): false {
    let response: RefusalResponse;
    if (entry.kind === 'stranger' && source.transport === 'udp') response = 'silent';
    else if (!(entry.answers ?? this.responses).take(now)) response = 'suppressed';
    else response = this.answer(request, source, reason) ? 'sent' : 'suppressed';
    this.deps.observer.admissionRefused?.({ side: entry.side, source: entry.kind, reason, response });
    return false;
  }

  /** A stateless 503 (RFC 3261 §21.5.4) to where a response would go (§18.2.2, RFC 3581 rport). */
  private answer(request: SipMessage, source: PeerAddress, reason: RefusalReason): boolean {
    const warning = reason === 'loop-delay'
      ? warningValue(this.deps.agent, 'SIPS_ERR_PROXY_OVERLOAD', 'event loop delay over limits.maxEventLoopDelayMs')
      : reason === 'loop-busy'
        ? warningValue(this.deps.agent, 'SIPS_ERR_PROXY_OVERLOAD', 'event loop utilization over limits.maxEventLoopUtilizationPercent')
        : warningValue(this.deps.agent, 'SIPS_ERR_PROXY_RATE_LIMITED', 'too many new requests from this source');
    let data: Buffer;
    let dest: PeerAddress;
    try {
      data = buildResponse(request, 503, {
        headers: [['Retry-After', this.retryAfter], ['Warning', warning], ['Server', this.deps.agent]],
      }).serialize();
      // UDP: only ever to the address the datagram came from (no maddr, no received: no reflection to a third party).
      dest = source.transport !== 'udp'
        ? responseDestination(request, source)
        : { transport: 'udp', address: source.address, port: unicastResponsePort(request.via(), source), ...(source.localPort !== undefined ? { localPort: source.localPort } : {}) };
    } catch {
      return false; // a header the response needs does not parse: no answer
    }
    this.deps.send(data, dest).catch(() => undefined);
    return true;
  }
}

function hasToTag(request: SipMessage): boolean {
  try {
    return request.to().tag !== null;
  } catch {
    return false;
  }
}
