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
