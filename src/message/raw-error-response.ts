import { randomBytes } from 'node:crypto';
import { TOKEN } from './grammar.js';
import { headerKey } from './header-names.js';
import type { SipParseError } from './parse-error.js';
import { warningValue } from './warning.js';

/**
 * A method token and a space, then anything: a request line that fails to parse (extra SP, LWS in
 * the Request-URI, SP after the version; RFC 4475 §3.1.2.8-10) still names a request to answer.
 */
const REQUEST_LINE = new RegExp(`^${TOKEN} [^\\r\\n]*\\S`);
const COPIED = new Set(['via', 'from', 'to', 'call-id', 'cseq']);

/**
 * Bytes that failed to parse still deserve an answer when they look like a request: RFC 3261
 * §16.3 / §8.2 want a 400 (505 for a version, 513 for size) rather than silence. Built from the
 * raw Via/From/To/Call-ID/CSeq lines, which are copied as they were. Returns null for responses,
 * ACKs, and bytes with no request line or no Via (nobody to answer).
 */
export function rawErrorResponse(data: Buffer, error: SipParseError, agent: string): Buffer | null {
  const text = data.toString('latin1', 0, Math.min(data.length, 16_384));
  const end = text.indexOf('\r\n\r\n');
  const lines = (end < 0 ? text : text.slice(0, end)).split('\r\n');
  const start = lines[0] ?? '';
  if (!REQUEST_LINE.test(start) || /^SIP\//i.test(start) || start.toUpperCase().startsWith('ACK ')) return null;
  const copied: string[] = [];
  const seen = new Set<string>();
  let hasVia = false;
  let toHasTag = true;
  for (const line of unfold(lines)) {
    const colon = line.indexOf(':');
    if (colon <= 0 || /[\x00-\x08\x0a-\x1f\x7f]/.test(line)) continue;
    const key = headerKey(line.slice(0, colon).trim());
    if (!COPIED.has(key)) continue;
    // Every Via, but one From/To/Call-ID/CSeq: a request with two (RFC 4475 §3.3.8) gets an answer with one.
    if (key !== 'via' && seen.has(key)) continue;
    seen.add(key);
    if (key === 'via') hasVia = true;
    if (key === 'cseq' && /\bACK\s*$/i.test(line)) return null;
    if (key === 'to') {
      toHasTag = /;\s*tag\s*=/i.test(line);
      copied.push(toHasTag ? line : `${line};tag=${randomBytes(6).toString('hex')}`);
      continue;
    }
    copied.push(line);
  }
  if (!hasVia) return null;
  const warning = `Warning: ${warningValue(agent, error.code, error.message, 160)}`;
  const head = [`SIP/2.0 ${error.status} ${error.reason}`, ...copied, warning, 'Content-Length: 0', '', ''].join('\r\n');
  return Buffer.from(head, 'latin1');
}

/** The header lines after the start line, folded continuations joined (RFC 3261 §7.3.1). */
function unfold(lines: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!;
    const c = line.charCodeAt(0);
    if ((c === 0x20 || c === 0x09) && out.length > 0) out[out.length - 1] += ' ' + line.trim();
    else out.push(line);
  }
  return out;
}
