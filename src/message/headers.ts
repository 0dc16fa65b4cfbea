import { BRANCH_MAGIC_COOKIE, knownMethod } from './constants.js';
import { OWS, TOKEN, TOKEN_BYTES, TOKEN_CHARS, isHostText } from './grammar.js';
import { SipParseError } from './parse-error.js';
import { findParam, parseParams, serializeParams, setParam, skipQuoted, type Param } from './params.js';
import { parseUri, type Uri } from './uri.js';

/** Typed, lazily built views of the headers the edge reads. Each throws SipParseError when malformed. */

export interface Via {
  readonly protocol: string;
  readonly version: string;
  /** Upper-cased: UDP, TCP, TLS, SCTP, WS, WSS. */
  readonly transport: string;
  readonly host: string;
  readonly port: number | null;
  readonly params: readonly Param[];
  readonly branch: string | null;
  readonly received: string | null;
  /** RFC 3581: undefined when absent, null when present without a value. */
  readonly rport: number | null | undefined;
  readonly maddr: string | null;
  readonly ttl: number | null;
  /** The branch carries the RFC 3261 magic cookie (§17.1.3 matching applies). */
  readonly rfc3261: boolean;
}

/** sent-protocol = protocol-name SLASH protocol-version SLASH transport, then LWS (RFC 3261 §20.42). */
const VIA_RE = new RegExp(`^(${TOKEN})${OWS}/${OWS}(${TOKEN})${OWS}/${OWS}(${TOKEN})[ \\t]+`);

const SIP_2_0 = 'SIP/2.0/';

/**
 * The sent-protocol as nearly every Via writes it (`SIP/2.0/` + an upper-case transport + SP):
 * [protocol, version, transport, where the sent-by starts], or null for VIA_RE to read. Same
 * result as the RegExp, without its match array and capture strings.
 */
function commonSentProtocol(value: string): readonly [string, string, string, number] | null {
  if (!value.startsWith(SIP_2_0)) return null;
  let i = SIP_2_0.length;
  while (i < value.length && TOKEN_BYTES[value.charCodeAt(i)] === 1) i++;
  if (i === SIP_2_0.length) return null;
  const t = value.charCodeAt(i);
  if (t !== 0x20 && t !== 0x09) return null;
  const transport = value.slice(SIP_2_0.length, i);
  let end = i + 1;
  while (value.charCodeAt(end) === 0x20 || value.charCodeAt(end) === 0x09) end++;
  const known = transport === 'UDP' ? 'UDP' : transport === 'TLS' ? 'TLS' : transport === 'TCP' ? 'TCP' : transport.toUpperCase();
  return ['SIP', '2.0', known, end];
}

export function parseVia(value: string): Via {
  let protocol: string;
  let version: string;
  let transport: string;
  let i: number;
  const common = commonSentProtocol(value);
  if (common !== null) {
    [protocol, version, transport, i] = common;
  } else {
    const m = VIA_RE.exec(value);
    if (m === null) throw new SipParseError('SIPS_ERR_PARSE_VIA', `bad sent-protocol in "${value}"`);
    protocol = m[1]!;
    version = m[2]!;
    transport = m[3]!.toUpperCase();
    i = m[0].length;
  }
  let host: string;
  const start = i;
  if (value.charCodeAt(i) === 0x5b /* [ */) {
    const close = value.indexOf(']', i);
    if (close < 0) throw new SipParseError('SIPS_ERR_PARSE_VIA', `bad IPv6 sent-by in "${value}"`);
    host = value.slice(i, close + 1);
    i = close + 1;
    if (!/^\[[0-9A-Fa-f:.]+\]$/.test(host)) throw new SipParseError('SIPS_ERR_PARSE_VIA', `bad sent-by host in "${value}"`);
  } else {
    for (let c = value.charCodeAt(i); i < value.length && c !== 0x20 && c !== 0x09 && c !== 0x3a && c !== 0x3b; c = value.charCodeAt(++i));
    host = value.slice(start, i);
    if (!isHostText(host)) throw new SipParseError('SIPS_ERR_PARSE_VIA', `bad sent-by host in "${value}"`);
  }
  while (value[i] === ' ' || value[i] === '\t') i++;
  let port: number | null = null;
  if (value[i] === ':') {
    i++;
    while (value[i] === ' ' || value[i] === '\t') i++;
    const ps = i;
    while (i < value.length && value.charCodeAt(i) >= 0x30 && value.charCodeAt(i) <= 0x39) i++;
    port = Number(value.slice(ps, i));
    if (i === ps || i - ps > 5 || port > 65535) throw new SipParseError('SIPS_ERR_PARSE_VIA', `bad sent-by port in "${value}"`);
  }
  const { params, end } = parseParams(value, i, 'SIPS_ERR_PARSE_VIA', '(');
  if (end < value.length && value[end] !== '(') throw new SipParseError('SIPS_ERR_PARSE_VIA', `trailing text in "${value}"`);
  // One pass for the five parameters read here; the first of each name counts (as findParam).
  let branchP: Param | undefined;
  let rportP: Param | undefined;
  let ttlP: Param | undefined;
  let receivedP: Param | undefined;
  let maddrP: Param | undefined;
  for (let k = 0; k < params.length; k++) {
    const p = params[k]!;
    const n = p.name.length <= 8 ? p.name : '';
    const name = n === 'branch' || n === 'rport' || n === 'received' || n === 'ttl' || n === 'maddr' ? n : n.toLowerCase();
    if (name === 'branch') branchP ??= p;
    else if (name === 'rport') rportP ??= p;
    else if (name === 'received') receivedP ??= p;
    else if (name === 'ttl') ttlP ??= p;
    else if (name === 'maddr') maddrP ??= p;
  }
  const branch = branchP?.value ?? null;
  let rport: number | null | undefined;
  if (rportP === undefined) rport = undefined;
  else if (rportP.value === null || rportP.value === '') rport = null;
  else {
    rport = Number(rportP.value);
    if (!Number.isInteger(rport) || rport < 1 || rport > 65535) throw new SipParseError('SIPS_ERR_PARSE_VIA', `bad rport in "${value}"`);
  }
  const ttlV = ttlP?.value;
  const ttl = ttlV === undefined || ttlV === null ? null : Number(ttlV);
  if (ttl !== null && (!Number.isInteger(ttl) || ttl < 0 || ttl > 255)) throw new SipParseError('SIPS_ERR_PARSE_VIA', `bad ttl in "${value}"`);
  return {
    protocol,
    version,
    transport,
    host,
    port,
    params,
    branch,
    received: receivedP?.value ?? null,
    rport,
    maddr: maddrP?.value ?? null,
    ttl,
    rfc3261: branch !== null && branch.startsWith(BRANCH_MAGIC_COOKIE),
  };
}

/** Writes a Via value; used for the edge's own Via and for received/rport edits (RFC 3581 §4). */
export function formatVia(via: Pick<Via, 'protocol' | 'version' | 'transport' | 'host' | 'port' | 'params'>): string {
  return `${via.protocol}/${via.version}/${via.transport} ${via.host}${via.port === null ? '' : ':' + via.port}${serializeParams(via.params)}`;
}

/** RFC 3261 §18.2.1 + RFC 3581 §4: the server stamps where the request really came from. */
export function stampReceived(via: Via, sourceAddress: string, sourcePort: number): string {
  return formatVia(receivedVia(via, sourceAddress, sourcePort));
}

/** The Via `stampReceived` writes, as a view (so the message need not parse it again). */
export function receivedVia(via: Via, sourceAddress: string, sourcePort: number): Via {
  let params = via.params as Param[];
  let received = via.received;
  let rport = via.rport;
  const hostBare = via.host.startsWith('[') ? via.host.slice(1, -1) : via.host;
  if (hostBare !== sourceAddress || via.rport !== undefined) {
    params = setParam(params, 'received', sourceAddress);
    received = sourceAddress;
  }
  if (via.rport !== undefined) {
    params = setParam(params, 'rport', String(sourcePort));
    rport = sourcePort;
  }
  return { ...via, params, received, rport };
}

/** `"Display" <uri>;params`, or `uri;params` (RFC 3261 §20.10: then URI params cannot exist). */
export interface NameAddr {
  readonly displayName: string | null;
  readonly uri: Uri;
  readonly uriText: string;
  readonly params: readonly Param[];
  readonly tag: string | null;
  /** True when the URI was enclosed in angle brackets. */
  readonly bracketed: boolean;
}

/** display-name = *(token LWS) / quoted-string (RFC 3261 §25.1): the unquoted form. */
const DISPLAY_NAME_RE = new RegExp(`^[ \\t${TOKEN_CHARS}]+$`);

export function parseNameAddr(value: string): NameAddr {
  const E = 'SIPS_ERR_PARSE_NAME_ADDR' as const;
  const v = value.trim();
  let displayName: string | null = null;
  let i = 0;
  let uriText: string;
  let bracketed = false;
  if (v.startsWith('"')) {
    const endQ = skipQuoted(v, 0, E);
    displayName = v.slice(0, endQ);
    i = endQ;
    while (v[i] === ' ' || v[i] === '\t') i++;
    if (v[i] !== '<') throw new SipParseError(E, `expected "<" after display name in "${value}"`);
  }
  const lt = v.indexOf('<', i);
  const firstSemi = v.indexOf(';', i);
  if (lt >= 0 && (firstSemi < 0 || lt < firstSemi || displayName !== null)) {
    if (displayName === null) {
      const d = v.slice(0, lt).trim();
      if (d.length) {
        if (!DISPLAY_NAME_RE.test(d)) throw new SipParseError(E, `bad display name in "${value}"`);
        displayName = d;
      }
    }
    const gt = v.indexOf('>', lt);
    if (gt < 0) throw new SipParseError(E, `unterminated "<" in "${value}"`);
    uriText = v.slice(lt + 1, gt);
    i = gt + 1;
    bracketed = true;
  } else {
    const end = firstSemi < 0 ? v.length : firstSemi;
    uriText = v.slice(0, end).trim();
    // RFC 3261 §20.10: a URI with a comma, question mark or semicolon must be in <> (RFC 4475 §3.1.2.13).
    if (uriText.includes('?')) throw new SipParseError(E, `a URI with headers must be enclosed in <> in "${value}"`);
    i = end;
  }
  if (uriText.length === 0) throw new SipParseError(E, `empty URI in "${value}"`);
  const uri = parseUri(uriText);
  const { params, end } = parseParams(v, i, E);
  if (end < v.length) throw new SipParseError(E, `trailing text in "${value}"`);
  const tagP = findParam(params, 'tag');
  return { displayName, uri, uriText, params, tag: tagP?.value ?? null, bracketed };
}

export function formatNameAddr(na: { displayName?: string | null; uriText: string; params?: readonly Param[] }): string {
  const dn = na.displayName ? na.displayName + ' ' : '';
  return `${dn}<${na.uriText}>${serializeParams(na.params ?? [])}`;
}

export interface CSeq {
  readonly seq: number;
  readonly method: string;
}

// 1*DIGIT: leading zeros are legal (RFC 4475 §3.1.1.1), so only the significant digits are bounded.
const CSEQ_RE = new RegExp(`^0*(\\d{1,10})[ \\t]+(${TOKEN})$`);

/**
 * `1*DIGIT LWS Method` read by hand for the common form (digits, white space, a token, nothing
 * else); anything else goes to CSEQ_RE, whose result it matches. Every message has one.
 */
export function parseCSeq(value: string): CSeq {
  const n = value.length;
  const seq = readDecimal(value);
  const digits = decimalZerosEnd;
  let i = decimalEnd;
  const ws = i;
  while (i < n && (value.charCodeAt(i) === 0x20 || value.charCodeAt(i) === 0x09)) i++;
  const methodStart = i;
  while (i < n && TOKEN_BYTES[value.charCodeAt(i)] === 1) i++;
  // At least one digit (a lone 0 counts: the zeros skipped), at most 10 significant, white space, a whole token.
  if (i === n && methodStart > ws && i > methodStart && ws - digits <= 10 && (ws > digits || digits > 0)) {
    if (seq >= 2 ** 31) throw new SipParseError('SIPS_ERR_PARSE_CSEQ', `CSeq number out of range "${value}"`);
    const method = value.slice(methodStart);
    return { seq, method: knownMethod(method) ?? method };
  }
  return parseCSeqRe(value);
}

/** Where readDecimal's leading zeros and its digits ended: module state, no object per message. */
let decimalZerosEnd = 0;
let decimalEnd = 0;

/**
 * The decimal number at the start of `value` (leading zeros skipped; 0 when there are no digits).
 * Callers bound the significant digits (decimalEnd - decimalZerosEnd) before trusting the value.
 */
function readDecimal(value: string): number {
  const n = value.length;
  let i = 0;
  while (i < n && value.charCodeAt(i) === 0x30) i++;
  decimalZerosEnd = i;
  let v = 0;
  for (let c = value.charCodeAt(i); i < n && c >= 0x30 && c <= 0x39; c = value.charCodeAt(++i)) v = v * 10 + (c - 0x30);
  decimalEnd = i;
  return v;
}

function parseCSeqRe(value: string): CSeq {
  const m = CSEQ_RE.exec(value.trim());
  if (m === null) throw new SipParseError('SIPS_ERR_PARSE_CSEQ', `bad CSeq "${value}"`);
  const seq = Number(m[1]);
  // RFC 3261 §8.1.1.5: the sequence number MUST be less than 2**31.
  if (seq >= 2 ** 31) throw new SipParseError('SIPS_ERR_PARSE_CSEQ', `CSeq number out of range "${value}"`);
  return { seq, method: m[2]! };
}

export function parseMaxForwards(value: string): number {
  const t = value.trim();
  if (!/^0*\d{1,3}$/.test(t) || Number(t) > 255) throw new SipParseError('SIPS_ERR_PARSE_MAX_FORWARDS', `bad Max-Forwards "${value}"`);
  return Number(t);
}

export function parseContentLength(value: string): number {
  // The common form, digits only (at most 9 significant, leading zeros allowed), read by hand.
  const len = readDecimal(value);
  if (decimalEnd === value.length && value.length > 0 && decimalEnd - decimalZerosEnd <= 9) return len;
  const t = value.trim();
  if (!/^0*\d{1,9}$/.test(t)) throw new SipParseError('SIPS_ERR_PARSE_CONTENT_LENGTH', `bad Content-Length "${value}"`);
  return Number(t);
}

export interface ContentType {
  readonly type: string;
  readonly subtype: string;
  /** `type/subtype`, lower-cased. */
  readonly mediaType: string;
  readonly params: readonly Param[];
  /** multipart boundary, unquoted. */
  readonly boundary: string | null;
}

/** m-type SLASH m-subtype (RFC 3261 §20.15), white space allowed around the slash. */
const MEDIA_TYPE_RE = new RegExp(`^${OWS}(${TOKEN})${OWS}/${OWS}(${TOKEN})${OWS}`);

export function parseContentType(value: string): ContentType {
  const m = MEDIA_TYPE_RE.exec(value);
  if (m === null) throw new SipParseError('SIPS_ERR_PARSE_CONTENT_TYPE', `bad Content-Type "${value}"`);
  const { params, end } = parseParams(value, m[0].length, 'SIPS_ERR_PARSE_CONTENT_TYPE');
  if (end < value.trimEnd().length) throw new SipParseError('SIPS_ERR_PARSE_CONTENT_TYPE', `trailing text in "${value}"`);
  const b = findParam(params, 'boundary')?.value ?? null;
  const boundary = b !== null && b.startsWith('"') ? b.slice(1, -1) : b;
  const type = m[1]!.toLowerCase();
  const subtype = m[2]!.toLowerCase();
  return { type, subtype, mediaType: `${type}/${subtype}`, params, boundary };
}
