/**
 * Keys out of logs: SDES carries the SRTP master key and salt in clear text (RFC 4568 §6.1,
 * `inline:<key>|<lifetime>|<mki>`), so anything that logs or traces a whole SIP message passes it
 * through `redactSdpKeys` first. Also covered: the legacy `k=` line (RFC 4566 §5.12) and MIKEY
 * payloads in `a=key-mgmt:` (RFC 4567), which are key material as well.
 *
 * One case-insensitive regex pass; text without keys is returned unchanged (same string).
 * Tolerates odd spacing: `inline : key`, `INLINE:key`, tabs, several keys joined by `;`.
 */
import { judgeBody } from './extract-sdp.js';

// inline, optional blanks, ':', optional blanks, then everything up to whitespace or ';'
// (the key, and the optional |lifetime|MKI); or a whole k= / a=key-mgmt: line.
const KEYS = /inline[ \t]*:[ \t]*[^\s;]*|(^|\n)[ \t]*(k[ \t]*=|a[ \t]*=[ \t]*key-mgmt[ \t]*:)[^\r\n]*/gi;

function replace(_match: string, lineStart: string | undefined, lineKind: string | undefined): string {
  if (lineKind === undefined) return 'inline:[redacted]';
  return `${lineStart ?? ''}${lineKind.toLowerCase().startsWith('k') ? 'k=' : 'a=key-mgmt:'}[redacted]`;
}

export function redactSdpKeys(text: string): string {
  return text.replace(KEYS, replace);
}

/** The header fields that say how a body reads (long and compact forms, RFC 3261 §7.3.3). */
const BODY_HEADER = /^(content-type|c|content-encoding|e|content-transfer-encoding)[ \t]*:(.*)$/i;

/**
 * A whole SIP message for a log or a capture (issue 11 item 13): keys redacted where the text can
 * be read, and the whole body replaced when it cannot — Content-Encoding (gzip), a base64 or
 * quoted-printable Content-Transfer-Encoding, an unknown media type, a broken multipart — since
 * a key inside it would pass the line-based redaction untouched. The start line and headers stay.
 */
export function redactSipMessage(text: string): string {
  let end = text.indexOf('\r\n\r\n');
  let sep = 4;
  if (end === -1) {
    end = text.indexOf('\n\n');
    sep = 2;
  }
  if (end === -1 || end + sep >= text.length) return redactSdpKeys(text);
  const head = text.slice(0, end);
  const body = text.slice(end + sep);
  let contentType: string | undefined;
  let contentEncoding: string | undefined;
  let contentTransferEncoding: string | undefined;
  for (const line of head.split('\n')) {
    const m = BODY_HEADER.exec(line.trimEnd());
    if (m === null) continue;
    const name = m[1]!.toLowerCase();
    const value = m[2]!.trim();
    if (name === 'content-type' || name === 'c') contentType = value;
    else if (name === 'content-encoding' || name === 'e') contentEncoding = value;
    else contentTransferEncoding = value;
  }
  const judged = judgeBody(body, { contentType, contentEncoding, contentTransferEncoding });
  if (judged === null || typeof judged === 'string') return redactSdpKeys(text);
  return `${redactSdpKeys(head)}${text.slice(end, end + sep)}[body redacted: ${body.length} bytes, ${judged.error.reason}]`;
}
