import { DEFAULT_MESSAGE_LIMITS, SIP_VERSION, knownMethod, type MessageLimits } from './constants.js';
import { TOKEN_BYTES, TOKEN_RE } from './grammar.js';
import { commonHeaderName, headerKey } from './header-names.js';
import { parseCSeq, parseContentLength, parseVia } from './headers.js';
import { SipMessage, type HeaderField, type StartLine } from './message.js';
import { splitList } from './params.js';
import { SipParseError, type Result } from './parse-error.js';

export type Framing = 'udp' | 'stream';

export interface ParseOptions {
  /** 'stream' (TCP/TLS): Content-Length is mandatory and the buffer holds exactly one message. */
  readonly framing?: Framing;
  readonly limits?: Partial<MessageLimits>;
}

const BIT = {
  via: 1, from: 2, to: 4, callId: 8, cseq: 16, maxForwards: 32, contentLength: 64, contentType: 128,
} as const;
const TRACKED: Readonly<Record<string, number>> = {
  via: BIT.via, from: BIT.from, to: BIT.to, 'call-id': BIT.callId, cseq: BIT.cseq,
  'max-forwards': BIT.maxForwards, 'content-length': BIT.contentLength, 'content-type': BIT.contentType,
};
/** RFC 3261 §8.1.1: every request and response carries these. */
const MANDATORY = ['Via', 'From', 'To', 'Call-ID', 'CSeq'] as const;
const MANDATORY_BITS = BIT.via | BIT.from | BIT.to | BIT.callId | BIT.cseq;
/** Headers that may appear only once (RFC 3261 §7.3, RFC 4475 §3.3.x). */
const SINGLETON_BITS = BIT.from | BIT.to | BIT.callId | BIT.cseq | BIT.maxForwards | BIT.contentLength | BIT.contentType;

const CRLFCRLF = Buffer.from('\r\n\r\n', 'latin1');

/**
 * Parses one SIP message from wire bytes. Malformed input is a value (`ok: false`) with a typed
 * SipParseError, never an exception. Parsed eagerly: start line, header fields (split, unfolded,
 * names interned), Content-Length, CSeq and the top Via (every transaction needs them). Everything
 * else is parsed lazily by the message's typed views.
 */
export function parseMessage(data: Buffer, options: ParseOptions = {}): Result<SipMessage> {
  try {
    return { ok: true, value: parseOrThrow(data, options) };
  } catch (e) {
    if (e instanceof SipParseError) return { ok: false, error: e };
    throw e;
  }
}

/**
 * What the header fields add up to, one field at a time: the list, which tracked headers were seen,
 * the Via count and the values every transaction needs. An object and a method rather than a
 * closure over parseOrThrow's locals: a closure per message put those locals in a heap context, and
 * its optimized code (held weakly by V8) was dropped at every full GC and compiled again
 * (--trace-opt at 1,000 calls/s: `flush` re-optimized after each Mark-Compact).
 */
class HeaderTally {
  readonly fields: HeaderField[] = [];
  seen = 0;
  viaCount = 0;
  topVia: string | undefined = undefined;
  cseqValue = '';
  callIdValue = '';
  contentLength = -1;

  constructor(private readonly limits: MessageLimits, private readonly viaLimit: number) {}

  add(name: string, key: string, value: string, raw: string | null): void {
    const limits = this.limits;
    if (value.length > limits.maxLineLength) throw new SipParseError('SIPS_ERR_PARSE_LINE_TOO_LONG', `${name} is ${value.length} bytes, limit ${limits.maxLineLength}`);
    const bit = TRACKED[key];
    if (bit !== undefined) {
      if (bit & SINGLETON_BITS && this.seen & bit) throw new SipParseError('SIPS_ERR_PARSE_DUPLICATE_HEADER', `more than one ${name} header`);
      this.seen |= bit;
      if (bit === BIT.via) {
        const list = value.includes(',') ? splitList(value) : null;
        this.viaCount += list === null ? 1 : list.length;
        if (this.viaCount > this.viaLimit) throw new SipParseError('SIPS_ERR_PARSE_TOO_MANY_VIAS', `more than ${this.viaLimit} Via entries`);
        this.topVia ??= list === null ? value : list[0];
      } else if (bit === BIT.cseq) {
        this.cseqValue = value;
      } else if (bit === BIT.callId) {
        this.callIdValue = value;
      } else if (bit === BIT.contentLength) {
        this.contentLength = parseContentLength(value);
      }
    }
    this.fields.push({ name, key, value, raw });
    if (this.fields.length > limits.maxHeaders) throw new SipParseError('SIPS_ERR_PARSE_TOO_MANY_HEADERS', `more than ${limits.maxHeaders} headers`);
  }
}

/** The last partial limits merged with the defaults: callers pass the same object every time. */
let mergedFor: Partial<MessageLimits> | null = null;
let merged: MessageLimits = DEFAULT_MESSAGE_LIMITS;

function parseOrThrow(data: Buffer, options: ParseOptions): SipMessage {
  let limits = DEFAULT_MESSAGE_LIMITS;
  if (options.limits !== undefined) {
    if (options.limits !== mergedFor) {
      merged = { ...DEFAULT_MESSAGE_LIMITS, ...options.limits };
      mergedFor = options.limits;
    }
    limits = merged;
  }
  const stream = options.framing === 'stream';
  if (data.length > limits.maxMessageSize) {
    throw new SipParseError('SIPS_ERR_PARSE_TOO_LARGE', `message is ${data.length} bytes, limit ${limits.maxMessageSize}`);
  }
  // RFC 3261 §7.5: CRLFs before the start line are ignored.
  let begin = 0;
  while (begin + 1 < data.length && data[begin] === 0x0d && data[begin + 1] === 0x0a) begin += 2;
  if (begin >= data.length) throw new SipParseError('SIPS_ERR_PARSE_EMPTY', 'no bytes besides CRLF');
  let headEnd = data.indexOf(CRLFCRLF, begin);
  let bodyStart: number;
  if (headEnd < 0) {
    // A datagram whose header section ends at the end of the data with a single CRLF is
    // tolerated only without a body; anything else is cut off.
    if (!stream && data.length >= 2 && data[data.length - 2] === 0x0d && data[data.length - 1] === 0x0a) {
      headEnd = data.length - 2;
      bodyStart = data.length;
    } else {
      throw new SipParseError('SIPS_ERR_PARSE_INCOMPLETE', 'no blank line ends the header section');
    }
  } else {
    bodyStart = headEnd + 4;
  }
  if (headEnd + 4 - begin > limits.maxHeaderSection) {
    throw new SipParseError('SIPS_ERR_PARSE_HEADER_SECTION_TOO_LARGE', `header section is ${headEnd + 4 - begin} bytes, limit ${limits.maxHeaderSection}`);
  }
  const head = data.toString('latin1', begin, headEnd);
  // Only HTAB and CRLF pairs may appear in the header section: one scan of the bytes finds other
  // controls and the first bare CR and bare LF, which are refused where their line is split.
  // RFC 3261 §25.1: a quoted-pair may carry any octet but CR and LF (RFC 4475 §3.1.1.2), so a
  // control is checked for that case; the common message has no control characters at all.
  scanHeaderBytes(data, begin, headEnd);
  const bareCr = scanBareCr < 0 ? -1 : scanBareCr - begin;
  const bareLf = scanBareLf < 0 ? -1 : scanBareLf - begin;
  if (scanControl) checkControls(head);

  // Start line.
  let eol = head.indexOf('\r\n');
  if (eol < 0) eol = head.length;
  const startRaw = head.slice(0, eol);
  if ((bareCr >= 0 && bareCr < eol) || (bareLf >= 0 && bareLf < eol)) throw new SipParseError('SIPS_ERR_PARSE_BINARY', 'bare CR or LF in start line');
  const start = parseStartLine(startRaw, limits);
  // A response carries the Via this side added on top of what the request had (issue 11 §2).
  const viaLimit = start.kind === 'response' ? limits.maxVia + 1 : limits.maxVia;

  // Header fields, unfolding continuation lines (RFC 3261 §7.3.1).
  const tally = new HeaderTally(limits, viaLimit);
  let pos = eol + 2;
  let name = '';
  let key = '';
  let value = '';
  let raw = '';
  let open = false;
  /** A folded line was unfolded: the message must be written again, not passed on as received. */
  let folded = false;
  let fieldFolded = false;
  while (pos < head.length) {
    let next = head.indexOf('\r\n', pos);
    if (next < 0) next = head.length;
    // Lines before this one held none (they would have thrown): a bare one before `next` is in it.
    if (bareCr >= 0 && bareCr < next) throw new SipParseError('SIPS_ERR_PARSE_BINARY', 'bare CR in header section');
    if (bareLf >= 0 && bareLf < next) throw new SipParseError('SIPS_ERR_PARSE_BINARY', 'bare LF in header section');
    if (next - pos > limits.maxLineLength) throw new SipParseError('SIPS_ERR_PARSE_LINE_TOO_LONG', `line of ${next - pos} bytes, limit ${limits.maxLineLength}`);
    const first = head.charCodeAt(pos);
    if (first === 0x20 || first === 0x09) {
      if (!open) throw new SipParseError('SIPS_ERR_PARSE_HEADER', 'continuation line before any header');
      const line = head.slice(pos, next);
      const cont = line.trim();
      if (cont.length) value = value.length ? value + ' ' + cont : cont;
      raw += '\r\n' + line;
      folded = fieldFolded = true;
    } else {
      // A folded field is written unfolded when forwarded (issue 11 §10): raw null.
      if (open) tally.add(name, key, value, fieldFolded ? null : raw);
      let i = pos;
      while (i < next && TOKEN_BYTES[head.charCodeAt(i)] === 1) i++;
      if (i === pos) throw new SipParseError('SIPS_ERR_PARSE_HEADER', `bad header name in "${printable(head.slice(pos, next))}"`);
      const common = commonHeaderName(head, pos, i);
      if (common !== undefined) {
        name = common.name;
        key = common.key;
      } else {
        name = head.slice(pos, i);
        key = headerKey(name);
      }
      while (i < next && (head.charCodeAt(i) === 0x20 || head.charCodeAt(i) === 0x09)) i++;
      if (head.charCodeAt(i) !== 0x3a) throw new SipParseError('SIPS_ERR_PARSE_HEADER', `no colon after header name "${printable(name)}"`);
      raw = head.slice(pos, next);
      // The value without surrounding white space, sliced once (no trim copy).
      let vs = i + 1;
      let ve = next;
      while (vs < ve && (head.charCodeAt(vs) === 0x20 || head.charCodeAt(vs) === 0x09)) vs++;
      while (ve > vs && (head.charCodeAt(ve - 1) === 0x20 || head.charCodeAt(ve - 1) === 0x09)) ve--;
      value = head.slice(vs, ve);
      open = true;
      fieldFolded = false;
    }
    pos = next + 2;
  }
  if (open) tally.add(name, key, value, fieldFolded ? null : raw);
  const { fields, seen, viaCount, topVia, cseqValue, callIdValue, contentLength } = tally;

  if ((seen & MANDATORY_BITS) !== MANDATORY_BITS) {
    const missing = MANDATORY.find((m) => (seen & TRACKED[m.toLowerCase()]!) === 0);
    throw new SipParseError('SIPS_ERR_PARSE_MISSING_HEADER', `no ${missing ?? 'mandatory'} header`);
  }
  if (callIdValue.length === 0 || /[ \t]/.test(callIdValue)) throw new SipParseError('SIPS_ERR_PARSE_HEADER', 'bad Call-ID');

  // Body (RFC 3261 §18.3).
  let bodyEnd: number;
  if (contentLength < 0) {
    if (stream) throw new SipParseError('SIPS_ERR_PARSE_NO_CONTENT_LENGTH', 'stream transports require Content-Length (RFC 3261 §18.3)');
    bodyEnd = data.length;
  } else {
    if (bodyStart + contentLength > data.length) {
      throw new SipParseError('SIPS_ERR_PARSE_BODY_SHORT', `Content-Length ${contentLength}, body has ${data.length - bodyStart} bytes`);
    }
    // A datagram longer than Content-Length is truncated to it.
    bodyEnd = bodyStart + contentLength;
  }
  const body = data.subarray(bodyStart, bodyEnd);
  // Passed on byte for byte only when the bytes are already canonical: no leading CRLF, no folded
  // line, `SIP/2.0` as written (issue 11 §10; the lb hosts do not unfold).
  const canonical = start.version === SIP_VERSION;
  const source = begin === 0 && !folded && canonical ? data.subarray(0, bodyEnd) : null;
  const message = new SipMessage(canonical ? start : { ...start, version: SIP_VERSION }, fields, body, canonical ? startRaw : null, source);
  if (start.kind === 'request') message.viaRoom = limits.maxVia - viaCount;

  // Eager checks every transaction relies on.
  const cseq = parseCSeq(cseqValue);
  if (start.kind === 'request' && cseq.method !== start.method) {
    throw new SipParseError('SIPS_ERR_PARSE_CSEQ_METHOD', `CSeq method ${cseq.method} in a ${start.method} request`);
  }
  if (topVia === undefined) throw new SipParseError('SIPS_ERR_PARSE_MISSING_HEADER', 'empty Via header');
  message.remember(parseVia(topVia), cseq);
  return message;
}

// A compacted message reads its header fields again from its own bytes when asked for them.
// It was parsed (or built) and checked before, so the limits here are only the hard ceilings.
const REPARSE_LIMITS: MessageLimits = {
  maxMessageSize: Number.MAX_SAFE_INTEGER, maxHeaderSection: Number.MAX_SAFE_INTEGER, maxHeaders: Number.MAX_SAFE_INTEGER,
  maxVia: Number.MAX_SAFE_INTEGER, maxLineLength: Number.MAX_SAFE_INTEGER,
};
/** The header fields of a compacted message, read again from its bytes (SipMessage.compact). */
export function reparseHeaderFields(bytes: Buffer): HeaderField[] {
  return parseOrThrow(bytes, { framing: 'udp', limits: REPARSE_LIMITS }).headers.slice();
}


const VERSION_RE = /^SIP\/(\d+)\.(\d+)$/i;

function parseStartLine(line: string, limits: MessageLimits): StartLine {
  if (line.length > limits.maxLineLength) throw new SipParseError('SIPS_ERR_PARSE_LINE_TOO_LONG', `start line of ${line.length} bytes`);
  const sp1 = line.indexOf(' ');
  if (sp1 <= 0) throw new SipParseError('SIPS_ERR_PARSE_START_LINE', `"${printable(line)}"`);
  const first = line.slice(0, sp1);
  // The status line as nearly every response writes it (`SIP/2.0 NNN reason`), read by hand; any
  // other spelling goes the RegExp way below, with the same result.
  if (first === SIP_VERSION) {
    const status = threeDigits(line, sp1 + 1);
    const after = line.length === sp1 + 4 ? -1 : line.charCodeAt(sp1 + 4);
    if (status >= 100 && status <= 699 && (after === -1 || after === 0x20)) {
      const reason = after === -1 ? '' : line.slice(sp1 + 5);
      return { kind: 'response', version: SIP_VERSION, status, reason };
    }
  }
  if (/^SIP\//i.test(first)) {
    checkVersion(first, line);
    const m = /^(\d{3})(?: (.*))?$/.exec(line.slice(sp1 + 1));
    if (m === null) throw new SipParseError('SIPS_ERR_PARSE_STATUS', `"${printable(line)}"`);
    const status = Number(m[1]);
    if (status < 100 || status > 699) throw new SipParseError('SIPS_ERR_PARSE_STATUS', `status ${status} out of range`);
    return { kind: 'response', version: first, status, reason: m[2] ?? '' };
  }
  const sp2 = line.lastIndexOf(' ');
  if (sp2 === sp1) throw new SipParseError('SIPS_ERR_PARSE_START_LINE', `"${printable(line)}"`);
  const known = knownMethod(first);
  const method = known ?? first;
  if (known === undefined && !TOKEN_RE.test(method)) throw new SipParseError('SIPS_ERR_PARSE_METHOD', `bad method "${printable(method)}"`);
  const uri = line.slice(sp1 + 1, sp2);
  if (uri.length === 0 || uri.includes(' ')) throw new SipParseError('SIPS_ERR_PARSE_START_LINE', `"${printable(line)}"`);
  const version = line.slice(sp2 + 1);
  checkVersion(version, line);
  return { kind: 'request', method, uri, version };
}

/** The number written by the three decimal digits at `at`, or -1. */
function threeDigits(s: string, at: number): number {
  const a = s.charCodeAt(at) - 0x30;
  const b = s.charCodeAt(at + 1) - 0x30;
  const c = s.charCodeAt(at + 2) - 0x30;
  // NaN past the end compares false: -1.
  return a >= 0 && a <= 9 && b >= 0 && b <= 9 && c >= 0 && c <= 9 ? a * 100 + b * 10 + c : -1;
}

function checkVersion(version: string, line: string): void {
  if (version === SIP_VERSION || version.toUpperCase() === SIP_VERSION) return;
  if (VERSION_RE.test(version)) throw new SipParseError('SIPS_ERR_PARSE_VERSION', `${version} (only SIP/2.0)`);
  throw new SipParseError('SIPS_ERR_PARSE_START_LINE', `bad SIP-Version in "${printable(line)}"`);
}

/** What scanHeaderBytes found: module state, not an object per message (it runs on every one). */
let scanBareCr = -1;
let scanBareLf = -1;
let scanControl = false;

/** Per octet: 0 text, 1 a control other than HTAB/CR/LF, 2 CR, 3 LF. */
const OCTET_CLASS = new Uint8Array(256);
for (let c = 0; c < 0x20; c++) OCTET_CLASS[c] = 1;
OCTET_CLASS[0x09] = 0;
OCTET_CLASS[0x0d] = 2;
OCTET_CLASS[0x0a] = 3;
OCTET_CLASS[0x7f] = 1;

/**
 * One pass over data[from, to) for the first CR not followed by LF, the first LF not preceded by
 * CR, and any other control octet. Four octets at a time: a word with no octet below 0x20 and
 * none equal to 0x7f (the classic has-less / has-zero bit tests, which never miss one) is skipped;
 * only the word holding a line's CRLF is looked at octet by octet. About 3x faster than a
 * character-class RegExp over the header text, which was ~1.5 % of the edge's busy time.
 */
function scanHeaderBytes(data: Buffer, from: number, to: number): void {
  scanBareCr = -1;
  scanBareLf = -1;
  scanControl = false;
  const off = data.byteOffset;
  let i = from;
  // Unaligned head and tail octet by octet; the aligned middle by words.
  let wordsFrom = off + i + ((4 - ((off + i) % 4)) % 4);
  if (wordsFrom > off + to) wordsFrom = off + to;
  for (; off + i < wordsFrom; i++) classifyOctet(data, i, from, to);
  const words = (to - i) >> 2;
  if (words > 0) {
    const view = new Uint32Array(data.buffer, off + i, words);
    for (let w = 0; w < words; w++) {
      const x = view[w]!;
      const y = x ^ 0x7f7f7f7f;
      if ((((x - 0x20202020) & ~x) | ((y - 0x01010101) & ~y)) & 0x80808080) {
        const at = i + 4 * w;
        for (let k = at; k < at + 4; k++) classifyOctet(data, k, from, to);
      }
    }
    i += 4 * words;
  }
  for (; i < to; i++) classifyOctet(data, i, from, to);
}

function classifyOctet(data: Buffer, i: number, from: number, to: number): void {
  const c = OCTET_CLASS[data[i]!];
  if (c === 0) return;
  if (c === 2) {
    if (i + 1 < to && data[i + 1] === 0x0a) return;
    if (scanBareCr < 0) scanBareCr = i;
  } else if (c === 3) {
    if (i > from && data[i - 1] === 0x0d) return;
    if (scanBareLf < 0) scanBareLf = i;
  } else {
    scanControl = true;
  }
}

/** Header text may not carry control characters other than HTAB (no NUL, no bare CR or LF)... */
const CONTROL_RE_G = /[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]/g;

/**
 * ...except as the second octet of a quoted-pair inside a quoted-string (RFC 3261 §25.1:
 * quoted-pair = "\\" (%x00-09 / %x0B-0C / %x0E-7F)). Each line holding one is scanned once from
 * its start for its quoting state; anything else throws.
 */
function checkControls(head: string): void {
  let checkedLine = -1;
  let allowed: Set<number> | null = null;
  CONTROL_RE_G.lastIndex = 0;
  for (let m = CONTROL_RE_G.exec(head); m !== null; m = CONTROL_RE_G.exec(head)) {
    const at = m.index;
    let lineStart = head.lastIndexOf('\n', at) + 1;
    // A folded field's quoted-string can span lines: start from the field's first line.
    while (lineStart > 0 && (head.charCodeAt(lineStart) === 0x20 || head.charCodeAt(lineStart) === 0x09)) {
      lineStart = head.lastIndexOf('\n', lineStart - 2) + 1;
    }
    // The start line holds no quoted-string (a Reason-Phrase takes no control octet either).
    if (lineStart === 0) {
      throw new SipParseError('SIPS_ERR_PARSE_BINARY', `control character 0x${m[0].charCodeAt(0).toString(16).padStart(2, '0')} in start line`);
    }
    if (lineStart !== checkedLine) {
      checkedLine = lineStart;
      allowed = quotedPairOctets(head, lineStart);
    }
    if (allowed === null || !allowed.has(at)) {
      throw new SipParseError('SIPS_ERR_PARSE_BINARY', `control character 0x${m[0].charCodeAt(0).toString(16).padStart(2, '0')} in header section`);
    }
  }
}

/** Offsets of the escaped octets of quoted-pairs in the field starting at `from`. */
function quotedPairOctets(head: string, from: number): Set<number> | null {
  let set: Set<number> | null = null;
  let quoted = false;
  for (let i = from; i < head.length; i++) {
    const c = head.charCodeAt(i);
    if (c === 0x0d && head.charCodeAt(i + 1) === 0x0a) {
      const next = head.charCodeAt(i + 2);
      if (next !== 0x20 && next !== 0x09) break;
      i++;
    } else if (quoted && c === 0x5c /* \ */) {
      const e = head.charCodeAt(i + 1);
      if (e === 0x0d || e === 0x0a) break;
      (set ??= new Set()).add(i + 1);
      i++;
    } else if (c === 0x22 /* " */) {
      quoted = !quoted;
    }
  }
  return set;
}

function printable(s: string): string {
  const t = s.length > 80 ? s.slice(0, 80) + '...' : s;
  return t.replace(/[^\x20-\x7e]/g, '?');
}
