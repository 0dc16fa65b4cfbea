import { randomBytes } from 'node:crypto';
import { SIP_VERSION } from './constants.js';
import { canonicalName, headerKey } from './header-names.js';
import { SipMessage, type HeaderField } from './message.js';

/** RFC 3261 §21 reason phrases for the statuses the edge writes itself. */
export const REASON_PHRASES: Readonly<Record<number, string>> = {
  100: 'Trying', 180: 'Ringing', 183: 'Session Progress', 200: 'OK', 202: 'Accepted',
  400: 'Bad Request', 403: 'Forbidden', 404: 'Not Found', 405: 'Method Not Allowed',
  408: 'Request Timeout', 413: 'Request Entity Too Large', 415: 'Unsupported Media Type',
  416: 'Unsupported URI Scheme', 420: 'Bad Extension', 421: 'Extension Required',
  480: 'Temporarily Unavailable', 481: 'Call/Transaction Does Not Exist', 482: 'Loop Detected',
  483: 'Too Many Hops', 484: 'Address Incomplete', 486: 'Busy Here', 487: 'Request Terminated',
  488: 'Not Acceptable Here', 500: 'Server Internal Error', 501: 'Not Implemented',
  502: 'Bad Gateway', 503: 'Service Unavailable', 504: 'Server Time-out',
  505: 'Version Not Supported', 513: 'Message Too Large', 603: 'Decline',
};

export interface ResponseOptions {
  readonly reason?: string;
  /** To-tag to add when the request's To has none (RFC 3261 §8.2.6.2); generated when omitted. */
  readonly toTag?: string;
  readonly headers?: readonly (readonly [string, string])[];
  readonly body?: Buffer;
  readonly contentType?: string;
}

/**
 * RFC 3261 §8.2.6.2: a response copies Via (all values, in order, untouched), From, To, Call-ID and
 * CSeq from the request, and adds a To-tag for anything but 100. Works on a request that failed
 * only later validation; the transport layer answers unparseable bytes with `buildErrorResponseRaw`.
 */
export function buildResponse(req: SipMessage, status: number, options: ResponseOptions = {}): SipMessage {
  const fields: HeaderField[] = [];
  for (const f of req.headers) {
    if (f.key === 'via' || f.key === 'from' || f.key === 'call-id' || f.key === 'cseq') {
      fields.push(f);
    } else if (f.key === 'to') {
      if (status > 100 && !/;\s*tag\s*=/i.test(f.value)) {
        const value = `${f.value};tag=${options.toTag ?? newTag()}`;
        fields.push({ name: f.name, key: 'to', value, raw: null });
      } else {
        fields.push(f);
      }
    } else if (status === 100 && f.key === 'timestamp') {
      fields.push(f); // RFC 3261 §8.2.6.1
    }
  }
  for (const [name, value] of options.headers ?? []) {
    const key = headerKey(name);
    fields.push({ name: canonicalName(key), key, value, raw: null });
  }
  const body = options.body ?? Buffer.alloc(0);
  if (options.contentType !== undefined) fields.push({ name: 'Content-Type', key: 'content-type', value: options.contentType, raw: null });
  const reason = options.reason ?? REASON_PHRASES[status] ?? 'Unknown';
  return new SipMessage({ kind: 'response', version: SIP_VERSION, status, reason }, fields, body);
}

export function newTag(): string {
  return randomBytes(6).toString('hex');
}
