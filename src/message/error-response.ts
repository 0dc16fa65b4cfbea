import { randomBytes } from 'node:crypto';
import { headerKey } from './header-names.js';
import type { SipParseError } from './parse-error.js';

const REQUEST_LINE = /^[A-Za-z0-9._!%*+`'~-]+ \S+ SIP\/\d+\.\d+$/i;
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
  if (!REQUEST_LINE.test(start) || start.toUpperCase().startsWith('ACK ')) return null;
  const copied: string[] = [];
  let hasVia = false;
  let toHasTag = true;
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(':');
    if (colon <= 0 || /[\x00-\x08\x0a-\x1f\x7f]/.test(line)) continue;
    const key = headerKey(line.slice(0, colon).trim());
    if (!COPIED.has(key)) continue;
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
  const warning = `Warning: 399 ${agent} "${error.code}: ${error.message.replace(/["\\\r\n]/g, "'").slice(0, 160)}"`;
  const head = [`SIP/2.0 ${error.status} ${error.reason}`, ...copied, warning, 'Content-Length: 0', '', ''].join('\r\n');
  return Buffer.from(head, 'latin1');
}
