/** RFC 3261 constants and the message-size limits, named once. */

export const SIP_VERSION = 'SIP/2.0';

/** RFC 3261 §8.1.1.7: branches of RFC 3261 elements start with this magic cookie. */
export const BRANCH_MAGIC_COOKIE = 'z9hG4bK';

export const CRLF = '\r\n';

/** RFC 3261 §7.3.3 compact forms (plus RFC 3515 r, RFC 3892 b, RFC 3841 j/d, RFC 3903 o/u/y/x/a). */
export const COMPACT_FORMS: Readonly<Record<string, string>> = {
  i: 'call-id',
  m: 'contact',
  e: 'content-encoding',
  l: 'content-length',
  c: 'content-type',
  f: 'from',
  s: 'subject',
  k: 'supported',
  t: 'to',
  v: 'via',
  o: 'event',
  u: 'allow-events',
  r: 'refer-to',
  b: 'referred-by',
  x: 'session-expires',
  y: 'identity',
  a: 'accept-contact',
  j: 'reject-contact',
  d: 'request-disposition',
};

/** Canonical spelling for headers the edge writes or commonly reads. */
export const CANONICAL_NAMES: Readonly<Record<string, string>> = {
  'call-id': 'Call-ID',
  cseq: 'CSeq',
  via: 'Via',
  from: 'From',
  to: 'To',
  contact: 'Contact',
  route: 'Route',
  'record-route': 'Record-Route',
  'max-forwards': 'Max-Forwards',
  'content-length': 'Content-Length',
  'content-type': 'Content-Type',
  'content-encoding': 'Content-Encoding',
  'www-authenticate': 'WWW-Authenticate',
  'proxy-authenticate': 'Proxy-Authenticate',
  'proxy-require': 'Proxy-Require',
  'retry-after': 'Retry-After',
  'user-agent': 'User-Agent',
  'allow-events': 'Allow-Events',
  'rack': 'RAck',
  'rseq': 'RSeq',
  'mime-version': 'MIME-Version',
};

/**
 * Headers whose value is a comma-separated list (RFC 3261 §7.3.1). Every other header is kept
 * whole: WWW-Authenticate, Authorization, Date and unknown headers may contain commas that are
 * not list separators.
 */
export const LIST_HEADERS: ReadonlySet<string> = new Set([
  'via', 'route', 'record-route', 'contact', 'allow', 'supported', 'require', 'proxy-require',
  'unsupported', 'accept', 'accept-encoding', 'accept-language', 'content-encoding', 'alert-info',
  'call-info', 'error-info', 'in-reply-to', 'warning', 'reason', 'path', 'service-route',
  'allow-events', 'accept-contact', 'reject-contact', 'request-disposition', 'p-asserted-identity',
  'p-preferred-identity', 'history-info', 'security-client', 'security-server', 'security-verify',
]);

/**
 * One string per known method: a parsed one is a fresh copy (a slice of the message) per message,
 * and transactions keep it. The start line's method and CSeq's go through this.
 */
const KNOWN_METHODS: ReadonlyMap<string, string> = new Map(['INVITE', 'ACK', 'BYE', 'CANCEL', 'OPTIONS', 'REGISTER', 'PRACK', 'UPDATE', 'INFO', 'REFER', 'NOTIFY', 'SUBSCRIBE', 'MESSAGE', 'PUBLISH'].map((m) => [m, m]));

/** The interned string of a known method, or undefined. */
export function knownMethod(m: string): string | undefined {
  return KNOWN_METHODS.get(m);
}

/** Limits on what the parser accepts from the network; config/limits.ts exposes them to operators. */
export interface MessageLimits {
  /** Whole message (start line + headers + body), bytes. */
  readonly maxMessageSize: number;
  /** Start line + header section including the blank line, bytes. */
  readonly maxHeaderSection: number;
  readonly maxHeaders: number;
  readonly maxVia: number;
  /** One physical or unfolded header line, bytes. */
  readonly maxLineLength: number;
}

export const DEFAULT_MESSAGE_LIMITS: MessageLimits = {
  maxMessageSize: 65_536,
  maxHeaderSection: 16_384,
  maxHeaders: 128,
  maxVia: 100,
  maxLineLength: 8_192,
};
