/**
 * Find the SDP in a SIP message body: the whole body when Content-Type is application/sdp, or the
 * one application/sdp part of a multipart body (RFC 5621 §3, RFC 2046 §5.1.1), e.g. SIP-I's
 * multipart/mixed with ISUP and SDP. Parts may nest (up to MAX_DEPTH).
 *
 * The label is not trusted (issue 11 item 12): a body or part that reads as SDP (`v=0` line) is SDP
 * whatever its Content-Type says; a body the edge cannot read (Content-Encoding such as gzip, a
 * Content-Transfer-Encoding such as base64, a media type it does not know) is refused rather than
 * waved through, since the peer may decode it and find an SDP the edge never saw.
 *
 * Returns the SDP text (latin1, so bytes survive a round trip), null when the message carries no
 * SDP, or `{ error }` when a multipart body is broken, holds more than one SDP part — the edge
 * must not check one SDP while the peer uses another — or cannot be judged.
 */
import { sdpFailure, type SdpFailure } from './verdict.js';

const MAX_DEPTH = 4;

/**
 * Media types the edge knows carry no SDP (SIP-I/SIP-T, QSIG, presence, DTMF relay, sipfrag of a
 * REFER's NOTIFY, message summary, plain text). Any other type is SDP by content or refused.
 */
export const NON_SDP_BODY_TYPES: ReadonlySet<string> = new Set([
  'application/isup', 'application/qsig', 'application/pidf+xml', 'application/dtmf-relay', 'application/dtmf',
  'message/sipfrag', 'application/simple-message-summary', 'text/plain',
]);

/** Content-Transfer-Encodings that leave the bytes as they are (RFC 2045 §6.1). */
const IDENTITY_CTE: ReadonlySet<string> = new Set(['', '7bit', '8bit', 'binary']);

/** A `v=0` line: the first line of every SDP (RFC 4566 §5), tolerant of blanks and LF-only lines. */
const SDP_SNIFF = /^\s*v[ \t]*=|(?:^|\n)[ \t]*v[ \t]*=[ \t]*0[ \t]*(?:\r?\n|$)/;

/** Does `text` read as SDP, whatever it is labelled? */
export function looksLikeSdp(text: string): boolean {
  return SDP_SNIFF.test(text);
}

/** The SIP headers that say how to read a body. */
export interface BodyHeaders {
  readonly contentType: string | undefined;
  /** RFC 3261 §20.12; anything but identity makes the body unreadable here. */
  readonly contentEncoding?: string | undefined;
  /** MIME (RFC 2045 §6); not a SIP header, but seen on SIP bodies in the wild. */
  readonly contentTransferEncoding?: string | undefined;
}

function encodedError(what: string): { readonly error: SdpFailure } {
  return { error: sdpFailure('encoded-body', `${what}: the edge cannot judge an encoded body (S-MEDIA-1); send it unencoded`, null) };
}

function unknownError(type: string): { readonly error: SdpFailure } {
  return { error: sdpFailure('unknown-body', `a ${type === '' ? 'body without Content-Type' : `${printableType(type)} body`} that is not SDP: the edge cannot judge it (S-MEDIA-1)`, null) };
}

function printableType(type: string): string {
  return /^[a-z0-9!#$&^_.+-]{1,64}\/[a-z0-9!#$&^_.+-]{1,64}$/.test(type) ? type : 'unrecognised';
}

function identityEncoding(value: string | undefined): boolean {
  if (value === undefined) return true;
  return value.split(',').every((v) => { const t = v.trim().toLowerCase(); return t === '' || t === 'identity'; });
}

/**
 * The SDP of a message body, judged by its headers and its content: SDP text, null (no SDP in a
 * body the edge can read), or `{ error }` (broken, ambiguous or unreadable: refuse toward an
 * SRTP-required leg).
 */
export function judgeBody(body: Buffer | string, h: BodyHeaders): string | null | { readonly error: SdpFailure } {
  if (body.length === 0) return null;
  if (!identityEncoding(h.contentEncoding)) return encodedError(`Content-Encoding: ${printableToken(h.contentEncoding!)}`);
  const cte = (h.contentTransferEncoding ?? '').trim().toLowerCase();
  if (!IDENTITY_CTE.has(cte)) return encodedError(`Content-Transfer-Encoding: ${printableToken(cte)}`);
  return extractSdp(body, h.contentType ?? '');
}

function printableToken(v: string): string {
  const t = v.trim();
  return /^[A-Za-z0-9._, -]{1,40}$/.test(t) ? t : 'unrecognised';
}

interface MediaType {
  readonly type: string; // lower-case type/subtype
  readonly boundary: string | null;
}

/** Content-Type: type/subtype *(; param); only the boundary parameter matters here. */
function parseContentType(value: string): MediaType {
  const semi = value.indexOf(';');
  const type = (semi === -1 ? value : value.slice(0, semi)).trim().toLowerCase();
  let boundary: string | null = null;
  if (semi !== -1) {
    const match = /;\s*boundary\s*=\s*(?:"([^"]*)"|([^\s;]+))/i.exec(value.slice(semi));
    if (match !== null) boundary = match[1] ?? match[2] ?? null;
  }
  return { type, boundary };
}

function multipartError(message: string): { readonly error: SdpFailure } {
  return { error: sdpFailure('bad-multipart', message, null) };
}

/** A problem sentence starting with this is an unknown media type, or (ENCODED_PREFIX) an encoded part. */
const UNKNOWN_PREFIX = '\u0000unknown:';
const ENCODED_PREFIX = '\u0000encoded:';

export function extractSdp(body: Buffer | string, contentType: string): string | null | { readonly error: SdpFailure } {
  const text = typeof body === 'string' ? body : body.toString('latin1');
  if (text.length === 0) return null;
  const found: string[] = [];
  const problem = collect(text, parseContentType(contentType), 0, found);
  if (problem !== null) {
    if (problem.startsWith(UNKNOWN_PREFIX)) return unknownError(problem.slice(UNKNOWN_PREFIX.length));
    if (problem.startsWith(ENCODED_PREFIX)) return encodedError(`a body part with Content-Transfer-Encoding: ${printableToken(problem.slice(ENCODED_PREFIX.length))}`);
    return multipartError(problem);
  }
  if (found.length > 1) return multipartError(`the body holds ${found.length} application/sdp parts; exactly one is allowed`);
  return found[0] ?? null;
}

/** Push every application/sdp body in `text` onto `found`; return a problem sentence or null. */
function collect(text: string, ct: MediaType, depth: number, found: string[]): string | null {
  if (ct.type === 'application/sdp') {
    found.push(text);
    return null;
  }
  if (!ct.type.startsWith('multipart/')) {
    if (looksLikeSdp(text)) {
      found.push(text);
      return null;
    }
    if (NON_SDP_BODY_TYPES.has(ct.type) || text.length === 0) return null;
    return UNKNOWN_PREFIX + ct.type;
  }
  if (depth >= MAX_DEPTH) return `multipart bodies nest deeper than ${MAX_DEPTH}`;
  if (ct.boundary === null || ct.boundary.length === 0 || ct.boundary.length > 70) {
    return `${ct.type} has no valid boundary parameter (RFC 2046 §5.1.1)`;
  }
  const delimiter = `--${ct.boundary}`;
  // The first delimiter may open the body; every later one follows a CRLF (which belongs to it).
  let at = text.startsWith(delimiter) ? 0 : text.indexOf(`\r\n${delimiter}`);
  if (at === -1) return `${ct.type} body has no ${printableBoundary(ct.boundary)} delimiter`;
  if (at > 0) at += 2;
  for (;;) {
    let lineEnd = text.indexOf('\r\n', at);
    if (lineEnd === -1) lineEnd = text.length;
    const afterDelimiter = at + delimiter.length;
    if (text.startsWith('--', afterDelimiter)) return null; // close-delimiter: done
    if (text.slice(afterDelimiter, lineEnd).trim().length !== 0) {
      return `${ct.type} delimiter line carries text after the boundary`;
    }
    if (lineEnd === text.length) return `${ct.type} body ends without a close delimiter`;
    const partStart = lineEnd + 2;
    const next = text.indexOf(`\r\n${delimiter}`, partStart - 2);
    if (next === -1) return `${ct.type} body ends without a close delimiter`;
    const part = next < partStart ? '' : text.slice(partStart, next);
    const problem = collectPart(part, depth, found);
    if (problem !== null) return problem;
    at = next + 2;
  }
}

/** A body part: MIME headers, an empty line, the content (RFC 2046 §5.1.1). */
function collectPart(part: string, depth: number, found: string[]): string | null {
  let headersEnd: number;
  let contentStart: number;
  if (part.startsWith('\r\n')) {
    headersEnd = 0; // no headers: text/plain by default, never SDP
    contentStart = 2;
  } else {
    headersEnd = part.indexOf('\r\n\r\n');
    if (headersEnd === -1) return 'a body part has no empty line after its headers';
    contentStart = headersEnd + 4;
  }
  let contentType = 'text/plain';
  for (const line of part.slice(0, headersEnd).split('\r\n')) {
    const colon = line.indexOf(':');
    if (colon === -1) continue;
    const name = line.slice(0, colon).trim().toLowerCase();
    if (name === 'content-type' || name === 'c') contentType = line.slice(colon + 1).trim();
    else if (name === 'content-transfer-encoding' || name === 'content-encoding') {
      const enc = line.slice(colon + 1).trim().toLowerCase();
      if (!(name === 'content-encoding' ? identityEncoding(enc) : IDENTITY_CTE.has(enc))) return ENCODED_PREFIX + enc;
    }
  }
  return collect(part.slice(contentStart), parseContentType(contentType), depth + 1, found);
}

function printableBoundary(boundary: string): string {
  return /^[A-Za-z0-9'()+_,./:=? -]{1,70}$/.test(boundary) ? `"--${boundary}"` : 'boundary';
}
