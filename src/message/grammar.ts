/**
 * RFC 3261 §25.1 basic rules, written once: every parser in this layer (the message parser, the
 * typed header views, the stream framer, the raw 400 path) reads token, separators and white
 * space through this module. Regexes are built here at load time, so a pattern assembled from
 * these pieces costs the same per message as a literal.
 */

/** SP and HTAB: WSP, the only white space inside a header line (LWS without the fold). */
export const SP = 0x20;
export const HTAB = 0x09;
export const CR = 0x0d;
export const LF = 0x0a;

/** token = 1*(alphanum / "-" / "." / "!" / "%" / "*" / "_" / "+" / "`" / "'" / "~") */
export const TOKEN_MARKS = "-.!%*_+`'~";

/** separators = "(" / ")" / "<" / ">" / "@" / "," / ";" / ":" / "\" / DQUOTE / "/" / "[" / "]" / "?" / "=" / "{" / "}" / SP / HTAB */
export const SEPARATORS = '()<>@,;:\\"/[]?={} \t';

/** The token characters as the body of a regex character class ('-' last, so it stays literal). */
export const TOKEN_CHARS = "A-Za-z0-9.!%*_+`'~-";
/** One token character, as a regex character class (for patterns built with `new RegExp`). */
export const TOKEN_CLASS = `[${TOKEN_CHARS}]`;
/** One token, as a regex fragment. */
export const TOKEN = `${TOKEN_CLASS}+`;
/** Optional WSP (SP / HTAB) between elements of a header value, as a regex fragment. */
export const OWS = '[ \\t]*';

/** A whole string that is one token (a method name, a header name, a media type or subtype). */
export const TOKEN_RE = new RegExp(`^${TOKEN}$`);

/** 1 for each octet that is a token character: the byte-at-a-time form, for scanners. */
export const TOKEN_BYTES: Uint8Array = (() => {
  const t = new Uint8Array(256);
  for (let b = 0x30; b <= 0x39; b++) t[b] = 1;
  for (let b = 0x41; b <= 0x5a; b++) t[b] = 1;
  for (let b = 0x61; b <= 0x7a; b++) t[b] = 1;
  for (const ch of TOKEN_MARKS) t[ch.charCodeAt(0)] = 1;
  return t;
})();

/** 1 for A-Z a-z 0-9. */
const ALNUM_BYTES: Uint8Array = (() => {
  const t = new Uint8Array(256);
  for (let b = 0x30; b <= 0x39; b++) t[b] = 1;
  for (let b = 0x41; b <= 0x5a; b++) t[b] = 1;
  for (let b = 0x61; b <= 0x7a; b++) t[b] = 1;
  return t;
})();

/**
 * A host name or IPv4 address as the edge reads one (RFC 3261 §25.1 hostname, with "_" tolerated
 * as other stacks do): alphanumeric first, alphanumeric or "." last, alphanumerics, "_", "." and
 * "-" between. The RegExp `^[A-Za-z0-9]([A-Za-z0-9_.-]*[A-Za-z0-9.])?$` as a loop: it runs for
 * every Via and SIP URI read.
 */
export function isHostText(s: string): boolean {
  const n = s.length;
  if (n === 0 || ALNUM_BYTES[s.charCodeAt(0)] !== 1) return false;
  for (let i = 1; i < n - 1; i++) {
    const c = s.charCodeAt(i);
    if (ALNUM_BYTES[c] !== 1 && c !== 0x5f && c !== 0x2e && c !== 0x2d) return false;
  }
  if (n > 1) {
    const c = s.charCodeAt(n - 1);
    if (ALNUM_BYTES[c] !== 1 && c !== 0x2e) return false;
  }
  return true;
}

export function isTokenByte(b: number): boolean {
  return TOKEN_BYTES[b] === 1;
}

/** Index of the first octet at or after `i` in `data[i, end)` that is not SP/HTAB. */
export function skipWsp(data: Buffer, i: number, end: number): number {
  while (i < end && (data[i] === SP || data[i] === HTAB)) i++;
  return i;
}

/**
 * LWS = [*WSP CRLF] 1*WSP (§25.1): skips SP/HTAB and folds (CRLF followed by SP/HTAB, §7.3.1)
 * from `i`, so a folded `Content-Length:\r\n 419` reads like the unfolded one.
 */
export function skipLws(data: Buffer, i: number, end: number): number {
  for (;;) {
    i = skipWsp(data, i, end);
    if (i + 2 < end && data[i] === CR && data[i + 1] === LF && (data[i + 2] === SP || data[i + 2] === HTAB)) i += 3;
    else return i;
  }
}
