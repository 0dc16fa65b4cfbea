import { DEFAULT_MESSAGE_LIMITS, type MessageLimits } from './constants.js';
import { CR, LF, isTokenByte, skipLws, skipWsp } from './grammar.js';
import { SipParseError } from './parse-error.js';

const CRLFCRLF = Buffer.from('\r\n\r\n', 'latin1');

export interface FramerHandlers {
  /** One whole SIP message: header section + body, as a view of the received bytes. */
  onMessage(message: Buffer): void;
  /**
   * RFC 5626 §3.5.1 keep-alives between messages: 'ping' is a double CRLF (answer it with a
   * single CRLF), 'pong' a single CRLF.
   */
  onKeepAlive(kind: 'ping' | 'pong'): void;
  /** Framing is lost (error.fatal): the connection must be closed. Nothing more is emitted. */
  onError(error: SipParseError): void;
}

export interface FramerOptions {
  readonly limits?: Partial<MessageLimits>;
  /**
   * On connections this side opened, a lone CRLF is the peer's pong and is reported at once.
   * On accepted connections a CRLF at the end of the data may be the first half of a ping, so the
   * framer waits for the next bytes before deciding.
   */
  readonly expectPongs?: boolean;
}

/**
 * RFC 3261 §18.3 framing for stream transports (TCP, TLS): a message ends Content-Length bytes
 * after the blank line, so Content-Length is mandatory. Feed it arbitrary chunks; it emits whole
 * messages, keeping views of the received chunks when a message arrives in one piece.
 */
export class StreamFramer {
  private readonly limits: MessageLimits;
  private readonly expectPongs: boolean;
  private pending: Buffer | null = null;
  /** Total length of the message at the head of `pending`, once its header section is known. */
  private need = -1;
  private failed = false;

  constructor(private readonly handlers: FramerHandlers, options: FramerOptions = {}) {
    this.limits = { ...DEFAULT_MESSAGE_LIMITS, ...options.limits };
    this.expectPongs = options.expectPongs ?? false;
  }

  /** Bytes held while waiting for the rest of a message. */
  get buffered(): number {
    return this.pending?.length ?? 0;
  }

  push(chunk: Buffer): void {
    if (this.failed || chunk.length === 0) return;
    let data: Buffer;
    if (this.pending === null) {
      data = chunk;
    } else {
      data = Buffer.concat([this.pending, chunk]);
      if (this.need > 0 && data.length < this.need) {
        this.pending = data;
        return;
      }
    }
    this.pending = null;
    this.need = -1;
    const len = data.length;
    let off = 0;
    while (off < len) {
      if (data[off] === CR) {
        // Keep-alive or stray CRLF between messages (RFC 3261 §7.5, RFC 5626 §3.5.1).
        if (off + 1 >= len) break;
        if (data[off + 1] !== LF) return this.fail(new SipParseError('SIPS_ERR_PARSE_START_LINE', 'bare CR between messages', true));
        if (off + 2 < len && data[off + 2] !== CR) {
          off += 2;
          this.handlers.onKeepAlive('pong');
          continue;
        }
        if (off + 3 < len) {
          if (data[off + 3] !== LF) return this.fail(new SipParseError('SIPS_ERR_PARSE_START_LINE', 'bare CR between messages', true));
          off += 4;
          this.handlers.onKeepAlive('ping');
          continue;
        }
        if (off + 2 === len && this.expectPongs) {
          off += 2;
          this.handlers.onKeepAlive('pong');
          continue;
        }
        break;
      }
      if (data[off] === LF) {
        return this.fail(new SipParseError('SIPS_ERR_PARSE_START_LINE', 'bare LF between messages', true));
      }
      const end = data.indexOf(CRLFCRLF, off);
      if (end < 0) {
        if (len - off > this.limits.maxHeaderSection) {
          return this.fail(new SipParseError('SIPS_ERR_PARSE_HEADER_SECTION_TOO_LARGE', `no end of header section within ${this.limits.maxHeaderSection} bytes`, true));
        }
        break;
      }
      const headerLen = end + 4 - off;
      if (headerLen > this.limits.maxHeaderSection) {
        return this.fail(new SipParseError('SIPS_ERR_PARSE_HEADER_SECTION_TOO_LARGE', `header section is ${headerLen} bytes, limit ${this.limits.maxHeaderSection}`, true));
      }
      const cl = findContentLength(data, off, end);
      if (cl === MISSING) return this.fail(new SipParseError('SIPS_ERR_PARSE_NO_CONTENT_LENGTH', 'stream transports require Content-Length (RFC 3261 §18.3)', true));
      if (cl === INVALID) return this.fail(new SipParseError('SIPS_ERR_PARSE_CONTENT_LENGTH', 'Content-Length is not a single decimal number', true));
      const total = headerLen + cl;
      if (total > this.limits.maxMessageSize) {
        return this.fail(new SipParseError('SIPS_ERR_PARSE_TOO_LARGE', `message is ${total} bytes, limit ${this.limits.maxMessageSize}`, true));
      }
      if (off + total > len) {
        this.need = total;
        break;
      }
      const message = data.subarray(off, off + total);
      off += total;
      this.handlers.onMessage(message);
      if (this.failed) return;
    }
    if (off < len) {
      // Copy what is left so a small tail does not pin a large chunk in memory.
      this.pending = off === 0 && data !== chunk ? data : Buffer.from(data.subarray(off));
    }
  }

  private fail(error: SipParseError): void {
    this.failed = true;
    this.pending = null;
    this.handlers.onError(error);
  }
}

const MISSING = -1;
const INVALID = -2;

const CONTENT_LENGTH = 'content-length';

/**
 * Finds Content-Length (or its compact form `l`) in the header section data[start, end) without
 * decoding it. Returns MISSING, INVALID or the value. Two different values are INVALID.
 */
export function findContentLength(data: Buffer, start: number, end: number): number {
  let found = MISSING;
  // Skip the start line.
  let p = data.indexOf(LF, start);
  while (p >= 0 && p < end) {
    const line = p + 1;
    const c = data[line]! | 0x20;
    if (c === 0x63 /* c */ || c === 0x6c /* l */) {
      let q = line;
      while (q < end && isTokenByte(data[q]!)) q++;
      const nameLen = q - line;
      if ((nameLen === 1 && c === 0x6c) || (nameLen === 14 && matchesLower(data, line, CONTENT_LENGTH))) {
        // HCOLON: only SP/HTAB before the colon (a fold there is no header line, as the parser says).
        q = skipWsp(data, q, end);
        if (data[q] === 0x3a /* : */) {
          q = skipLws(data, q + 1, end);
          let value = 0;
          let digits = 0;
          let zeros = 0;
          // 1*DIGIT: leading zeros are legal and not counted against the 9 significant digits.
          while (q < end && data[q] === 0x30 && digits === 0) {
            zeros++;
            q++;
          }
          while (q < end && data[q]! >= 0x30 && data[q]! <= 0x39) {
            value = value * 10 + (data[q]! - 0x30);
            digits++;
            q++;
          }
          q = skipLws(data, q, end);
          if ((digits === 0 && zeros === 0) || digits > 9 || (q < end + 2 && data[q] !== CR)) return INVALID;
          if (found !== MISSING && found !== value) return INVALID;
          found = value;
        }
      }
    }
    p = data.indexOf(LF, line);
  }
  return found;
}

function matchesLower(data: Buffer, at: number, lower: string): boolean {
  for (let i = 0; i < lower.length; i++) {
    if ((data[at + i]! | 0x20) !== lower.charCodeAt(i)) return false;
  }
  return true;
}
