import { LIST_HEADERS, SIP_VERSION } from './constants.js';
import { canonicalName, headerKey } from './header-names.js';
import {
  parseCSeq, parseContentType, parseMaxForwards, parseNameAddr, parseVia,
  type CSeq, type ContentType, type NameAddr, type Via,
} from './headers.js';
import { splitList } from './params.js';
import { SipParseError } from './parse-error.js';
// A cycle (parse-message builds SipMessage): safe, since neither module uses the other at load time.
import { reparseHeaderFields } from './parse-message.js';
import { ownString } from './own-string.js';
import { parseRouteEntry } from './route-entries.js';
import { parseUri, SipUri, type Uri } from './uri.js';

export interface HeaderField {
  /** The name as written ('v', 'VIA', 'Via'). */
  readonly name: string;
  /** Lower-case long form: lookups go through this. */
  readonly key: string;
  /** Unfolded value, surrounding white space removed. Header text is latin1: one char per byte. */
  readonly value: string;
  /** Exact original text of the field (folded lines included, final CRLF excluded); null once edited. */
  readonly raw: string | null;
}

export type StartLine =
  | { readonly kind: 'request'; readonly method: string; readonly uri: string; readonly version: string }
  | { readonly kind: 'response'; readonly version: string; readonly status: number; readonly reason: string };

/**
 * One SIP message. Headers keep their order and original text; typed views are parsed on first
 * use and cached; edits mark the message dirty and `serialize()` then writes edited fields
 * canonically and recomputes Content-Length. An untouched message serializes to its input bytes.
 */
export class SipMessage {
  private start: StartLine;
  private startRaw: string | null;
  private list: HeaderField[] | null;
  /** The body, or (compacted) its length: then it is the tail of `packed`, read on demand. */
  private content: Buffer | number;
  /** Exact wire bytes while the message is untouched. */
  private source: Buffer | null;
  /**
   * A compacted message's wire bytes as a latin1 string (one char per byte): kept in the V8 heap,
   * which a full GC compacts and gives back, not in a native Buffer per message (see compact()).
   */
  private packed: string | null = null;
  // Typed views, parsed on first use (undefined: not yet). Plain fields, not a Map: every message
  // in and out has them, and a Map (or a closure per lookup) is garbage on the hot path.
  private vRuri: Uri | undefined = undefined;
  private vVia: Via | undefined = undefined;
  private vVias: Via[] | undefined = undefined;
  private vCseq: CSeq | undefined = undefined;
  private vFrom: NameAddr | undefined = undefined;
  private vTo: NameAddr | undefined = undefined;
  private vMf: number | undefined = undefined;
  private vCtype: ContentType | undefined = undefined;
  private vContacts: (NameAddr | '*')[] | undefined = undefined;
  private vRoutes: NameAddr[] | undefined = undefined;
  private vRecordRoutes: NameAddr[] | undefined = undefined;
  /**
   * How many more Via entries `limits.maxVia` admits, set by the parser (a built message has no
   * limit). A proxy refuses a request with none left rather than forward a copy the next hop, or
   * this edge's response path, would refuse (issue 11 §2).
   */
  viaRoom = Number.POSITIVE_INFINITY;

  constructor(start: StartLine, fields: HeaderField[], body: Buffer, startRaw: string | null = null, source: Buffer | null = null) {
    this.start = start;
    this.startRaw = startRaw;
    this.list = fields;
    this.content = body;
    this.source = source;
  }

  private get fields(): HeaderField[] {
    // A compacted message reads its header fields again from its own bytes.
    if (this.list === null) this.list = reparseHeaderFields(Buffer.from(this.packed!, 'latin1'));
    return this.list;
  }

  private set fields(list: HeaderField[]) {
    this.list = list;
  }

  // --- start line -------------------------------------------------------------------------

  get startLine(): StartLine {
    return this.start;
  }

  get isRequest(): boolean {
    return this.start.kind === 'request';
  }

  /** Request method, or the CSeq method of a response. */
  get method(): string {
    return this.start.kind === 'request' ? this.start.method : this.cseq().method;
  }

  get status(): number {
    return this.start.kind === 'response' ? this.start.status : 0;
  }

  /** The Request-URI as text ('' for responses). */
  get requestUriText(): string {
    return this.start.kind === 'request' ? this.start.uri : '';
  }

  requestUri(): Uri {
    if (this.vRuri !== undefined) return this.vRuri;
    const uri = parseUri(this.requestUriText);
    // RFC 3261 §19.1.1 table: headers are not allowed in a Request-URI (RFC 4475 §3.1.2.11).
    if (uri instanceof SipUri && uri.headers.length > 0) {
      throw new SipParseError('SIPS_ERR_PARSE_URI', `headers are not allowed in the Request-URI "${this.requestUriText}" (RFC 3261 §19.1.1)`);
    }
    return (this.vRuri = uri);
  }

  setRequestUri(uri: Uri | string): void {
    if (this.start.kind !== 'request') throw new Error('setRequestUri on a response');
    const text = uri.toString();
    this.start = { ...this.start, uri: text };
    this.startRaw = null;
    this.touch();
    this.vRuri = typeof uri !== 'string' ? uri : undefined;
  }

  // --- headers ----------------------------------------------------------------------------

  get headers(): readonly HeaderField[] {
    return this.fields;
  }

  /** First value of a header (compact and long names alike), or undefined. */
  get(name: string): string | undefined {
    const key = headerKey(name);
    for (const f of this.fields) if (f.key === key) return f.value;
    return undefined;
  }

  has(name: string): boolean {
    return this.get(name) !== undefined;
  }

  /** Every field with this name, in order. */
  getAll(name: string): HeaderField[] {
    const key = headerKey(name);
    return this.fields.filter((f) => f.key === key);
  }

  /**
   * More than one value of a list header (as `values(name).length > 1`), without splitting: a
   * second field answers at once, a single field is split only when it holds a comma.
   */
  hasSeveral(name: string): boolean {
    const key = headerKey(name);
    let only: HeaderField | undefined;
    for (const f of this.fields) {
      if (f.key !== key) continue;
      if (only !== undefined) return true;
      only = f;
    }
    return only !== undefined && LIST_HEADERS.has(key) && only.value.includes(',') && splitList(only.value).length > 1;
  }

  /** All values of a list header, split on commas across every field of that name. */
  values(name: string): string[] {
    const key = headerKey(name);
    const out: string[] = [];
    for (const f of this.fields) {
      if (f.key !== key) continue;
      if (LIST_HEADERS.has(key)) out.push(...splitList(f.value));
      else out.push(f.value);
    }
    return out;
  }

  /** Inserts a field in front of the first field of the same name, or at `fallbackIndex`. */
  prepend(name: string, value: string, fallbackIndex = 0): void {
    const key = headerKey(name);
    let at = this.fields.findIndex((f) => f.key === key);
    if (at < 0) at = Math.min(fallbackIndex, this.fields.length);
    this.fields.splice(at, 0, { name: canonicalName(key), key, value, raw: null });
    this.touch(key);
  }

  /** Appends a field after the last field of the same name, or at the end. */
  append(name: string, value: string): void {
    const key = headerKey(name);
    let at = -1;
    for (let i = 0; i < this.fields.length; i++) if (this.fields[i]!.key === key) at = i;
    this.fields.splice(at < 0 ? this.fields.length : at + 1, 0, { name: canonicalName(key), key, value, raw: null });
    this.touch(key);
  }

  /** Replaces every field of that name with one field (in place of the first). */
  set(name: string, value: string): void {
    const key = headerKey(name);
    const at = this.fields.findIndex((f) => f.key === key);
    if (at < 0) {
      this.fields.push({ name: canonicalName(key), key, value, raw: null });
    } else {
      this.fields[at] = { name: canonicalName(key), key, value, raw: null };
      this.fields = this.fields.filter((f, i) => i <= at || f.key !== key);
    }
    this.touch(key);
  }

  remove(name: string): number {
    const key = headerKey(name);
    const before = this.fields.length;
    this.fields = this.fields.filter((f) => f.key !== key);
    const removed = before - this.fields.length;
    if (removed) this.touch(key);
    return removed;
  }

  /** Removes the first value of a list header (top Via, top Route) and returns it. */
  shift(name: string): string | undefined {
    const key = headerKey(name);
    const at = this.fields.findIndex((f) => f.key === key);
    if (at < 0) return undefined;
    const field = this.fields[at]!;
    const parts = splitList(field.value);
    const first = parts.shift();
    if (parts.length === 0) this.fields.splice(at, 1);
    else this.fields[at] = { name: field.name, key, value: parts.join(', '), raw: null };
    this.touch(key);
    return first;
  }

  /**
   * Removes the first `count` values of a list header (the edge's own Route entries), as `count`
   * shifts would, splitting and joining each field once.
   */
  shiftValues(name: string, count: number): void {
    if (count <= 0) return;
    const key = headerKey(name);
    let left = count;
    let at = this.fields.findIndex((f) => f.key === key);
    while (left > 0 && at >= 0) {
      const field = this.fields[at]!;
      const parts = splitList(field.value);
      if (parts.length <= left) {
        this.fields.splice(at, 1);
        left -= parts.length;
        at = this.fields.findIndex((f) => f.key === key);
      } else {
        this.fields[at] = { name: field.name, key, value: parts.slice(left).join(', '), raw: null };
        left = 0;
      }
    }
    this.touch(key);
  }

  /** Index just after the last field of a name, or -1. */
  indexAfter(name: string): number {
    const key = headerKey(name);
    let at = -1;
    for (let i = 0; i < this.fields.length; i++) if (this.fields[i]!.key === key) at = i + 1;
    return at;
  }

  // --- typed views --------------------------------------------------------------------------

  /** Top Via. */
  via(): Via {
    if (this.vVia !== undefined) return this.vVia;
    const top = this.values('via')[0];
    if (top === undefined) throw new Error('message has no Via');
    return (this.vVia = parseVia(top));
  }

  vias(): Via[] {
    return (this.vVias ??= this.values('via').map(parseVia));
  }

  cseq(): CSeq {
    return (this.vCseq ??= parseCSeq(this.get('cseq') ?? ''));
  }

  callId(): string {
    return this.get('call-id') ?? '';
  }

  from(): NameAddr {
    return (this.vFrom ??= parseNameAddr(this.get('from') ?? ''));
  }

  to(): NameAddr {
    return (this.vTo ??= parseNameAddr(this.get('to') ?? ''));
  }

  /** undefined when absent. */
  maxForwards(): number | undefined {
    if (this.vMf !== undefined) return this.vMf;
    const v = this.get('max-forwards');
    return v === undefined ? undefined : (this.vMf = parseMaxForwards(v));
  }

  contentType(): ContentType | undefined {
    if (this.vCtype !== undefined) return this.vCtype;
    const v = this.get('content-type');
    return v === undefined ? undefined : (this.vCtype = parseContentType(v));
  }

  /** Contact values; `*` stays as the string '*'. */
  contacts(): (NameAddr | '*')[] {
    return (this.vContacts ??= this.values('contact').map((v) => (v === '*' ? '*' : parseNameAddr(v))));
  }

  routes(): NameAddr[] {
    return (this.vRoutes ??= this.values('route').map(parseRouteEntry));
  }

  recordRoutes(): NameAddr[] {
    return (this.vRecordRoutes ??= this.values('record-route').map(parseRouteEntry));
  }

  // --- body -------------------------------------------------------------------------------

  get body(): Buffer {
    const c = this.content;
    return typeof c === 'number' ? Buffer.from(this.packed!.slice(this.packed!.length - c), 'latin1') : c;
  }

  setBody(body: Buffer, contentType?: string): void {
    this.content = body;
    if (contentType !== undefined) this.set('content-type', contentType);
    else if (body.length === 0) this.remove('content-type');
    this.touch();
  }

  /** True until something is edited: serialize() then returns the input bytes. */
  get pristine(): boolean {
    return this.source !== null || this.packed !== null;
  }

  // --- serializer -------------------------------------------------------------------------

  serialize(): Buffer {
    if (this.source !== null) return this.source;
    if (this.packed !== null) return Buffer.from(this.packed, 'latin1');
    const head = this.serializeHead();
    const body = this.body;
    const out = Buffer.allocUnsafe(head.length + body.length);
    out.write(head, 0, 'latin1');
    body.copy(out, head.length);
    return out;
  }

  /** Start line and header section including the blank line, as a latin1 string. */
  serializeHead(): string {
    let s = this.startRaw ?? formatStartLine(this.start);
    s += '\r\n';
    const bodyLen = this.body.length;
    let wroteLength = false;
    for (const f of this.fields) {
      if (f.key === 'content-length') {
        if (wroteLength) continue;
        wroteLength = true;
        // Content-Length is always what the body is (RFC 3261 §20.14).
        if (f.raw !== null && Number(f.value) === bodyLen) s += f.raw + '\r\n';
        else s += 'Content-Length: ' + bodyLen + '\r\n';
        continue;
      }
      s += (f.raw ?? f.name + ': ' + f.value) + '\r\n';
    }
    if (!wroteLength) s += 'Content-Length: ' + bodyLen + '\r\n';
    return s + '\r\n';
  }

  toString(): string {
    return this.serializeHead() + this.body.toString('latin1');
  }

  /**
   * For a message kept only to be resent or looked at rarely (a transaction's request and final
   * response through RFC 6026's 32 s). Returns the wire bytes to send now (not to be kept); the
   * message itself keeps only those bytes, as a latin1 string, and drops its parsed fields and
   * views (read again from the bytes if ever asked for). Every accessor keeps working;
   * `serialize()` returns a fresh copy of the bytes.
   *
   * A string, not a Buffer of its own: every Buffer's bytes are a native (malloc) allocation freed
   * only when a major GC finds its ArrayBuffer dead. At 1,000 calls/s some 95,000 lingering
   * transactions' buffers were allocated and freed that way, the native heap grew with the
   * garbage between major GCs and kept the size after it (+73 MB RSS at idle after 100,000 calls,
   * bench/soak.ts); strings live in the V8 heap, which a full GC compacts and releases.
   */
  /** A compacted message's wire bytes as latin1 (no copy), or null when it is not compacted. */
  packedText(): string | null {
    return this.packed;
  }

  compact(): Buffer {
    if (this.packed !== null) {
      // Compacted before (and maybe read since): its bytes are already kept.
      this.list = null;
      this.forgetViews();
      return Buffer.from(this.packed, 'latin1');
    }
    const bytes = this.serialize();
    this.content = this.body.length;
    // A flat copy in the V8 heap (Node makes an external string only past ~1 MB).
    this.packed = bytes.toString('latin1');
    this.source = null;
    this.list = null;
    this.forgetViews();
    // The start line's strings are slices of the whole parsed header text: copies let it go.
    this.startRaw = null;
    const st = this.start;
    this.start = st.kind === 'request'
      ? { ...st, uri: ownString(st.uri) }
      : { kind: 'response', version: st.version === SIP_VERSION ? SIP_VERSION : ownString(st.version), status: st.status, reason: st.reason === 'OK' ? 'OK' : ownString(st.reason) };
    return bytes;
  }

  /** A deep enough copy to edit independently (fields array and start line; the body is shared). */
  clone(): SipMessage {
    const copy = new SipMessage(this.start, this.fields.slice(), this.body, this.startRaw, null);
    // Views of single values are immutable and stay valid until the copy edits that header
    // (lists are not shared: a caller may hold and change the array it got).
    copy.vRuri = this.vRuri;
    copy.vVia = this.vVia;
    copy.vCseq = this.vCseq;
    copy.vFrom = this.vFrom;
    copy.vTo = this.vTo;
    copy.vMf = this.vMf;
    return copy;
  }

  /**
   * Views the caller already has, so they are not parsed again: the parser's top Via and CSeq, or
   * the top Via just written with `prepend`.
   */
  remember(via: Via, cseq?: CSeq): void {
    this.vVia = via;
    if (cseq !== undefined) this.vCseq = cseq;
  }

  private forgetViews(): void {
    this.vRuri = this.vVia = this.vCseq = this.vFrom = this.vTo = this.vMf = this.vCtype = undefined;
    this.vVias = this.vContacts = this.vRoutes = this.vRecordRoutes = undefined;
  }

  private touch(key?: string): void {
    if (this.packed !== null) {
      // A compacted message being edited: take fields and body out of its bytes first.
      this.list = this.fields;
      this.content = this.body;
      this.packed = null;
    }
    this.source = null;
    switch (key) {
      case 'via': this.vVia = undefined; this.vVias = undefined; break;
      case 'cseq': this.vCseq = undefined; break;
      case 'from': this.vFrom = undefined; break;
      case 'to': this.vTo = undefined; break;
      case 'max-forwards': this.vMf = undefined; break;
      case 'content-type': this.vCtype = undefined; break;
      case 'contact': this.vContacts = undefined; break;
      case 'route': this.vRoutes = undefined; break;
      case 'record-route': this.vRecordRoutes = undefined; break;
      default: break;
    }
  }
}

export { ownString } from './own-string.js';

export function formatStartLine(s: StartLine): string {
  return s.kind === 'request' ? `${s.method} ${s.uri} ${s.version}` : `${s.version} ${s.status} ${s.reason}`;
}
