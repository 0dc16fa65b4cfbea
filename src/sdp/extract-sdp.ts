/**
 * Find the SDP in a SIP message body: the whole body when Content-Type is application/sdp, or the
 * one application/sdp part of a multipart body (RFC 5621 §3, RFC 2046 §5.1.1), e.g. SIP-I's
 * multipart/mixed with ISUP and SDP. Parts may nest (up to MAX_DEPTH).
 *
 * Returns the SDP text (latin1, so bytes survive a round trip), null when the message carries no
 * SDP, or `{ error }` when a multipart body is broken or holds more than one SDP part — the edge
 * must not check one SDP while the peer uses another.
 */
import { sdpFailure, type SdpFailure } from './verdict.js';

const MAX_DEPTH = 4;

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

export function extractSdp(body: Buffer | string, contentType: string): string | null | { readonly error: SdpFailure } {
  const text = typeof body === 'string' ? body : body.toString('latin1');
  if (text.length === 0) return null;
  const found: string[] = [];
  const problem = collect(text, parseContentType(contentType), 0, found);
  if (problem !== null) return multipartError(problem);
  if (found.length > 1) return multipartError(`the body holds ${found.length} application/sdp parts; exactly one is allowed`);
  return found[0] ?? null;
}

/** Push every application/sdp body in `text` onto `found`; return a problem sentence or null. */
function collect(text: string, ct: MediaType, depth: number, found: string[]): string | null {
  if (ct.type === 'application/sdp') {
    found.push(text);
    return null;
  }
  if (!ct.type.startsWith('multipart/')) return null;
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
  }
  return collect(part.slice(contentStart), parseContentType(contentType), depth + 1, found);
}

function printableBoundary(boundary: string): string {
  return /^[A-Za-z0-9'()+_,./:=? -]{1,70}$/.test(boundary) ? `"--${boundary}"` : 'boundary';
}
