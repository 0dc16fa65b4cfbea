/**
 * The SDES `a=crypto` attribute, RFC 4568 §9.1/§9.2:
 *
 *   a=crypto:<tag> 1*WSP <crypto-suite> 1*WSP <key-params> *(1*WSP <session-param>)
 *   tag          = 1*9DIGIT
 *   key-params   = key-param *(";" key-param)
 *   key-param    = "inline:" key-salt ["|" lifetime] ["|" mki]
 *   lifetime     = ["2^"] 1*DIGIT
 *   mki          = mki-value ":" mki-length        ; mki-length 1*3DIGIT, 1..128
 *
 * Checked without allocating decoded keys: the base64 length is counted (`base64DecodedLength`).
 * Every detail sentence built here is safe to log: it names tags, suites and byte counts, never key
 * material (a token is only echoed once it has been recognised as a tag or a known suite name).
 */
import type { SdpReason } from './verdict.js';

/** Master key + master salt length in bytes for each suite we know (RFC 4568 §6.2, RFC 6188, RFC 7714). */
export const CRYPTO_SUITES = {
  AES_CM_128_HMAC_SHA1_80: 30, // RFC 4568 §6.2.1: 128-bit key + 112-bit salt
  AES_CM_128_HMAC_SHA1_32: 30, // RFC 4568 §6.2.2
  F8_128_HMAC_SHA1_80: 30, // RFC 4568 §6.2.3
  AES_192_CM_HMAC_SHA1_80: 38, // RFC 6188 §3: 192-bit key + 112-bit salt
  AES_192_CM_HMAC_SHA1_32: 38,
  AES_256_CM_HMAC_SHA1_80: 46, // RFC 6188 §3: 256-bit key + 112-bit salt
  AES_256_CM_HMAC_SHA1_32: 46,
  AEAD_AES_128_GCM: 28, // RFC 7714 §12: 128-bit key + 96-bit salt
  AEAD_AES_256_GCM: 44, // RFC 7714 §12: 256-bit key + 96-bit salt
} as const;

export type CryptoSuite = keyof typeof CRYPTO_SUITES;

export const DEFAULT_ALLOWED_SUITES: readonly CryptoSuite[] = [
  'AES_CM_128_HMAC_SHA1_80',
  'AES_CM_128_HMAC_SHA1_32',
  'AES_256_CM_HMAC_SHA1_80',
  'AES_256_CM_HMAC_SHA1_32',
  'AEAD_AES_128_GCM',
  'AEAD_AES_256_GCM',
];

export function isCryptoSuite(name: string): name is CryptoSuite {
  return Object.hasOwn(CRYPTO_SUITES, name);
}

/** RFC 3711 §9.2 / RFC 4568 §6.1: 2^48 SRTP packets is the largest master key lifetime of any suite. */
const MAX_LIFETIME = 2 ** 48;

// --- base64 (RFC 4648 §4), counted, not decoded -------------------------------------------------

const BASE64_ALPHABET = new Uint8Array(128);
for (const c of 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/') {
  BASE64_ALPHABET[c.charCodeAt(0)] = 1;
}

/**
 * Decoded byte length of `s[start, end)` as base64, or -1 when it is not base64. Padding is
 * optional (some stacks strip it) but, when present, must be the right amount at the end.
 */
export function base64DecodedLength(s: string, start = 0, end = s.length): number {
  const n = end - start;
  if (n <= 0) return 0;
  let pad = 0;
  while (pad < 2 && pad < n && s.charCodeAt(end - 1 - pad) === 61 /* = */) pad++;
  const data = n - pad;
  for (let i = start; i < start + data; i++) {
    const c = s.charCodeAt(i);
    if (c > 127 || BASE64_ALPHABET[c] === 0) return -1;
  }
  const rest = data & 3;
  if (rest === 1) return -1;
  if (pad !== 0 && pad !== 4 - rest) return -1; // also rejects padding after a full quantum
  return (data >>> 2) * 3 + (rest === 0 ? 0 : rest - 1);
}

// --- the attribute -------------------------------------------------------------------------------

export type CryptoCheck =
  | {
      readonly ok: true;
      readonly tag: string;
      readonly suite: string;
      /** The suite is in CRYPTO_SUITES; its key params were checked. Unknown suites are only tag-checked. */
      readonly known: boolean;
    }
  | { readonly ok: false; readonly reason: SdpReason; readonly detail: string; readonly tag: string | null };

function fail(reason: SdpReason, detail: string, tag: string | null): CryptoCheck {
  return { ok: false, reason, detail, tag };
}

function isWsp(c: number): boolean {
  return c === 32 || c === 9;
}

function isDigits(s: string, start: number, end: number): boolean {
  if (end <= start) return false;
  for (let i = start; i < end; i++) {
    const c = s.charCodeAt(i);
    if (c < 48 || c > 57) return false;
  }
  return true;
}

/** Split on runs of SP/HTAB, ignoring leading and trailing whitespace. */
function splitWsp(value: string): string[] {
  const out: string[] = [];
  let i = 0;
  const n = value.length;
  while (i < n) {
    while (i < n && isWsp(value.charCodeAt(i))) i++;
    if (i >= n) break;
    const start = i;
    while (i < n && !isWsp(value.charCodeAt(i))) i++;
    out.push(value.slice(start, i));
  }
  return out;
}

/** A suite token that cannot be key material: upper-case words joined by '_' (never base64). */
const PRINTABLE_SUITE = /^[A-Z0-9]{1,16}(?:_[A-Z0-9]{1,16}){1,8}$/;

/** Name a suite for a log line without risking echoing a misplaced key. */
export function describeSuite(suite: string): string {
  return PRINTABLE_SUITE.test(suite) ? suite : `an unrecognisable crypto-suite (${suite.length} characters)`;
}

/** Read the tag and suite only (answer matching); null when the tag is not 1*9DIGIT or there is no suite. */
export function readTagAndSuite(value: string): { readonly tag: string; readonly suite: string } | null {
  const fields = splitWsp(value);
  const tag = fields[0];
  const suite = fields[1];
  if (tag === undefined || suite === undefined || tag.length > 9 || !isDigits(tag, 0, tag.length)) return null;
  return { tag, suite };
}

/**
 * Check one `a=crypto` value (the text after `a=crypto:`). `ordinal` is the line's position among the
 * media line's crypto attributes (0-based), used to name a line whose tag cannot be trusted.
 */
export function checkCryptoAttribute(value: string, ordinal: number): CryptoCheck {
  const fields = splitWsp(value);
  const tag = fields[0];
  if (tag === undefined) return fail('malformed-crypto', `a=crypto #${ordinal} is empty`, null);
  if (tag.length > 9 || !isDigits(tag, 0, tag.length)) {
    return fail('bad-tag', `a=crypto #${ordinal}: tag is not 1 to 9 digits (RFC 4568 §9.1)`, null);
  }
  const suite = fields[1];
  const keyParams = fields[2];
  if (suite === undefined || keyParams === undefined) {
    return fail('malformed-crypto', `crypto tag ${tag} lacks ${suite === undefined ? 'a crypto-suite' : 'key params'}`, tag);
  }
  if (!isCryptoSuite(suite)) return { ok: true, tag, suite, known: false };

  const keyBytes = CRYPTO_SUITES[suite];
  const keyProblem = checkKeyParams(keyParams, suite, keyBytes, tag);
  if (keyProblem !== null) return fail(keyProblem.reason, keyProblem.detail, tag);

  for (let i = 3; i < fields.length; i++) {
    const problem = checkSessionParam(fields[i] ?? '', suite, keyBytes, tag);
    if (problem !== null) return fail(problem.reason, problem.detail, tag);
  }
  return { ok: true, tag, suite, known: true };
}

interface Problem {
  readonly reason: SdpReason;
  readonly detail: string;
}

/** key-params = key-param *(";" key-param); all keys share one MKI length (RFC 4568 §6.1). */
function checkKeyParams(keyParams: string, suite: CryptoSuite, keyBytes: number, tag: string, fec = false): Problem | null {
  const name = `crypto tag ${tag}${fec ? ' FEC_KEY' : ''}`;
  let start = 0;
  let count = 0;
  let mkiLength = -1; // -1: no key seen yet; 0: keys without MKI
  let mkiValues: string[] | null = null;
  while (start <= keyParams.length) {
    let end = keyParams.indexOf(';', start);
    if (end === -1) end = keyParams.length;
    count++;
    const one = checkKeyParam(keyParams, start, end, suite, keyBytes, count === 1 ? name : `${name} key ${count}`);
    if (typeof one !== 'number' && typeof one !== 'string') return one;
    const thisMki = typeof one === 'string' ? one : null;
    const thisLength = thisMki === null ? 0 : Number(thisMki.slice(thisMki.indexOf(':') + 1));
    if (mkiLength !== -1 && thisLength !== mkiLength) {
      return { reason: 'bad-mki', detail: `${name} lists several keys whose MKI lengths differ (RFC 4568 §6.1)` };
    }
    mkiLength = thisLength;
    if (thisMki !== null) {
      const mkiValue = thisMki.slice(0, thisMki.indexOf(':'));
      mkiValues ??= [];
      if (mkiValues.includes(mkiValue)) {
        return { reason: 'bad-mki', detail: `${name} lists two keys with MKI ${mkiValue}` };
      }
      mkiValues.push(mkiValue);
    }
    start = end + 1;
  }
  if (count > 1 && mkiLength === 0) {
    return { reason: 'bad-mki', detail: `${name} lists ${count} keys without an MKI to tell them apart (RFC 4568 §6.1)` };
  }
  return null;
}

/**
 * One `inline:key|lifetime|mki`. Returns a Problem, or the MKI text (`value:length`) when one is
 * present, or 0 when the key has no MKI.
 */
function checkKeyParam(
  s: string,
  start: number,
  end: number,
  suite: CryptoSuite,
  keyBytes: number,
  name: string,
): Problem | string | 0 {
  const colon = s.indexOf(':', start);
  if (colon === -1 || colon >= end) {
    return { reason: 'malformed-crypto', detail: `${name} key param has no key method (expected inline:)` };
  }
  if (colon - start !== 6 || s.slice(start, colon).toLowerCase() !== 'inline') {
    return { reason: 'malformed-crypto', detail: `${name} uses a key method other than inline (RFC 4568 §6.1)` };
  }
  const keyStart = colon + 1;
  let keyEnd = s.indexOf('|', keyStart);
  if (keyEnd === -1 || keyEnd > end) keyEnd = end;
  const decoded = base64DecodedLength(s, keyStart, keyEnd);
  if (decoded < 0) return { reason: 'bad-key', detail: `${name} key is not valid base64 (RFC 4648 §4)` };
  if (decoded !== keyBytes) {
    return { reason: 'bad-key-length', detail: `${name} key is ${decoded} bytes, ${suite} needs ${keyBytes}` };
  }
  if (keyEnd === end) return 0;

  // Up to two more fields: [lifetime] [mki]; an MKI is the one with a colon.
  const second = keyEnd + 1;
  let secondEnd = s.indexOf('|', second);
  if (secondEnd === -1 || secondEnd > end) secondEnd = end;
  let lifetime: [number, number] | null = null;
  let mki: [number, number] | null = null;
  const secondHasColon = hasChar(s, second, secondEnd, 58);
  if (secondEnd === end) {
    if (secondHasColon) mki = [second, secondEnd];
    else lifetime = [second, secondEnd];
  } else {
    const third = secondEnd + 1;
    if (s.indexOf('|', third) !== -1 && s.indexOf('|', third) < end) {
      return { reason: 'malformed-crypto', detail: `${name} key param has more than three '|' fields` };
    }
    if (secondHasColon) return { reason: 'bad-lifetime', detail: `${name} lifetime is not 2^n or a decimal count` };
    lifetime = [second, secondEnd];
    mki = [third, end];
  }
  if (lifetime !== null) {
    const problem = checkLifetime(s, lifetime[0], lifetime[1], name);
    if (problem !== null) return problem;
  }
  if (mki === null) return 0;
  return checkMki(s, mki[0], mki[1], name);
}

function hasChar(s: string, start: number, end: number, c: number): boolean {
  for (let i = start; i < end; i++) if (s.charCodeAt(i) === c) return true;
  return false;
}

/** lifetime = ["2^"] 1*DIGIT, at most 2^48 packets (RFC 4568 §6.1, RFC 3711 §9.2). */
function checkLifetime(s: string, start: number, end: number, name: string): Problem | null {
  const bad: Problem = { reason: 'bad-lifetime', detail: `${name} lifetime is not 2^n or a decimal count` };
  if (end - start >= 2 && s.charCodeAt(start) === 50 && s.charCodeAt(start + 1) === 94 /* 2^ */) {
    if (end - start > 4 || !isDigits(s, start + 2, end)) return bad;
    const exponent = Number(s.slice(start + 2, end));
    if (exponent > 48) return { reason: 'bad-lifetime', detail: `${name} lifetime 2^${exponent} exceeds 2^48` };
    return null;
  }
  if (end - start > 16 || !isDigits(s, start, end)) return bad;
  const value = Number(s.slice(start, end));
  if (value === 0) return { reason: 'bad-lifetime', detail: `${name} lifetime is 0` };
  if (value > MAX_LIFETIME) return { reason: 'bad-lifetime', detail: `${name} lifetime exceeds 2^48` };
  return null;
}

/** mki = mki-value ":" mki-length; length 1..128 bytes and the value must fit in it. Returns the MKI text. */
function checkMki(s: string, start: number, end: number, name: string): Problem | string {
  const colon = s.indexOf(':', start);
  const text = s.slice(start, end);
  if (colon === -1 || colon >= end || !isDigits(s, start, colon) || !isDigits(s, colon + 1, end) || end - colon - 1 > 3) {
    return { reason: 'bad-mki', detail: `${name} MKI is not <value>:<length>` };
  }
  const length = Number(s.slice(colon + 1, end));
  if (length < 1 || length > 128) return { reason: 'bad-mki', detail: `${name} MKI length ${length} is not 1 to 128` };
  const digits = s.slice(start, colon);
  const fits = digits.length <= 15 ? Number(digits) < 2 ** (8 * length) : BigInt(digits) < 1n << BigInt(8 * length);
  if (!fits) return { reason: 'bad-mki', detail: `${name} MKI value does not fit in ${length} bytes` };
  return text;
}

/**
 * RFC 4568 §6.3: KDR, UNENCRYPTED_SRTP, UNENCRYPTED_SRTCP, UNAUTHENTICATED_SRTP, FEC_ORDER, FEC_KEY, WSH.
 * §6.3.7: an unknown parameter invalidates the attribute unless it starts with '-'.
 */
function checkSessionParam(param: string, suite: CryptoSuite, keyBytes: number, tag: string): Problem | null {
  const name = `crypto tag ${tag}`;
  if (param.charCodeAt(0) === 45 /* - */) return null;
  const eq = param.indexOf('=');
  const key = (eq === -1 ? param : param.slice(0, eq)).toUpperCase();
  const value = eq === -1 ? null : param.slice(eq + 1);
  switch (key) {
    case 'UNENCRYPTED_SRTP':
    case 'UNENCRYPTED_SRTCP':
    case 'UNAUTHENTICATED_SRTP':
      if (value !== null) break;
      return { reason: 'unencrypted-session-param', detail: `${name} turns protection off with ${key}` };
    case 'KDR':
      // kdr = "KDR=" 1*2DIGIT, 0..24 (the key derivation rate is 2^value)
      if (value !== null && isDigits(value, 0, value.length) && value.length <= 2 && Number(value) <= 24) return null;
      return { reason: 'bad-session-param', detail: `${name} KDR is not 0 to 24` };
    case 'WSH':
      // wsh = "WSH=" 2*DIGIT, at least 64
      if (value !== null && isDigits(value, 0, value.length) && value.length <= 10 && Number(value) >= 64) return null;
      return { reason: 'bad-session-param', detail: `${name} WSH is not a number of at least 64` };
    case 'FEC_ORDER':
      if (value === 'FEC_SRTP' || value === 'SRTP_FEC') return null;
      return { reason: 'bad-session-param', detail: `${name} FEC_ORDER is not FEC_SRTP or SRTP_FEC` };
    case 'FEC_KEY':
      if (value === null) break;
      return checkKeyParams(value, suite, keyBytes, tag, true);
    default:
      break;
  }
  const shown = PRINTABLE_SUITE.test(key) || /^[A-Z]{1,24}$/.test(key) ? ` ${key}` : '';
  return { reason: 'bad-session-param', detail: `${name} has an unknown mandatory session parameter${shown} (RFC 4568 §6.3.7)` };
}
