/**
 * Called-number normalisation toward E.164 (ITU-T E.164; RFC 3966 for tel: URIs and visual
 * separators; RFC 3261 §19.1.1 user=phone). Pure.
 */
import { SipUri, TelUri, type Uri } from '../message/uri.js';

export interface NumberRules {
  readonly countryCode?: string | undefined;
  readonly nationalPrefix: string;
  readonly internationalPrefix: string;
  readonly stripPrefix?: string | undefined;
  readonly addPrefix?: string | undefined;
  readonly plus: boolean;
}

export const DEFAULT_NUMBER_RULES: NumberRules = { nationalPrefix: '0', internationalPrefix: '00', plus: true };

export type NumberKind =
  /** Written with a leading '+' (or made global by addPrefix). */
  | 'global'
  /** Began with the international prefix (00 -> +). */
  | 'international'
  /** Began with the national prefix; country code added. */
  | 'national'
  /** Digits without any prefix: taken as E.164 without the '+'. */
  | 'assumed-e164'
  /** National number but no countryCode configured: left as dialled. */
  | 'national-unknown-country'
  /** Not a telephone number (letters, * or #): left as written. */
  | 'not-a-number';

export interface NormalizedNumber {
  /** E.164 digits without '+', or null when the number could not be made E.164. */
  readonly e164: string | null;
  /** What goes into the Request-URI user part. */
  readonly output: string;
  readonly kind: NumberKind;
}

/** RFC 3966 §5.1.1 visual separators, plus the space PBX users type ("069 1234567"). */
const SEPARATORS = /[-.() ]/g;

/** The dialled string with %-escapes decoded and visual separators removed. */
export function dialString(raw: string): string {
  let s = raw;
  if (s.includes('%')) {
    try {
      s = decodeURIComponent(s);
    } catch {
      // keep as written: a malformed escape was refused by the URI parser already
    }
  }
  return s.replace(SEPARATORS, '');
}

/**
 * Normalises one dialled number:
 * 1. visual separators go; 2. a leading '+' means E.164 already; 3. stripPrefix is removed, then
 * addPrefix added; 4. internationalPrefix (00) -> E.164; 5. nationalPrefix (0) -> countryCode +
 * rest; 6. anything else made of digits is taken as E.164 without its '+'.
 */
export function normalizeNumber(raw: string, rules: NumberRules = DEFAULT_NUMBER_RULES, context?: { countryCode?: string }): NormalizedNumber {
  let s = dialString(raw);
  if (s.startsWith('+')) return e164(s.slice(1), 'global', rules, raw);
  if (rules.stripPrefix !== undefined && s.startsWith(rules.stripPrefix)) s = s.slice(rules.stripPrefix.length);
  if (rules.addPrefix !== undefined) s = rules.addPrefix + s;
  if (s.startsWith('+')) return e164(s.slice(1), 'global', rules, raw);
  if (!/^\d+$/.test(s)) return { e164: null, output: s === '' ? raw : s, kind: 'not-a-number' };
  if (rules.internationalPrefix !== '' && s.startsWith(rules.internationalPrefix)) {
    return e164(s.slice(rules.internationalPrefix.length), 'international', rules, raw);
  }
  if (rules.nationalPrefix !== '' && s.startsWith(rules.nationalPrefix)) {
    const cc = rules.countryCode ?? context?.countryCode;
    if (cc === undefined) return { e164: null, output: s, kind: 'national-unknown-country' };
    return e164(cc + s.slice(rules.nationalPrefix.length), 'national', rules, raw);
  }
  return e164(s, 'assumed-e164', rules, raw);
}

function e164(digits: string, kind: NumberKind, rules: NumberRules, raw: string): NormalizedNumber {
  if (!/^\d{1,15}$/.test(digits)) return { e164: null, output: dialString(raw), kind: 'not-a-number' };
  return { e164: digits, output: rules.plus ? `+${digits}` : digits, kind };
}

/**
 * The called number carried by a Request-URI: the user part of a sip:/sips: URI (up to its RFC 4904
 * parameters), or the number of a tel: URI. A local tel: number whose phone-context is a global
 * prefix (`;phone-context=+49`) lends that country code. Undefined when there is no user part.
 */
export function calledNumber(uri: Uri): { raw: string; countryCode?: string } | undefined {
  if (uri instanceof TelUri) {
    if (uri.isGlobal) return { raw: uri.number };
    const ctx = uri.param('phone-context');
    const m = typeof ctx === 'string' ? /^\+(\d{1,3})$/.exec(ctx.replace(SEPARATORS, '')) : null;
    return m ? { raw: uri.number, countryCode: m[1]! } : { raw: uri.number };
  }
  if (uri instanceof SipUri) {
    const n = uri.userNumber;
    return n === null || n === '' ? undefined : { raw: n };
  }
  return undefined;
}

/** Normalises the called number of a Request-URI with a trunk's rules. */
export function normalizeUriNumber(uri: Uri, rules: NumberRules = DEFAULT_NUMBER_RULES): NormalizedNumber | undefined {
  const n = calledNumber(uri);
  if (n === undefined) return undefined;
  return normalizeNumber(n.raw, rules, n.countryCode === undefined ? undefined : { countryCode: n.countryCode });
}

/** Prefix match of a routing rule against a dialled number (separators removed, as received). */
export function prefixMatches(prefix: string, raw: string): boolean {
  return dialString(raw).startsWith(prefix);
}
