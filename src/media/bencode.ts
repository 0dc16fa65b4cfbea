/**
 * Bencode, the encoding of rtpengine's ng protocol: integers `i42e`, byte strings `4:spam`,
 * lists `l...e`, dictionaries `d...e`. Byte strings are UTF-8 text here (the ng protocol carries
 * commands, tags and SDP, never binary). Strict and bounded: a datagram from the network is
 * refused whole (BencodeError) rather than half read.
 */

export type BValue = number | string | readonly BValue[] | BDict;
export interface BDict { readonly [key: string]: BValue }

export type BencodeErrorKind = 'syntax' | 'too-deep' | 'too-long' | 'integer' | 'duplicate-key' | 'utf8' | 'unencodable';

export class BencodeError extends Error {
  constructor(readonly kind: BencodeErrorKind, message: string, readonly offset = -1) {
    super(offset >= 0 ? `bencode ${kind} at byte ${offset}: ${message}` : `bencode ${kind}: ${message}`);
    this.name = 'BencodeError';
  }
}

export interface BencodeLimits {
  /** Nesting of lists and dictionaries (ng replies nest 4-5 levels deep in `query`). */
  readonly maxDepth: number;
  /** Bytes of the whole encoding; a UDP datagram carries at most 65,507. */
  readonly maxLength: number;
}

export const DEFAULT_BENCODE_LIMITS: BencodeLimits = { maxDepth: 32, maxLength: 65_507 };

const utf8 = new TextDecoder('utf-8', { fatal: true });
const E = 0x65; // 'e'

export function encodeBencode(value: BValue, limits: BencodeLimits = DEFAULT_BENCODE_LIMITS): Buffer {
  const parts: Buffer[] = [];
  let length = 0;
  const put = (b: Buffer): void => {
    length += b.length;
    if (length > limits.maxLength) throw new BencodeError('too-long', `encoding exceeds ${limits.maxLength} bytes`);
    parts.push(b);
  };
  const walk = (v: BValue, depth: number): void => {
    if (typeof v === 'number') {
      if (!Number.isSafeInteger(v)) throw new BencodeError('unencodable', `${v} is not a safe integer`);
      put(Buffer.from(`i${v}e`, 'latin1'));
    } else if (typeof v === 'string') {
      const b = Buffer.from(v, 'utf8');
      put(Buffer.from(`${b.length}:`, 'latin1'));
      put(b);
    } else {
      if (depth >= limits.maxDepth) throw new BencodeError('too-deep', `nesting exceeds ${limits.maxDepth}`);
      if (Array.isArray(v)) {
        put(Buffer.from('l', 'latin1'));
        for (const item of v as readonly BValue[]) walk(item, depth + 1);
      } else {
        put(Buffer.from('d', 'latin1'));
        const dict = v as BDict;
        // Keys sorted as raw byte strings (the bencode rule), not as UTF-16 code units.
        const keys = Object.keys(dict).map((k) => [k, Buffer.from(k, 'utf8')] as const).sort((a, b) => Buffer.compare(a[1], b[1]));
        for (const [k, kb] of keys) {
          const item = dict[k];
          if (item === undefined) continue;
          put(Buffer.from(`${kb.length}:`, 'latin1'));
          put(kb);
          walk(item, depth + 1);
        }
      }
      put(Buffer.from('e', 'latin1'));
    }
  };
  walk(value, 0);
  return Buffer.concat(parts, length);
}

/**
 * Decodes exactly one value filling `input` (trailing bytes are an error). Dictionary keys must be
 * unique; their order is not checked, because rtpengine writes them in insertion order.
 */
export function decodeBencode(input: Uint8Array, limits: BencodeLimits = DEFAULT_BENCODE_LIMITS): BValue {
  if (input.length > limits.maxLength) throw new BencodeError('too-long', `${input.length} bytes, limit ${limits.maxLength}`);
  let at = 0;

  const fail = (kind: BencodeErrorKind, message: string): never => {
    throw new BencodeError(kind, message, at);
  };

  /** Reads decimal digits up to `end`; no sign, no leading zero (except "0" itself). */
  const digits = (end: number, what: string): number => {
    const start = at;
    let n = 0;
    while (at < input.length && input[at] !== end) {
      const c = input[at]!;
      if (c < 0x30 || c > 0x39) fail('syntax', `expected a digit in ${what}`);
      n = n * 10 + (c - 0x30);
      if (n > Number.MAX_SAFE_INTEGER) fail('integer', `${what} is not a safe integer`);
      at++;
    }
    if (at >= input.length) fail('syntax', `unterminated ${what}`);
    if (at === start) fail('syntax', `empty ${what}`);
    if (input[start] === 0x30 && at - start > 1) fail('integer', `leading zero in ${what}`);
    at++; // the terminator
    return n;
  };

  const byteString = (): string => {
    const len = digits(0x3a, 'string length');
    if (len > input.length - at) fail('too-long', `string of ${len} bytes runs past the end`);
    const bytes = input.subarray(at, at + len);
    let s = '';
    try {
      s = utf8.decode(bytes);
    } catch {
      fail('utf8', 'byte string is not UTF-8');
    }
    at += len;
    return s;
  };

  const value = (depth: number): BValue => {
    const c = input[at];
    if (c === undefined) return fail('syntax', 'unexpected end');
    if (c === 0x69) { // i
      at++;
      let negative = false;
      if (input[at] === 0x2d) { negative = true; at++; }
      const n = digits(E, 'integer');
      if (negative && n === 0) fail('integer', 'negative zero');
      return negative ? -n : n;
    }
    if (c >= 0x30 && c <= 0x39) return byteString();
    if (c === 0x6c || c === 0x64) { // l, d
      if (depth >= limits.maxDepth) fail('too-deep', `nesting exceeds ${limits.maxDepth}`);
      at++;
      if (c === 0x6c) {
        const list: BValue[] = [];
        while (input[at] !== E) {
          if (at >= input.length) fail('syntax', 'unterminated list');
          list.push(value(depth + 1));
        }
        at++;
        return list;
      }
      const dict: Record<string, BValue> = Object.create(null) as Record<string, BValue>;
      while (input[at] !== E) {
        if (at >= input.length) fail('syntax', 'unterminated dictionary');
        const kc = input[at]!;
        if (kc < 0x30 || kc > 0x39) fail('syntax', 'dictionary key is not a byte string');
        const key = byteString();
        if (Object.hasOwn(dict, key)) fail('duplicate-key', `key ${JSON.stringify(key.slice(0, 40))} twice`);
        dict[key] = value(depth + 1);
      }
      at++;
      return dict;
    }
    return fail('syntax', `unexpected byte 0x${c.toString(16)}`);
  };

  const v = value(0);
  if (at !== input.length) fail('syntax', `${input.length - at} trailing bytes`);
  return v;
}

export function isDict(v: BValue | undefined): v is BDict {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
