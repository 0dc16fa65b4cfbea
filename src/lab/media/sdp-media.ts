/**
 * The audio stream of an SDP as the lab's media endpoints need it (RFC 4566, RFC 3264), and the
 * offers and answers they send: PCMU/8000 + telephone-event/8000, ptime 20, rtcp-mux (RFC 5761),
 * RTP/AVP or RTP/SAVP with SDES keys (RFC 4568). Only the lines read here are parsed (sdp-transform
 * belongs to src/sdp/). Keys come from node:crypto, fresh per call, and are never put in a string
 * other than the SDP itself: nothing here logs.
 */
import { randomBytes, randomInt } from 'node:crypto';
import { inlineKeyOf, parseCryptoKey, type SrtpMasterKey, type SrtpSuite } from './srtp.js';

const CRLF = '\r\n';

export type MediaDirection = 'sendrecv' | 'sendonly' | 'recvonly' | 'inactive';
const DIRECTIONS: ReadonlySet<string> = new Set(['sendrecv', 'sendonly', 'recvonly', 'inactive']);

export interface AudioMedia {
  /** c= of the media, else of the session (RFC 4566 §5.7); null when neither is IN IP4/IP6 */
  readonly address: string | null;
  readonly port: number;
  /** as written: RTP/AVP, RTP/SAVP, ... */
  readonly proto: string;
  /** proto is RTP/SAVP (SDES-SRTP) */
  readonly secure: boolean;
  readonly payloadTypes: readonly number[];
  /** payload type -> `encoding/clock` from a=rtpmap (static types without one are not listed) */
  readonly rtpmap: ReadonlyMap<number, string>;
  /** the text after `a=crypto:` of each crypto line, in order */
  readonly crypto: readonly string[];
  readonly rtcpMux: boolean;
  /** media-level attribute, else session-level, else sendrecv (RFC 3264 §5.1) */
  readonly direction: MediaDirection;
}

/** The first m=audio of `sdp`, or null when there is none or the m= line is malformed. */
export function readAudio(sdp: string): AudioMedia | null {
  let sessionAddress: string | null = null;
  let sessionDirection: MediaDirection | null = null;
  let audio: {
    address: string | null; port: number; proto: string; payloadTypes: number[]; rtpmap: Map<number, string>;
    crypto: string[]; rtcpMux: boolean; direction: MediaDirection | null;
  } | null = null;
  let inOtherMedia = false;
  for (const raw of sdp.split('\n')) {
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (line.length < 2 || line[1] !== '=') continue;
    const type = line[0];
    const value = line.slice(2);
    if (type === 'm') {
      if (audio !== null) break; // only the first audio stream
      const parts = value.split(' ');
      if (parts[0] !== 'audio') { inOtherMedia = true; continue; }
      inOtherMedia = false;
      const port = Number((parts[1] ?? '').split('/')[0]);
      const proto = parts[2] ?? '';
      if (!/^\d{1,5}$/.test((parts[1] ?? '').split('/')[0] ?? '') || port > 65535 || proto === '' || parts.length < 4) return null;
      const payloadTypes = parts.slice(3).filter((p) => /^\d{1,3}$/.test(p)).map(Number).filter((n) => n <= 127);
      audio = { address: null, port, proto, payloadTypes, rtpmap: new Map(), crypto: [], rtcpMux: false, direction: null };
      continue;
    }
    if (inOtherMedia) continue;
    if (type === 'c') {
      const c = /^IN IP[46] (\S+)$/.exec(value);
      const address = c === null ? null : (c[1] ?? '').split('/')[0] ?? null;
      if (audio === null) sessionAddress = address;
      else audio.address = address;
    } else if (type === 'a') {
      const colon = value.indexOf(':');
      const name = (colon === -1 ? value : value.slice(0, colon)).toLowerCase();
      const rest = colon === -1 ? '' : value.slice(colon + 1);
      if (DIRECTIONS.has(name)) {
        if (audio === null) sessionDirection = name as MediaDirection;
        else audio.direction = name as MediaDirection;
      } else if (audio === null) {
        continue;
      } else if (name === 'crypto') {
        audio.crypto.push(rest);
      } else if (name === 'rtcp-mux') {
        audio.rtcpMux = true;
      } else if (name === 'rtpmap') {
        const r = /^(\d{1,3}) (\S+)/.exec(rest);
        if (r !== null) audio.rtpmap.set(Number(r[1]), r[2] ?? '');
      }
    }
  }
  if (audio === null) return null;
  return {
    address: audio.address ?? sessionAddress,
    port: audio.port,
    proto: audio.proto,
    secure: audio.proto.toUpperCase() === 'RTP/SAVP',
    payloadTypes: audio.payloadTypes,
    rtpmap: audio.rtpmap,
    crypto: audio.crypto,
    rtcpMux: audio.rtcpMux,
    direction: audio.direction ?? sessionDirection ?? 'sendrecv',
  };
}

/** A fresh master key + salt for a suite (RFC 4568 §6.1: 30 bytes for both AES_CM_128 suites). */
export function newMasterKey(suite: SrtpSuite): SrtpMasterKey {
  const raw = randomBytes(30);
  return { suite, key: raw.subarray(0, 16), salt: raw.subarray(16) };
}

export interface BuildOptions {
  /** o= user name */
  readonly user: string;
  readonly address: string;
  readonly port: number;
  readonly direction?: MediaDirection;
}

export interface BuiltOffer {
  readonly sdp: string;
  /** crypto tag -> the key this side will SEND with if the answer accepts that tag; empty for RTP */
  readonly keys: ReadonlyMap<string, SrtpMasterKey>;
}

export const TELEPHONE_EVENT_PT = 101;

function lines(o: BuildOptions, proto: string, pts: readonly number[]): string[] {
  const id = randomInt(1, 2 ** 31);
  const ip = o.address.includes(':') ? 'IP6' : 'IP4';
  return [
    'v=0', `o=${o.user} ${id} ${id} IN ${ip} ${o.address}`, 's=sips-edge lab media', `c=IN ${ip} ${o.address}`, 't=0 0',
    `m=audio ${o.port} ${proto} ${pts.join(' ')}`,
  ];
}

function tail(pts: readonly number[], rtcpMux: boolean, direction: MediaDirection): string[] {
  const out = ['a=rtpmap:0 PCMU/8000'];
  for (const pt of pts) if (pt !== 0) out.push(`a=rtpmap:${pt} telephone-event/8000`, `a=fmtp:${pt} 0-16`);
  if (rtcpMux) out.push('a=rtcp-mux');
  out.push('a=ptime:20', `a=${direction}`);
  return out;
}

/**
 * An offer: RTP/AVP when `suites` is empty, else RTP/SAVP with one a=crypto per suite (tags 1, 2, ...),
 * each with its own fresh key.
 */
export function buildOffer(o: BuildOptions & { readonly suites: readonly SrtpSuite[] }): BuiltOffer {
  const pts = [0, TELEPHONE_EVENT_PT];
  const out = lines(o, o.suites.length === 0 ? 'RTP/AVP' : 'RTP/SAVP', pts);
  const keys = new Map<string, SrtpMasterKey>();
  o.suites.forEach((suite, i) => {
    const tag = String(i + 1);
    const m = newMasterKey(suite);
    keys.set(tag, m);
    out.push(`a=crypto:${tag} ${suite} inline:${inlineKeyOf(m)}`);
  });
  out.push(...tail(pts, true, o.direction ?? 'sendrecv'));
  return { sdp: out.join(CRLF) + CRLF, keys };
}

export interface BuiltAnswer {
  readonly sdp: string;
  /** the key this side sends with (its own a=crypto); null for RTP */
  readonly txKey: SrtpMasterKey | null;
  /** the key the offerer sends with (the accepted offered a=crypto): what this side decrypts with */
  readonly rxKey: SrtpMasterKey | null;
}

const ANSWER_DIRECTION: Record<MediaDirection, MediaDirection> = {
  sendrecv: 'sendrecv', sendonly: 'recvonly', recvonly: 'sendonly', inactive: 'inactive',
};

/**
 * An answer to `offer` (RFC 3264 §6): same proto; PCMU, plus telephone-event at the offer's payload
 * type when offered; rtcp-mux only when offered (RFC 5761 §5.1.1); the mirrored direction. For
 * RTP/SAVP, the first offered a=crypto this SRTP can use is accepted with the offer's tag and a fresh
 * key of the same suite (RFC 4568 §7.1.2). Null when the offer has no PCMU, or is RTP/SAVP without a
 * usable a=crypto (a 488 for the caller).
 */
export function buildAnswer(offer: AudioMedia, o: BuildOptions): BuiltAnswer | null {
  if (!offer.payloadTypes.includes(0)) return null;
  const te = offer.payloadTypes.find((pt) => (offer.rtpmap.get(pt) ?? '').toLowerCase() === 'telephone-event/8000');
  const pts = te === undefined ? [0] : [0, te];
  const out = lines(o, offer.proto, pts);
  let txKey: SrtpMasterKey | null = null;
  let rxKey: SrtpMasterKey | null = null;
  if (offer.secure) {
    for (const c of offer.crypto) {
      const parsed = parseCryptoKey(c);
      if (parsed === null) continue;
      rxKey = parsed.master;
      txKey = newMasterKey(parsed.master.suite);
      out.push(`a=crypto:${parsed.tag} ${parsed.master.suite} inline:${inlineKeyOf(txKey)}`);
      break;
    }
    if (rxKey === null) return null;
  }
  out.push(...tail(pts, offer.rtcpMux, o.direction ?? ANSWER_DIRECTION[offer.direction]));
  return { sdp: out.join(CRLF) + CRLF, txKey, rxKey };
}

/**
 * The offerer's keys once the answer is in (RFC 4568 §6.1): send with the key of the offered tag
 * the answer accepted, decrypt with the answer's own key. Null when the answer accepts no offered tag
 * or its key is unusable.
 */
export function keysFromAnswer(offer: BuiltOffer, answer: AudioMedia): { readonly txKey: SrtpMasterKey; readonly rxKey: SrtpMasterKey } | null {
  for (const c of answer.crypto) {
    const parsed = parseCryptoKey(c);
    if (parsed === null) continue;
    const txKey = offer.keys.get(parsed.tag);
    if (txKey === undefined || txKey.suite !== parsed.master.suite) continue;
    return { txKey, rxKey: parsed.master };
  }
  return null;
}
