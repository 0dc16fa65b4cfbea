/**
 * S-MEDIA-1: every SDP offer and answer that crosses a secure trunk must ask for SRTP — RTP/SAVP(F)
 * with valid `a=crypto` lines (RFC 4568) — or, when the trunk allows it, DTLS-SRTP (RFC 5763/5764).
 *
 * `checkOffer` and `checkAnswer` are pure and sit on every call's path: they run over the one-pass
 * line scan in scan-sdp.ts. `describeSdp` is the slow diagnostic view built on sdp-transform (this is
 * the only module that imports it). Decisions for media that is not RTP are documented in docs/sdp.md.
 */
import { parse as parseWithSdpTransform } from 'sdp-transform';
import { ConfigError } from '../errors.js';
import {
  base64DecodedLength,
  checkCryptoAttribute,
  CRYPTO_SUITES,
  DEFAULT_ALLOWED_SUITES,
  describeSuite,
  isCryptoSuite,
  readTagAndSuite,
} from './crypto-attribute.js';
import { redactSdpKeys } from './redact-sdp-keys.js';
import { scanSdp, type ScannedMedia, type ScannedSdp } from './scan-sdp.js';
import { sdpFailure, type SdpFailure, type SdpVerdict } from './verdict.js';

// --- policy -------------------------------------------------------------------------------------

export interface SrtpPolicyOptions {
  /** SDES crypto-suites an offer may use and an answer may pick. Default: DEFAULT_ALLOWED_SUITES. */
  readonly allowedSuites?: readonly string[];
  /** Accept DTLS-SRTP lines (UDP/TLS/RTP/SAVP(F) with a=fingerprint). Default false. */
  readonly allowDtlsSrtp?: boolean;
  /** T.38 fax over plain UDPTL (`m=image <port> udptl t38`) cannot be SRTP. Default 'refuse'. */
  readonly udptl?: 'refuse' | 'allow';
  /**
   * Media that is neither RTP nor UDPTL (BFCP, MSRP, SCTP data, ...): 'allow-tls' lets it through
   * only when its proto runs over TLS or DTLS (TCP/TLS/BFCP, TCP/TLS/MSRP, UDP/DTLS/SCTP). Default 'allow-tls'.
   */
  readonly otherMedia?: 'refuse' | 'allow-tls' | 'allow';
}

/** A checked policy; build it once with `createSrtpPolicy` (the checks do no per-call setup). */
export interface SrtpPolicy {
  readonly allowedSuites: ReadonlySet<string>;
  readonly allowDtlsSrtp: boolean;
  readonly udptl: 'refuse' | 'allow';
  readonly otherMedia: 'refuse' | 'allow-tls' | 'allow';
}

/** Every problem in `options`, so a config loader can report them together with its own. */
export function checkSrtpPolicyOptions(options: SrtpPolicyOptions, path = 'srtp'): ConfigError[] {
  const problems: ConfigError[] = [];
  const suites = options.allowedSuites;
  if (suites !== undefined) {
    if (suites.length === 0) problems.push(new ConfigError(`${path}.allowedSuites`, 'must name at least one crypto-suite'));
    for (const suite of suites) {
      if (!isCryptoSuite(suite)) {
        problems.push(
          new ConfigError(`${path}.allowedSuites`, `unknown crypto-suite ${JSON.stringify(suite)}; known: ${Object.keys(CRYPTO_SUITES).join(', ')}`),
        );
      }
    }
  }
  if (options.udptl !== undefined && options.udptl !== 'refuse' && options.udptl !== 'allow') {
    problems.push(new ConfigError(`${path}.udptl`, `must be 'refuse' or 'allow'`));
  }
  const other = options.otherMedia;
  if (other !== undefined && other !== 'refuse' && other !== 'allow-tls' && other !== 'allow') {
    problems.push(new ConfigError(`${path}.otherMedia`, `must be 'refuse', 'allow-tls' or 'allow'`));
  }
  return problems;
}

/** Build a policy; throws the first ConfigError (use checkSrtpPolicyOptions to gather them all). */
export function createSrtpPolicy(options: SrtpPolicyOptions = {}, path = 'srtp'): SrtpPolicy {
  const problem = checkSrtpPolicyOptions(options, path)[0];
  if (problem !== undefined) throw problem;
  return Object.freeze({
    allowedSuites: new Set(options.allowedSuites ?? DEFAULT_ALLOWED_SUITES),
    allowDtlsSrtp: options.allowDtlsSrtp ?? false,
    udptl: options.udptl ?? 'refuse',
    otherMedia: options.otherMedia ?? 'allow-tls',
  });
}

export const DEFAULT_SRTP_POLICY: SrtpPolicy = createSrtpPolicy();

// --- media classes ------------------------------------------------------------------------------

/**
 * What protection a proto can give. RTP/SAVP(F) is SDES-keyed SRTP (RFC 4568); an RTP proto over
 * TLS/DTLS is DTLS-SRTP (RFC 5764, RFC 7850); RTP/AVP(F) is plain RTP. The rule follows the proto,
 * not the media type, so `m=text` (T.140, RFC 4103) and `m=image ... RTP/AVP t38` are held to the
 * same rule as audio and video.
 */
type MediaClass = 'sdes' | 'dtls' | 'plain-rtp' | 'udptl' | 'tls' | 'other';

function classify(proto: string): MediaClass {
  const p = proto.toUpperCase();
  const overTls = p.includes('TLS'); // TLS and DTLS both
  if (p.includes('RTP/')) {
    if (overTls) return 'dtls';
    return p.endsWith('/SAVP') || p.endsWith('/SAVPF') ? 'sdes' : 'plain-rtp';
  }
  if (overTls) return 'tls';
  return p.includes('UDPTL') ? 'udptl' : 'other';
}

const PRINTABLE_TOKEN = /^[A-Za-z0-9/_.+-]{1,32}$/;

function printable(token: string): string {
  return PRINTABLE_TOKEN.test(token) ? token : '?';
}

function label(m: ScannedMedia, answer: boolean): string {
  return `${answer ? 'answer ' : ''}m=${printable(m.media)} #${m.index} (port ${m.port})`;
}

/**
 * The checks every active line gets, offer or answer. Returns a failure, 'sdes' when the caller
 * must check the crypto lines, or null when the line passes as it is.
 */
function checkMediaClass(m: ScannedMedia, sdp: ScannedSdp, policy: SrtpPolicy, answer: boolean): SdpFailure | 'sdes' | null {
  const cls = classify(m.proto);
  if (cls === 'sdes') return 'sdes';
  const where = label(m, answer);
  const proto = printable(m.proto);
  switch (cls) {
    case 'plain-rtp':
      return sdpFailure(
        'not-savp',
        `${where}: proto ${proto} is not SRTP; needs RTP/SAVP or RTP/SAVPF` +
          (m.crypto.length > 0 ? ' (a=crypto on a plain RTP line is optional SRTP, which the peer may decline)' : ''),
        m.index,
      );
    case 'dtls':
      return checkDtls(m, sdp, policy, where, proto);
    case 'udptl':
      if (policy.udptl === 'allow') return null;
      return sdpFailure(
        'udptl-not-allowed',
        `${where}: ${proto} (T.38 fax) cannot be protected by SRTP; allowed only with srtp.udptl: allow`,
        m.index,
      );
    case 'tls':
      if (policy.otherMedia !== 'refuse') return null;
      return sdpFailure('media-not-allowed', `${where}: ${proto} is not RTP; non-RTP media is refused by policy`, m.index);
    case 'other':
      if (policy.otherMedia === 'allow') return null;
      return sdpFailure('media-not-allowed', `${where}: ${proto} is neither SRTP nor carried over TLS/DTLS`, m.index);
  }
}

/** RFC 8122 §5 hash lengths; MD2 and MD5 are refused as too weak. */
const FINGERPRINT_BYTES: Readonly<Record<string, number>> = {
  'SHA-1': 20,
  'SHA-224': 28,
  'SHA-256': 32,
  'SHA-384': 48,
  'SHA-512': 64,
};

const FINGERPRINT_HEX = /^[0-9A-Fa-f]{2}(?::[0-9A-Fa-f]{2})*$/;

function checkDtls(m: ScannedMedia, sdp: ScannedSdp, policy: SrtpPolicy, where: string, proto: string): SdpFailure | null {
  if (!policy.allowDtlsSrtp) {
    return sdpFailure('dtls-srtp-not-allowed', `${where}: ${proto} is DTLS-SRTP, which this trunk does not allow (srtp.allowDtlsSrtp)`, m.index);
  }
  const fingerprints = m.fingerprints.length > 0 ? m.fingerprints : sdp.sessionFingerprints;
  if (fingerprints.length === 0) {
    return sdpFailure('no-fingerprint', `${where}: ${proto} line has no a=fingerprint at media or session level (RFC 5763 §5)`, m.index);
  }
  for (const value of fingerprints) {
    const [hash = '', hex = ''] = value.trim().split(/[ \t]+/);
    const bytes = FINGERPRINT_BYTES[hash.toUpperCase()];
    if (bytes === undefined) {
      return sdpFailure('bad-fingerprint', `${where}: a=fingerprint hash ${printable(hash)} is not one of sha-1, sha-224, sha-256, sha-384, sha-512`, m.index);
    }
    if (!FINGERPRINT_HEX.test(hex) || (hex.length + 1) / 3 !== bytes) {
      return sdpFailure('bad-fingerprint', `${where}: a=fingerprint is not ${bytes} colon-separated hex bytes for ${hash}`, m.index);
    }
  }
  return null;
}

// --- offer --------------------------------------------------------------------------------------

function toText(sdp: string | Buffer): string {
  return typeof sdp === 'string' ? sdp : sdp.toString('latin1');
}

function isBlank(text: string): boolean {
  return text.trim().length === 0;
}

/**
 * An offer passes when every active (port ≠ 0) RTP line is RTP/SAVP(F) with at least one usable
 * a=crypto, every known-suite crypto line on it is valid (RFC 4568 §9.1), and other media meet the
 * policy. Crypto lines with unknown suites are skipped (the answerer ignores them, RFC 4568 §7.1.2).
 */
export function checkOffer(sdp: string | Buffer, policy: SrtpPolicy = DEFAULT_SRTP_POLICY): SdpVerdict {
  const text = toText(sdp);
  if (isBlank(text)) return sdpFailure('no-sdp', 'the offer has no SDP body', null);
  const scan = scanSdp(text);
  if (!scan.ok) return sdpFailure('malformed-sdp', `offer: ${scan.what}`, scan.mediaIndex);
  const { media } = scan.sdp;
  let active = 0;
  for (const m of media) {
    if (m.port === 0) continue; // RFC 3264 §5.1: port 0 offers nothing
    active++;
    const cls = checkMediaClass(m, scan.sdp, policy, false);
    if (cls === null) continue;
    if (cls !== 'sdes') return cls;
    const failure = checkOfferedCrypto(m, scan.sdp, policy);
    if (failure !== null) return failure;
  }
  return { ok: true, media: media.length, active };
}

function checkOfferedCrypto(m: ScannedMedia, sdp: ScannedSdp, policy: SrtpPolicy): SdpFailure | null {
  const n = m.crypto.length;
  const where = (): string => label(m, false);
  if (n === 0) {
    const hints =
      (m.fingerprints.length > 0 || sdp.sessionFingerprints.length > 0 ? '; it has a=fingerprint, but DTLS-SRTP uses UDP/TLS/RTP/SAVP(F)' : '') +
      (sdp.sessionCrypto > 0 ? '; a=crypto above the first m= line does not count (RFC 4568 §9.1)' : '');
    return sdpFailure('no-crypto', `${where()}: ${printable(m.proto)} line has no a=crypto${hints}`, m.index);
  }
  const tags: number[] = [];
  const skipped: string[] = [];
  let usable = false;
  for (let i = 0; i < n; i++) {
    const c = checkCryptoAttribute(m.crypto[i] ?? '', i);
    if (!c.ok) return sdpFailure(c.reason, `${where()}: ${c.detail}`, m.index);
    const tag = Number(c.tag);
    if (tags.includes(tag)) {
      return sdpFailure('duplicate-tag', `${where()}: crypto tag ${c.tag} is used twice (RFC 4568 §9.1: unique per media line)`, m.index);
    }
    tags.push(tag);
    if (c.known && policy.allowedSuites.has(c.suite)) usable = true;
    else skipped.push(describeSuite(c.suite));
  }
  if (usable) return null;
  return sdpFailure('suite-not-allowed', `${where()}: no offered crypto-suite is allowed (offered ${skipped.join(', ')})`, m.index);
}

// --- answer -------------------------------------------------------------------------------------

/**
 * An answer passes when it has as many m= lines as the offer (RFC 3264 §6) and every accepted
 * (port ≠ 0) line keeps the offered media type and proto and, for SDES, carries exactly one valid
 * a=crypto whose tag and suite were offered on the same line (RFC 4568 §7.1.2). Lines the answer
 * rejects (port 0) are exempt. The offer is only read here, not judged: run checkOffer on it first.
 */
export function checkAnswer(offer: string | Buffer, answer: string | Buffer, policy: SrtpPolicy = DEFAULT_SRTP_POLICY): SdpVerdict {
  const offerText = toText(offer);
  const answerText = toText(answer);
  if (isBlank(answerText)) return sdpFailure('no-sdp', 'the answer has no SDP body', null);
  if (isBlank(offerText)) return sdpFailure('no-sdp', 'the offer this answer replies to has no SDP body', null);
  const offered = scanSdp(offerText);
  if (!offered.ok) return sdpFailure('malformed-sdp', `offer: ${offered.what}`, offered.mediaIndex);
  const answered = scanSdp(answerText);
  if (!answered.ok) return sdpFailure('malformed-sdp', `answer: ${answered.what}`, answered.mediaIndex);
  const offerMedia = offered.sdp.media;
  const answerMedia = answered.sdp.media;
  if (offerMedia.length !== answerMedia.length) {
    return sdpFailure(
      'media-count-mismatch',
      `answer has ${answerMedia.length} m= lines, the offer had ${offerMedia.length} (RFC 3264 §6: one per offered line)`,
      null,
    );
  }
  let active = 0;
  for (const a of answerMedia) {
    if (a.port === 0) continue; // rejected stream
    active++;
    const o = offerMedia[a.index];
    if (o === undefined) continue; // unreachable: same length
    if (o.port === 0) {
      const where = label(a, true);
      return sdpFailure('answer-media-mismatch', `${where}: the offer disabled this line (port 0), the answer must too (RFC 3264 §6)`, a.index);
    }
    if (a.media !== o.media) {
      return sdpFailure('answer-media-mismatch', `${label(a, true)}: media type differs from the offer's m=${printable(o.media)}`, a.index);
    }
    const cls = checkMediaClass(a, answered.sdp, policy, true);
    if (cls !== null && cls !== 'sdes') return cls;
    if (a.proto.toUpperCase() !== o.proto.toUpperCase()) {
      return sdpFailure(
        'answer-media-mismatch',
        `${label(a, true)}: proto ${printable(a.proto)} differs from the offered ${printable(o.proto)} (RFC 3264 §6)`,
        a.index,
      );
    }
    if (cls === 'sdes') {
      const failure = checkAnsweredCrypto(a, o, policy);
      if (failure !== null) return failure;
    }
  }
  return { ok: true, media: answerMedia.length, active };
}

function checkAnsweredCrypto(a: ScannedMedia, o: ScannedMedia, policy: SrtpPolicy): SdpFailure | null {
  const value = a.crypto[0];
  const where = (): string => label(a, true);
  if (a.crypto.length !== 1 || value === undefined) {
    return sdpFailure(
      'answer-crypto-count',
      `${where()}: has ${a.crypto.length} a=crypto lines; an accepted SRTP line needs exactly one (RFC 4568 §7.1.2)`,
      a.index,
    );
  }
  const c = checkCryptoAttribute(value, 0);
  if (!c.ok) return sdpFailure(c.reason, `${where()}: ${c.detail}`, a.index);
  if (!c.known || !policy.allowedSuites.has(c.suite)) {
    return sdpFailure('suite-not-allowed', `${where()}: crypto tag ${c.tag} uses ${describeSuite(c.suite)}, which is not allowed`, a.index);
  }
  const tag = Number(c.tag);
  const offeredList: string[] = [];
  for (const line of o.crypto) {
    const offeredOne = readTagAndSuite(line);
    if (offeredOne === null) continue;
    if (Number(offeredOne.tag) === tag && offeredOne.suite === c.suite) return null;
    offeredList.push(`${offeredOne.tag} ${describeSuite(offeredOne.suite)}`);
  }
  return sdpFailure(
    'answer-crypto-mismatch',
    `${where()}: crypto tag ${c.tag} ${c.suite} was not offered on m= line #${o.index} (offered: ${offeredList.join(', ') || 'none'})`,
    a.index,
  );
}

// --- diagnostics (slow path, sdp-transform) ----------------------------------------------------

export interface DescribedCrypto {
  readonly tag: number;
  readonly suite: string;
  /** Decoded length of the first inline key, -1 when it is not base64, null when there is none. */
  readonly keyBytes: number | null;
  /** Number of key-params (`;`-separated keys). */
  readonly keys: number;
  readonly sessionParams: string | null;
}

export interface DescribedMedia {
  readonly index: number;
  readonly type: string;
  readonly port: number;
  readonly protocol: string;
  readonly crypto: readonly DescribedCrypto[];
  readonly fingerprintHash: string | null;
}

export interface SdpDescription {
  readonly ok: true;
  readonly media: readonly DescribedMedia[];
  readonly sessionFingerprintHash: string | null;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}

function str(value: unknown, fallback = ''): string {
  return typeof value === 'string' ? value : typeof value === 'number' ? String(value) : fallback;
}

function num(value: unknown): number {
  return typeof value === 'number' ? value : typeof value === 'string' && value !== '' ? Number(value) : Number.NaN;
}

function fingerprintHash(value: unknown): string | null {
  return isRecord(value) ? str(value['type'], '?') : null;
}

function describeCrypto(value: unknown): DescribedCrypto | null {
  if (!isRecord(value)) return null;
  const config = str(value['config']);
  const first = config.split(';')[0] ?? '';
  const colon = first.indexOf(':');
  let keyBytes: number | null = null;
  if (colon !== -1) {
    const bar = first.indexOf('|', colon);
    keyBytes = base64DecodedLength(first, colon + 1, bar === -1 ? first.length : bar);
  }
  const sessionParams = value['sessionConfig'];
  return {
    tag: num(value['id']),
    suite: describeSuite(str(value['suite'])),
    keyBytes,
    keys: config === '' ? 0 : config.split(';').length,
    sessionParams: typeof sessionParams === 'string' ? redactSdpKeys(sessionParams) : null,
  };
}

/**
 * A full parse through sdp-transform, for `sips-edge parse` and traces: what each m= line carries,
 * with key lengths instead of keys. Slow (about five times the cost of checkOffer); not for the
 * call path. Its output is narrowed from `unknown` here, once.
 */
export function describeSdp(sdp: string | Buffer): SdpDescription | SdpFailure {
  const text = toText(sdp);
  if (isBlank(text)) return sdpFailure('no-sdp', 'there is no SDP body', null);
  const scan = scanSdp(text);
  if (!scan.ok) return sdpFailure('malformed-sdp', scan.what, scan.mediaIndex);
  let parsed: unknown;
  try {
    parsed = parseWithSdpTransform(text);
  } catch {
    return sdpFailure('malformed-sdp', 'sdp-transform could not parse the body', null);
  }
  if (!isRecord(parsed) || !Array.isArray(parsed['media'])) {
    return sdpFailure('malformed-sdp', 'sdp-transform found no media list', null);
  }
  const media: DescribedMedia[] = [];
  for (const [index, m] of (parsed['media'] as unknown[]).entries()) {
    if (!isRecord(m)) continue;
    const crypto = Array.isArray(m['crypto']) ? (m['crypto'] as unknown[]) : [];
    media.push({
      index,
      type: printable(str(m['type'], '?')),
      port: num(m['port']),
      protocol: printable(str(m['protocol'], '?')),
      crypto: crypto.map(describeCrypto).filter((c): c is DescribedCrypto => c !== null),
      fingerprintHash: fingerprintHash(m['fingerprint']),
    });
  }
  return { ok: true, media, sessionFingerprintHash: fingerprintHash(parsed['fingerprint']) };
}
