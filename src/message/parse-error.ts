import { SipsError } from '../errors.js';

/**
 * Every way bytes from the network can fail to be a SIP message, with the status a proxy answers
 * and the reason phrase it puts in that response. `fatal` means the stream framing is lost and the
 * connection must be closed (RFC 3261 §18.3) — there is no message boundary to resume from.
 */
export const PARSE_ERRORS = {
  SIPS_ERR_PARSE_EMPTY: { status: 400, reason: 'Empty Message' },
  SIPS_ERR_PARSE_INCOMPLETE: { status: 400, reason: 'Incomplete Header Section' },
  SIPS_ERR_PARSE_START_LINE: { status: 400, reason: 'Bad Start Line' },
  SIPS_ERR_PARSE_VERSION: { status: 505, reason: 'Version Not Supported' },
  SIPS_ERR_PARSE_METHOD: { status: 400, reason: 'Bad Method' },
  SIPS_ERR_PARSE_STATUS: { status: 400, reason: 'Bad Status Code' },
  SIPS_ERR_PARSE_HEADER: { status: 400, reason: 'Malformed Header Line' },
  SIPS_ERR_PARSE_MISSING_HEADER: { status: 400, reason: 'Missing Mandatory Header' },
  SIPS_ERR_PARSE_DUPLICATE_HEADER: { status: 400, reason: 'Duplicate Singleton Header' },
  SIPS_ERR_PARSE_NO_CONTENT_LENGTH: { status: 400, reason: 'Missing Content-Length' },
  SIPS_ERR_PARSE_CONTENT_LENGTH: { status: 400, reason: 'Bad Content-Length' },
  SIPS_ERR_PARSE_BODY_SHORT: { status: 400, reason: 'Body Shorter Than Content-Length' },
  SIPS_ERR_PARSE_TOO_LARGE: { status: 513, reason: 'Message Too Large' },
  SIPS_ERR_PARSE_HEADER_SECTION_TOO_LARGE: { status: 513, reason: 'Header Section Too Large' },
  SIPS_ERR_PARSE_TOO_MANY_HEADERS: { status: 513, reason: 'Too Many Headers' },
  SIPS_ERR_PARSE_TOO_MANY_VIAS: { status: 483, reason: 'Too Many Hops' },
  SIPS_ERR_PARSE_LINE_TOO_LONG: { status: 400, reason: 'Header Line Too Long' },
  SIPS_ERR_PARSE_URI: { status: 400, reason: 'Bad URI' },
  SIPS_ERR_PARSE_VIA: { status: 400, reason: 'Bad Via' },
  SIPS_ERR_PARSE_CSEQ: { status: 400, reason: 'Bad CSeq' },
  SIPS_ERR_PARSE_CSEQ_METHOD: { status: 400, reason: 'CSeq Method Does Not Match' },
  SIPS_ERR_PARSE_MAX_FORWARDS: { status: 400, reason: 'Bad Max-Forwards' },
  SIPS_ERR_PARSE_NAME_ADDR: { status: 400, reason: 'Bad Address Header' },
  SIPS_ERR_PARSE_CONTENT_TYPE: { status: 400, reason: 'Bad Content-Type' },
  SIPS_ERR_PARSE_BINARY: { status: 400, reason: 'Control Character In Header Section' },
} as const;

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
