import { parseNameAddr, type NameAddr } from './headers.js';
import { ownString } from './own-string.js';

/**
 * Route and Record-Route entries recur: every in-dialog request of a dialog carries the same route
 * set, and the edge's own signed entries are the same for every call through one host and flow
 * (two of them in each ACK and BYE). Each distinct value is parsed once (a NameAddr and its URI are
 * immutable, so one view serves every message). Bounded and cleared whole when full: values a
 * stranger makes up only cost it misses. Keys and views are parsed from an own copy of the text,
 * so the cache never holds a message's header section alive. A value that does not parse is not
 * kept (it throws each time, as before). Only values up to ROUTE_CACHE_VALUE_CHARS are kept (the
 * edge's own entries are about 150): at worst (512-character values of two-character parameters)
 * the cache holds some 512 × 13 KB, where 8 KB values (limits.maxLineLength) could make it some 100 MB.
 */
const ROUTE_CACHE_LIMIT = 512;
const ROUTE_CACHE_VALUE_CHARS = 512;
const routeEntries = new Map<string, NameAddr>();

export function parseRouteEntry(value: string): NameAddr {
  if (value.length > ROUTE_CACHE_VALUE_CHARS) return parseNameAddr(value);
  let entry = routeEntries.get(value);
  if (entry === undefined) {
    const text = ownString(value);
    entry = parseNameAddr(text);
    if (routeEntries.size >= ROUTE_CACHE_LIMIT) routeEntries.clear();
    routeEntries.set(text, entry);
  }
  return entry;
}
