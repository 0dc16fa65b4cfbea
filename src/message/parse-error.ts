import { SipsError, type ErrorSection } from '../errors.js';

/**
 * Every way bytes from the network can fail to be a SIP message, with the status a proxy answers
 * and the reason phrase it puts in that response. `fatal` means the stream framing is lost and the
 * connection must be closed (RFC 3261 §18.3) — there is no message boundary to resume from.
 */
export const PARSE_ERRORS = {
  SIPS_ERR_PARSE_EMPTY: { status: 400, reason: 'Empty Message', meaning: 'nothing but CRLF' },
  SIPS_ERR_PARSE_INCOMPLETE: { status: 400, reason: 'Incomplete Header Section', meaning: 'no blank line ends the header section (UDP)' },
  SIPS_ERR_PARSE_START_LINE: { status: 400, reason: 'Bad Start Line', meaning: 'request/status line malformed; bare CR/LF between messages (stream: connection closed)' },
  SIPS_ERR_PARSE_VERSION: { status: 505, reason: 'Version Not Supported', meaning: 'SIP version other than SIP/2.0' },
  SIPS_ERR_PARSE_METHOD: { status: 400, reason: 'Bad Method', meaning: 'method is not a token' },
  SIPS_ERR_PARSE_STATUS: { status: 400, reason: 'Bad Status Code', meaning: 'status code outside 100–699' },
  SIPS_ERR_PARSE_HEADER: { status: 400, reason: 'Malformed Header Line', meaning: 'header line without a colon, bad name, continuation before any header, bad Call-ID' },
  SIPS_ERR_PARSE_MISSING_HEADER: { status: 400, reason: 'Missing Mandatory Header', meaning: 'Via, From, To, Call-ID or CSeq missing (RFC 3261 §8.1.1)' },
  SIPS_ERR_PARSE_DUPLICATE_HEADER: { status: 400, reason: 'Duplicate Singleton Header', meaning: 'a singleton header (From, To, Call-ID, CSeq, Max-Forwards, Content-Length, Content-Type) twice' },
  SIPS_ERR_PARSE_NO_CONTENT_LENGTH: { status: 400, reason: 'Missing Content-Length', meaning: 'TCP/TLS message without Content-Length (RFC 3261 §18.3): framing lost, connection closed' },
  SIPS_ERR_PARSE_CONTENT_LENGTH: { status: 400, reason: 'Bad Content-Length', meaning: 'Content-Length not a number, or two different values' },
  SIPS_ERR_PARSE_BODY_SHORT: { status: 400, reason: 'Body Shorter Than Content-Length', meaning: 'UDP body shorter than Content-Length' },
  SIPS_ERR_PARSE_TOO_LARGE: { status: 513, reason: 'Message Too Large', meaning: 'message over `limits.maxMessageSize`' },
  SIPS_ERR_PARSE_HEADER_SECTION_TOO_LARGE: { status: 513, reason: 'Header Section Too Large', meaning: 'header section over `limits.maxHeaderSection`' },
  SIPS_ERR_PARSE_TOO_MANY_HEADERS: { status: 513, reason: 'Too Many Headers', meaning: 'more than `limits.maxHeaders` header fields' },
  SIPS_ERR_PARSE_TOO_MANY_VIAS: { status: 483, reason: 'Too Many Hops', meaning: 'a request with more than `limits.maxVia` Via entries (a response: one more, the edge\'s own)' },
  SIPS_ERR_PARSE_LINE_TOO_LONG: { status: 400, reason: 'Header Line Too Long', meaning: 'a line over `limits.maxLineLength`' },
  SIPS_ERR_PARSE_URI: { status: 400, reason: 'Bad URI', meaning: 'malformed Request-URI or URI in a header' },
  SIPS_ERR_PARSE_VIA: { status: 400, reason: 'Bad Via', meaning: 'malformed Via' },
  SIPS_ERR_PARSE_CSEQ: { status: 400, reason: 'Bad CSeq', meaning: 'malformed CSeq or number ≥ 2^31' },
  SIPS_ERR_PARSE_CSEQ_METHOD: { status: 400, reason: 'CSeq Method Does Not Match', meaning: 'CSeq method differs from the request method' },
  SIPS_ERR_PARSE_MAX_FORWARDS: { status: 400, reason: 'Bad Max-Forwards', meaning: 'Max-Forwards not 0–255' },
  SIPS_ERR_PARSE_NAME_ADDR: { status: 400, reason: 'Bad Address Header', meaning: 'malformed From/To/Contact/Route/Record-Route' },
  SIPS_ERR_PARSE_CONTENT_TYPE: { status: 400, reason: 'Bad Content-Type', meaning: 'malformed Content-Type' },
  SIPS_ERR_PARSE_BINARY: { status: 400, reason: 'Control Character In Header Section', meaning: 'control character (NUL, bare CR or LF) in the header section' },
} as const satisfies ErrorSection;

export type ParseErrorCode = keyof typeof PARSE_ERRORS;

export class SipParseError extends SipsError {
  declare readonly code: ParseErrorCode;
  /** The SIP status a server answers this with (400 family, 505, 513). */
  readonly status: number;
  /** Reason phrase for the response line. */
  readonly reason: string;
  /** Framing is lost: close the stream connection instead of answering. */
  readonly fatal: boolean;

  constructor(code: ParseErrorCode, detail: string, fatal = false) {
    const def = PARSE_ERRORS[code];
    super(code, `${def.reason}: ${detail}`);
    this.status = def.status;
    this.reason = def.reason;
    this.fatal = fatal;
  }

  toJSON(): { error: ParseErrorCode; status: number; reason: string } {
    return { error: this.code, status: this.status, reason: this.message };
  }
}

export type Result<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: SipParseError };
