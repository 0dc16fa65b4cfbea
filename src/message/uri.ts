import { isHostText } from './grammar.js';
import { SipParseError } from './parse-error.js';
import { findParam, parseParams, removeParam, serializeParams, setParam, type Param } from './params.js';

const E = 'SIPS_ERR_PARSE_URI' as const;

export type HostType = 'ipv4' | 'ipv6' | 'name';

interface SipUriParts {
  readonly scheme: 'sip' | 'sips';
  /** The whole user part as written: escapes kept, RFC 4904 user parameters included. */
  readonly user: string | null;
  readonly password: string | null;
  /** As written; IPv6 references keep their brackets. */
  readonly host: string;
  readonly port: number | null;
  readonly params: readonly Param[];
  /** `?name=value&...` headers, in order. */
  readonly headers: readonly Param[];
}

/**
 * A `sip:`/`sips:` URI (RFC 3261 §19.1). Immutable: the `with*` builders return a new URI, and an
 * untouched URI serializes to exactly the text it was parsed from.
 */
export class SipUri implements SipUriParts {
  readonly scheme: 'sip' | 'sips';
  readonly user: string | null;
  readonly password: string | null;
  readonly host: string;
  readonly port: number | null;
  readonly params: readonly Param[];
  readonly headers: readonly Param[];
  private text: string | null;
  private userSplit: { number: string; params: Param[] } | null = null;

  constructor(parts: SipUriParts, raw: string | null = null) {
    this.scheme = parts.scheme;
    this.user = parts.user;
    this.password = parts.password;
    this.host = parts.host;
    this.port = parts.port;
    this.params = parts.params;
    this.headers = parts.headers;
    this.text = raw;
  }

  get hostType(): HostType {
    return hostTypeOf(this.host);
  }

  /** The user part up to its first ';' — the telephone number for RFC 4904 URIs. */
  get userNumber(): string | null {
    if (this.user === null) return null;
    return this.splitUser().number;
  }

  /** RFC 4904 user-part parameters such as `tgrp` and `trunk-context`. */
  get userParams(): readonly Param[] {
    if (this.user === null) return [];
    return this.splitUser().params;
  }

  userParam(name: string): string | null | undefined {
    const p = findParam(this.userParams, name.toLowerCase());
    return p === undefined ? undefined : p.value;
  }

  /** Value of a URI parameter: undefined when absent, null when present without a value. */
  param(name: string): string | null | undefined {
    const p = findParam(this.params, name.toLowerCase());
    return p === undefined ? undefined : p.value;
  }

  hasParam(name: string): boolean {
    return findParam(this.params, name.toLowerCase()) !== undefined;
  }

  /** Lower-cased `transport` parameter, or null. */
  get transport(): string | null {
    const t = this.param('transport');
    return typeof t === 'string' ? t.toLowerCase() : null;
  }

  get lr(): boolean {
    return this.hasParam('lr');
  }

  with(parts: Partial<SipUriParts>): SipUri {
    return new SipUri({ ...this.parts(), ...parts });
  }

  withParam(name: string, value: string | null = null): SipUri {
    return this.with({ params: setParam(this.params, name, value) });
  }

  withoutParam(name: string): SipUri {
    return this.with({ params: removeParam(this.params, name) });
  }

  withUserNumber(number: string): SipUri {
    return this.with({ user: joinUser(number, this.userParams) });
  }

  withUserParam(name: string, value: string | null): SipUri {
    const number = this.userNumber ?? '';
    return this.with({ user: joinUser(number, setParam(this.userParams, name, value)) });
  }

  withoutUserParam(name: string): SipUri {
    if (this.user === null) return this;
    return this.with({ user: joinUser(this.userNumber ?? '', removeParam(this.userParams, name)) });
  }

  toString(): string {
    if (this.text === null) {
      let s = this.scheme + ':';
      if (this.user !== null) {
        s += this.user;
        if (this.password !== null) s += ':' + this.password;
        s += '@';
      }
      s += this.host;
      if (this.port !== null) s += ':' + this.port;
      s += serializeParams(this.params);
      if (this.headers.length) s += '?' + this.headers.map((h) => (h.value === null ? h.name : `${h.name}=${h.value}`)).join('&');
      this.text = s;
    }
    return this.text;
  }

  toJSON(): Record<string, unknown> {
    return {
      scheme: this.scheme,
      user: this.user,
      ...(this.user !== null && this.user.includes(';') ? { userNumber: this.userNumber, userParams: this.userParams } : {}),
      password: this.password,
      host: this.host,
      hostType: this.hostType,
      port: this.port,
      params: this.params,
      headers: this.headers,
    };
  }

  private parts(): SipUriParts {
    return { scheme: this.scheme, user: this.user, password: this.password, host: this.host, port: this.port, params: this.params, headers: this.headers };
  }

  private splitUser(): { number: string; params: Param[] } {
    if (this.userSplit === null) {
      const user = this.user ?? '';
      const semi = user.indexOf(';');
      this.userSplit = semi < 0 ? { number: user, params: [] } : splitUserParams(user, semi);
    }
    return this.userSplit;
  }
}

/**
 * RFC 4904 parameters after a telephone number. Any other user part may hold ';' as a plain
 * character (RFC 4475 §3.1.1.2: `crazy?,/;;*`): then it is all number and no parameters.
 */
function splitUserParams(user: string, semi: number): { number: string; params: Param[] } {
  try {
    return { number: user.slice(0, semi), params: parseParams(user, semi, E).params };
  } catch (e) {
    if (e instanceof SipParseError) return { number: user, params: [] };
    throw e;
  }
}

function joinUser(number: string, params: readonly Param[]): string {
  return number + serializeParams(params);
}

/** A `tel:` URI (RFC 3966): global (`+` digits) or local number with `phone-context`. */
export class TelUri {
  readonly scheme = 'tel' as const;
  constructor(readonly number: string, readonly params: readonly Param[], private readonly raw: string) {}

  get isGlobal(): boolean {
    return this.number.startsWith('+');
  }

  param(name: string): string | null | undefined {
    const p = findParam(this.params, name.toLowerCase());
    return p === undefined ? undefined : p.value;
  }

  /** The number without visual separators (RFC 3966 §5.1.1). */
  get digits(): string {
    return this.number.replace(/[-.()]/g, '');
  }

  toString(): string {
    return this.raw;
  }

  toJSON(): Record<string, unknown> {
    return { scheme: 'tel', number: this.number, global: this.isGlobal, params: this.params };
  }
}

/** Any other absolute URI (`urn:`, `mailto:`, ...): kept as text; a proxy answers 416 for it. */
export class OtherUri {
  constructor(readonly scheme: string, private readonly raw: string) {}
  toString(): string {
    return this.raw;
  }
  toJSON(): Record<string, unknown> {
    return { scheme: this.scheme, uri: this.raw };
  }
}

export type Uri = SipUri | TelUri | OtherUri;

const SCHEME_RE = /^[A-Za-z][A-Za-z0-9+.-]*$/;

/** Parses a URI; throws SipParseError (SIPS_ERR_PARSE_URI) when it is malformed. */
export function parseUri(text: string): Uri {
  const colon = text.indexOf(':');
  if (colon <= 0) throw new SipParseError(E, `no scheme in "${text}"`);
  // The schemes every call uses, compared in place; anything else by SCHEME_RE.
  const scheme = colon === 3 && text.startsWith('sip') ? 'sip' : colon === 4 && text.startsWith('sips') ? 'sips' : text.slice(0, colon);
  if (scheme !== 'sip' && scheme !== 'sips' && !SCHEME_RE.test(scheme)) throw new SipParseError(E, `bad scheme in "${text}"`);
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c <= 0x20 || c === 0x7f || c === 0x22 /* " */ || c === 0x3c /* < */ || c === 0x3e /* > */) {
      throw new SipParseError(E, `character 0x${c.toString(16)} not allowed in URI "${text}"`);
    }
  }
  const lower = scheme.toLowerCase();
  if (lower === 'sip' || lower === 'sips') return parseSipUri(text, lower, colon + 1);
  if (lower === 'tel') return parseTelUri(text, colon + 1);
  if (colon + 1 >= text.length) throw new SipParseError(E, `empty URI after scheme in "${text}"`);
  return new OtherUri(lower, text);
}

export function parseSipUriOrThrow(text: string): SipUri {
  const u = parseUri(text);
  if (!(u instanceof SipUri)) throw new SipParseError(E, `not a sip/sips URI: "${text}"`);
  return u;
}

function parseSipUri(text: string, scheme: 'sip' | 'sips', start: number): SipUri {
  // userinfo cannot hold an unescaped '@' (RFC 3261 §25.1), so the first one ends it.
  const at = text.indexOf('@', start);
  let user: string | null = null;
  let password: string | null = null;
  let hostStart = start;
  if (at >= 0) {
    const userinfo = text.slice(start, at);
    const pw = userinfo.indexOf(':');
    if (pw >= 0) {
      user = userinfo.slice(0, pw);
      password = userinfo.slice(pw + 1);
    } else {
      user = userinfo;
    }
    if (user.length === 0) throw new SipParseError(E, `empty user part in "${text}"`);
    checkEscapes(user, text);
    hostStart = at + 1;
  }
  let i = hostStart;
  let host: string;
  if (text[i] === '[') {
    const close = text.indexOf(']', i);
    if (close < 0) throw new SipParseError(E, `unterminated IPv6 reference in "${text}"`);
    host = text.slice(i, close + 1);
    if (!/^\[[0-9A-Fa-f:.]+\]$/.test(host) || !host.includes(':')) throw new SipParseError(E, `bad IPv6 reference in "${text}"`);
    i = close + 1;
  } else {
    for (let c = text.charCodeAt(i); i < text.length && c !== 0x3a && c !== 0x3b && c !== 0x3f; c = text.charCodeAt(++i));
    host = text.slice(hostStart, i);
    if (!isHostText(host)) throw new SipParseError(E, `bad host "${host}" in "${text}"`);
  }
  let port: number | null = null;
  if (text[i] === ':') {
    const ps = ++i;
    while (i < text.length && text.charCodeAt(i) >= 0x30 && text.charCodeAt(i) <= 0x39) i++;
    if (i === ps || i - ps > 5) throw new SipParseError(E, `bad port in "${text}"`);
    port = Number(text.slice(ps, i));
    if (port > 65535) throw new SipParseError(E, `port out of range in "${text}"`);
  }
  const { params, end } = parseParams(text, i, E, '?');
  // pname and pvalue are each 1*paramchar (§25.1): an escape does not run from one into the other.
  for (const p of params) {
    checkEscapes(p.name, text);
    if (p.value !== null) checkEscapes(p.value, text);
  }
  let headers: Param[] = [];
  if (end < text.length) {
    if (text[end] !== '?') throw new SipParseError(E, `unexpected "${text[end]}" in "${text}"`);
    headers = text.slice(end + 1).split('&').map((h) => {
      const eq = h.indexOf('=');
      if (h.length === 0) throw new SipParseError(E, `empty URI header in "${text}"`);
      return eq < 0 ? { name: h, value: null } : { name: h.slice(0, eq), value: h.slice(eq + 1) };
    });
  }
  return new SipUri({ scheme, user, password, host, port, params, headers }, text);
}

function parseTelUri(text: string, start: number): TelUri {
  const semi = text.indexOf(';', start);
  const number = semi < 0 ? text.slice(start) : text.slice(start, semi);
  const global = number.startsWith('+');
  if (global ? !/^\+[0-9][0-9.()-]*$/.test(number) : !/^[0-9A-Fa-f*#][0-9A-Fa-f*#.()-]*$/.test(number)) {
    throw new SipParseError(E, `bad telephone number in "${text}"`);
  }
  const params = semi < 0 ? [] : parseParams(text, semi, E).params;
  // RFC 3966 §5.1.5: a local number needs a phone-context.
  if (!global && findParam(params, 'phone-context') === undefined) {
    throw new SipParseError(E, `local number without phone-context in "${text}"`);
  }
  return new TelUri(number, params, text);
}

function checkEscapes(s: string, whole: string): void {
  for (let i = s.indexOf('%'); i >= 0; i = s.indexOf('%', i + 1)) {
    if (!/^[0-9A-Fa-f]{2}$/.test(s.slice(i + 1, i + 3))) throw new SipParseError(E, `bad %-escape in "${whole}"`);
  }
}

export function hostTypeOf(host: string): HostType {
  if (host.startsWith('[')) return 'ipv6';
  if (/^\d{1,3}(\.\d{1,3}){3}$/.test(host)) return 'ipv4';
  return 'name';
}

/** Host without IPv6 brackets, for socket APIs. */
export function socketHost(host: string): string {
  return host.startsWith('[') ? host.slice(1, -1) : host;
}
