import { CANONICAL_NAMES, COMPACT_FORMS } from './constants.js';

/**
 * Header names interned to their lower-case long form ('v' and 'VIA' both become 'via'), with a
 * cache keyed by the name as written so the common spellings cost one Map lookup.
 */
const keyCache = new Map<string, string>();

export function headerKey(name: string): string {
  let key = keyCache.get(name);
  if (key === undefined) {
    const lower = name.toLowerCase();
    key = COMPACT_FORMS[lower] ?? lower;
    if (keyCache.size < 4096) keyCache.set(name, key);
  }
  return key;
}

/** The spelling the edge writes: RFC 3261 capitalisation, long form. */
export function canonicalName(key: string): string {
  const known = CANONICAL_NAMES[key];
  if (known !== undefined) return known;
  return key.replace(/(^|-)([a-z])/g, (_m, dash: string, ch: string) => dash + ch.toUpperCase());
}

/** A header name as written, interned, with its key: the parser's result for a common spelling. */
export interface CommonHeaderName {
  readonly name: string;
  readonly key: string;
}

/**
 * The spellings nearly every message uses (RFC 3261 capitalisation, the compact forms, the usual
 * variants). The parser matches these in place in the header text: no slice, no hash of a fresh
 * string, no Map probe with it (at about 80 header lines per call, the Map lookups were the largest
 * single builtin in a `perf` profile of the edge, docs/latency.md). Anything else goes by headerKey.
 */
const COMMON_SPELLINGS: readonly string[] = [
  ...Object.values(CANONICAL_NAMES), ...Object.keys(COMPACT_FORMS),
  'Server', 'Allow', 'Supported', 'Require', 'Expires', 'Subject', 'Accept', 'Session-Expires', 'Min-SE',
  'P-Asserted-Identity', 'P-Preferred-Identity', 'Privacy', 'Reason', 'Date', 'Warning', 'Event',
  'Content-Disposition', 'Call-Id', 'Cseq',
];
const MAX_COMMON_LENGTH = 32;
const COMMON_BY_LENGTH: CommonHeaderName[][] = Array.from({ length: MAX_COMMON_LENGTH }, () => []);
for (const name of COMMON_SPELLINGS) COMMON_BY_LENGTH[name.length]!.push({ name, key: headerKey(name) });

/** The common spelling written at text[start, end) (case-sensitive), or undefined. */
export function commonHeaderName(text: string, start: number, end: number): CommonHeaderName | undefined {
  const len = end - start;
  if (len >= MAX_COMMON_LENGTH) return undefined;
  const candidates = COMMON_BY_LENGTH[len]!;
  for (let k = 0; k < candidates.length; k++) {
    const c = candidates[k]!;
    if (text.startsWith(c.name, start)) return c;
  }
  return undefined;
}
