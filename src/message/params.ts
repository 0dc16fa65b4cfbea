import { HTAB, SP } from './grammar.js';
import { SipParseError, type ParseErrorCode } from './parse-error.js';

/** One `;name[=value]` parameter; `value` null when the parameter has no `=`. Order is kept. */
export interface Param {
  readonly name: string;
  readonly value: string | null;
}

/**
 * Splits `;a=b;c;d="x;y"` starting at `start` (which must be at a ';' or at the end) into params,
 * stopping at `stopChar` (one character) outside quotes. Returns the params and where parsing stopped.
 */
export function parseParams(text: string, start: number, code: ParseErrorCode, stopChar = ''): { params: Param[]; end: number } {
  const params: Param[] = [];
  let i = start;
  const n = text.length;
  // Char codes, not one-character strings: this runs for every Via, URI and name-addr read.
  const stop = stopChar === '' ? -1 : stopChar.charCodeAt(0);
  while (i < n) {
    // Skip linear white space around ';' (RFC 3261 SEMI = SWS ";" SWS).
    let c = text.charCodeAt(i);
    while (c === SP || c === HTAB) c = text.charCodeAt(++i);
    if (i >= n) break;
    if (c === stop) break;
    if (c !== SEMI) throw new SipParseError(code, `expected ';' at offset ${i} in "${text}"`);
    c = text.charCodeAt(++i);
    while (c === SP || c === HTAB) c = text.charCodeAt(++i);
    const nameStart = i;
    while (i < n && c !== EQUALS && c !== SEMI && c !== SP && c !== HTAB && c !== stop) c = text.charCodeAt(++i);
    const name = text.slice(nameStart, i);
    if (name.length === 0) throw new SipParseError(code, `empty parameter name in "${text}"`);
    while (c === SP || c === HTAB) c = text.charCodeAt(++i);
    let value: string | null = null;
    if (c === EQUALS) {
      c = text.charCodeAt(++i);
      while (c === SP || c === HTAB) c = text.charCodeAt(++i);
      const valueStart = i;
      if (c === DQUOTE) {
        i = skipQuoted(text, i, code);
      } else {
        while (i < n && c !== SEMI && c !== SP && c !== HTAB && c !== stop) c = text.charCodeAt(++i);
      }
      value = text.slice(valueStart, i);
    }
    params.push({ name, value });
  }
  return { params, end: i };
}

const SEMI = 0x3b;
const EQUALS = 0x3d;
const DQUOTE = 0x22;

/** Index just past the closing quote of the quoted-string starting at `i`. */
export function skipQuoted(text: string, i: number, code: ParseErrorCode): number {
  let j = i + 1;
  while (j < text.length) {
    const c = text[j];
    if (c === '\\') j += 2;
    else if (c === '"') return j + 1;
    else j++;
  }
  throw new SipParseError(code, `unterminated quoted string in "${text}"`);
}

/** `name` must be lower case (every caller passes a literal). */
export function findParam(params: readonly Param[], name: string): Param | undefined {
  for (const p of params) {
    // Names are nearly always written in lower case: compare before lower-casing.
    if (p.name === name || (p.name.length === name.length && p.name.toLowerCase() === name)) return p;
  }
  return undefined;
}

export function serializeParams(params: readonly Param[]): string {
  let s = '';
  for (const p of params) s += p.value === null ? `;${p.name}` : `;${p.name}=${p.value}`;
  return s;
}

/** Replaces (in place of the first match) or appends a param; removes further duplicates. */
export function setParam(params: readonly Param[], name: string, value: string | null): Param[] {
  const lower = name.toLowerCase();
  const out: Param[] = [];
  let done = false;
  for (const p of params) {
    if (p.name.toLowerCase() === lower) {
      if (!done) out.push({ name: p.name, value });
      done = true;
    } else {
      out.push(p);
    }
  }
  if (!done) out.push({ name, value });
  return out;
}

export function removeParam(params: readonly Param[], name: string): Param[] {
  const lower = name.toLowerCase();
  return params.filter((p) => p.name.toLowerCase() !== lower);
}

/**
 * Splits a list header value on commas that are outside quotes and angle brackets
 * (RFC 3261 §7.3.1). Empty elements are dropped.
 */
export function splitList(value: string): string[] {
  if (!value.includes(',')) {
    const t = value.trim();
    return t.length ? [t] : [];
  }
  const out: string[] = [];
  let depth = 0;
  let quoted = false;
  let start = 0;
  for (let i = 0; i < value.length; i++) {
    const c = value[i];
    if (quoted) {
      if (c === '\\') i++;
      else if (c === '"') quoted = false;
    } else if (c === '"') quoted = true;
    else if (c === '<') depth++;
    else if (c === '>') depth = Math.max(0, depth - 1);
    else if (c === ',' && depth === 0) {
      const part = value.slice(start, i).trim();
      if (part.length) out.push(part);
      start = i + 1;
    }
  }
  const last = value.slice(start).trim();
  if (last.length) out.push(last);
  return out;
}
