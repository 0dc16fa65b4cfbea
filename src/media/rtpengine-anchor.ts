/**
 * The MediaAnchor on rtpengine (ng protocol): builds the `offer`/`answer`/`delete`/`query`
 * dictionaries per leg profile and checks what rtpengine wrote before the proxy sends it on.
 * Flags as rtpengine 10.5 spells them (docs/media.md).
 */
import type { Clock } from '../clock.js';
import type { BDict, BValue } from './bencode.js';
import { NgCommandError } from './ng-client.js';
import { RtpenginePool, type MediaObserver, type RtpengineInstanceConfig } from './rtpengine-pool.js';
import { MediaError, type LegMedia, type MediaAnchor, type MediaRequest, type MediaResult, type MediaSide, type MediaInstanceState } from './types.js';

export type { MediaObserver, MediaCommandEvent, MediaInstanceEvent, RtpengineInstanceConfig } from './rtpengine-pool.js';

/**
 * Every SDES suite rtpengine 10.5 generates (its order when unrestricted). 10.5 knows no
 * `only-<suite>` flag, so the allowed suites are reached by `no-<suite>` for all the others.
 */
export const RTPENGINE_SDES_SUITES = [
  'AEAD_AES_256_GCM', 'AEAD_AES_128_GCM',
  'AES_256_CM_HMAC_SHA1_80', 'AES_256_CM_HMAC_SHA1_32',
  'AES_192_CM_HMAC_SHA1_80', 'AES_192_CM_HMAC_SHA1_32',
  'AES_CM_128_HMAC_SHA1_80', 'AES_CM_128_HMAC_SHA1_32',
  'F8_128_HMAC_SHA1_80', 'F8_128_HMAC_SHA1_32',
  'NULL_HMAC_SHA1_80', 'NULL_HMAC_SHA1_32',
] as const;
export type SdesSuite = (typeof RTPENGINE_SDES_SUITES)[number];

export const DEFAULT_SDES_SUITES: readonly SdesSuite[] = ['AES_CM_128_HMAC_SHA1_80', 'AES_CM_128_HMAC_SHA1_32'];

export interface RtpengineAnchorOptions {
  readonly instances: readonly RtpengineInstanceConfig[];
  /** Deadline of one ng command, all sends together (default 1000). */
  readonly timeoutMs?: number;
  /** Retransmissions of a command within that deadline (default 2). */
  readonly retries?: number;
  /** `ping` period per instance (default 5000). */
  readonly pingIntervalMs?: number;
  /** rtpengine's logical interface names (its `--interface NAME/IP`) of the edge's two sides. */
  readonly interfaces?: { readonly inside?: string; readonly outside?: string };
  /** SDES suites rtpengine may offer or accept on an srtp leg (default AES_CM_128_HMAC_SHA1_80 and _32). */
  readonly sdesSuites?: readonly SdesSuite[];
  /** Calls whose instance is remembered (default 100,000). */
  readonly maxCalls?: number;
  /** ng commands in flight per instance (default 1024). */
  readonly maxPending?: number;
  readonly observer?: MediaObserver;
  readonly clock?: Clock;
}

/** The anchor, with the extras tests and operators use. */
export interface RtpengineAnchor extends MediaAnchor {
  /** rtpengine's `query` of a call on the instance holding it; null when rtpengine does not know it. Rejects with MediaError. */
  query(callId: string): Promise<BDict | null>;
  /** Resolves once every instance answered or failed its first `ping`. */
  ready(): Promise<void>;
  /** Name of the instance a call is placed on, null when none yet. */
  holderOf(callId: string): string | null;
}

const PROTOCOL: Record<LegMedia, string> = { rtp: 'RTP/AVP', srtp: 'RTP/SAVP' };

/** The m= lines and a=crypto suites of an SDP, per media section (no key ever read out). */
function mediaSections(sdp: string): { proto: string; port: number; suites: string[] }[] {
  const out: { proto: string; port: number; suites: string[] }[] = [];
  for (const line of sdp.split(/\r?\n/)) {
    if (line.startsWith('m=')) {
      const [, port = '', proto = ''] = line.slice(2).split(' ');
      out.push({ proto, port: Number(port), suites: [] });
    } else if (line.startsWith('a=crypto:')) {
      out.at(-1)?.suites.push(line.split(' ')[1] ?? '');
    }
  }
  return out;
}

/** What rtpengine wrote must be what the receiving leg was promised; a mismatch is never sent on. */
function checkRewritten(sdp: string, toMedia: LegMedia, allowed: readonly string[]): string | null {
  const sections = mediaSections(sdp);
  if (sections.length === 0) return 'rewritten SDP has no m= line';
  for (const [i, m] of sections.entries()) {
    if (m.port === 0) continue; // a rejected stream
    if (toMedia === 'rtp') {
      if (!m.proto.startsWith('RTP/AVP')) return `m-line ${i + 1} is ${m.proto}, the rtp leg needs RTP/AVP`;
      if (m.suites.length > 0) return `m-line ${i + 1} carries a=crypto toward an rtp leg`;
    } else {
      if (!m.proto.startsWith('RTP/SAVP')) return `m-line ${i + 1} is ${m.proto}, the srtp leg needs RTP/SAVP`;
      if (m.suites.length === 0) return `m-line ${i + 1} has no a=crypto with an allowed suite (${allowed.join(', ')})`;
      const bad = m.suites.find((s) => !allowed.includes(s));
      if (bad !== undefined) return `m-line ${i + 1} offers suite ${bad}, not allowed`;
    }
  }
  return null;
}

export function createRtpengineAnchor(opts: RtpengineAnchorOptions): RtpengineAnchor {
  const suites = opts.sdesSuites ?? DEFAULT_SDES_SUITES;
  for (const s of suites) {
    if (!(RTPENGINE_SDES_SUITES as readonly string[]).includes(s)) throw new MediaError('SIPS_ERR_MEDIA_REFUSED', `unknown SDES suite ${s}`);
  }
  if (suites.length === 0) throw new MediaError('SIPS_ERR_MEDIA_REFUSED', 'no SDES suite allowed');
  const sdesFlags = RTPENGINE_SDES_SUITES.filter((s) => !suites.includes(s)).map((s) => `no-${s}`);
  const iface: Record<MediaSide, string> = { inside: opts.interfaces?.inside ?? 'inside', outside: opts.interfaces?.outside ?? 'outside' };
  const pool = new RtpenginePool({
    instances: opts.instances,
    timeoutMs: opts.timeoutMs ?? 1000,
    retries: opts.retries ?? 2,
    pingIntervalMs: opts.pingIntervalMs ?? 5000,
    ...(opts.maxCalls !== undefined ? { maxCalls: opts.maxCalls } : {}),
    ...(opts.maxPending !== undefined ? { maxPending: opts.maxPending } : {}),
    ...(opts.observer !== undefined ? { observer: opts.observer } : {}),
    ...(opts.clock !== undefined ? { clock: opts.clock } : {}),
  });

  const rewriteDict = (command: 'offer' | 'answer', r: MediaRequest): Record<string, BValue> => ({
    command,
    'call-id': r.callId,
    'from-tag': r.fromTag,
    ...(r.toTag !== undefined ? { 'to-tag': r.toTag } : {}),
    sdp: r.sdp,
    direction: [iface[r.from], iface[r.to]],
    'transport-protocol': PROTOCOL[r.toMedia],
    // SDES only (RFC 4568): no DTLS fingerprint next to the keys; restricted suites both ways.
    DTLS: 'off',
    SDES: sdesFlags,
    ICE: 'remove',
    replace: ['origin', 'session-connection'],
    // Offer rtcp-mux to the receiving leg, accept it from the offerer (RFC 5761 §5.1.1).
    'rtcp-mux': ['offer', 'accept'],
  });

  const rewrite = async (command: 'offer' | 'answer', r: MediaRequest): Promise<MediaResult> => {
    const newCall = command === 'offer' && r.toTag === undefined;
    const { reply, instance } = await pool.send(r.callId, rewriteDict(command, r), newCall);
    const sdp = reply.dict['sdp'];
    if (typeof sdp !== 'string') throw new MediaError('SIPS_ERR_MEDIA_REFUSED', `rtpengine ${instance} answered ${command} without sdp`);
    const problem = checkRewritten(sdp, r.toMedia, suites);
    if (problem !== null) throw new MediaError('SIPS_ERR_MEDIA_REFUSED', `rtpengine ${instance} ${command}: ${problem}`);
    return { sdp, instance };
  };

  return {
    offer: (r) => rewrite('offer', r),
    answer: (r) => rewrite('answer', r),
    async delete(callId, fromTag) {
      try {
        await pool.remove(callId, { command: 'delete', 'call-id': callId, ...(fromTag !== undefined ? { 'from-tag': fromTag } : {}) });
      } catch (e) {
        // Reported through observer.onCommand by the pool; rtpengine's timeouts reap the session.
        if (!(e instanceof MediaError)) throw e;
      }
    },
    async query(callId) {
      try {
        const { reply } = await pool.peek(callId, { command: 'query', 'call-id': callId });
        return reply.dict;
      } catch (e) {
        if (e instanceof NgCommandError && e.kind === 'error' && /unknown call/i.test(e.errorReason ?? '')) return null;
        throw e;
      }
    },
    available: () => pool.available(),
    instances: (): readonly MediaInstanceState[] => pool.states(),
    ready: () => pool.ready(),
    holderOf: (callId) => pool.holderOf(callId),
    close: () => pool.close(),
  };
}
