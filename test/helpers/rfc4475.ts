import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { FIXTURES } from './fixtures.js';

/**
 * RFC 4475 (SIP torture test messages), every message of §3.1.1, §3.1.2, §3.2, §3.3 and §3.4, with
 * what the RFC says an element must do with it. The fixtures in test/fixtures/rfc4475/ are the
 * files of the RFC's Appendix A archive, byte for byte (`<name>.dat` there, `<name>.sip` here).
 *
 * `parse` is what `sips-edge parse` must answer: 'ok', or the SIPS_ERR_PARSE_* code (the whole
 * check, the lazy views included). `udp` / `tcp` is what the edge, as a proxy, must do with it on
 * the wire:
 *   processed   — not refused: answered (by the edge or the upstream it forwards to) with a status
 *                 other than 400/505, or `status` exactly when the RFC names one for a proxy
 *   refused     — answered with `status` and a Warning naming the reason; never forwarded
 *   dropped     — a response nobody asked for (or malformed): no answer, nothing forwarded
 *   closed      — TCP: the framing is lost (RFC 3261 §18.3), the edge closes the connection
 *   waits       — TCP: Content-Length promises more than came; the edge waits for it (and
 *                 closes the connection when idle), answering nothing
 */
export type WireExpectation =
  | { readonly kind: 'processed'; readonly status?: number }
  | { readonly kind: 'refused'; readonly status: number }
  | { readonly kind: 'dropped' }
  | { readonly kind: 'closed' }
  | { readonly kind: 'waits' };

export interface TortureCase {
  readonly name: string;
  readonly section: string;
  readonly title: string;
  /** What the RFC says an element must (or may) do, in short. */
  readonly rfc: string;
  readonly parse: 'ok' | string;
  readonly udp: WireExpectation;
  readonly tcp: WireExpectation;
  /** Bytes to append on a stream (the archive's baddn.dat has no blank line after its headers). */
  readonly streamSuffix?: string;
}

const processed = { kind: 'processed' } as const;
const dropped = { kind: 'dropped' } as const;
const closed = { kind: 'closed' } as const;
const refused = (status: number): WireExpectation => ({ kind: 'refused', status });

export const RFC4475: readonly TortureCase[] = [
  // §3.1.1 Valid messages: every element must accept them.
  { name: 'wsinv', section: '3.1.1.1', title: 'A Short Tortuous INVITE', rfc: 'well formed: folding, LWS, leading zeros in Max-Forwards and CSeq; proxies forward unknown headers unchanged', parse: 'ok', udp: processed, tcp: processed },
  { name: 'intmeth', section: '3.1.1.2', title: 'Wide Range of Valid Characters', rfc: 'well formed: unknown method, quoted-pairs of NUL/BEL/DEL in To; a proxy forwards it or answers 404', parse: 'ok', udp: processed, tcp: processed },
  { name: 'esc01', section: '3.1.1.3', title: 'Valid Use of the % Escaping Mechanism', rfc: 'a parser must accept it', parse: 'ok', udp: processed, tcp: processed },
  { name: 'escnull', section: '3.1.1.4', title: 'Escaped Nulls in URIs', rfc: 'well formed; parsers must accept it', parse: 'ok', udp: processed, tcp: processed },
  { name: 'esc02', section: '3.1.1.5', title: 'Use of % When It Is Not an Escape', rfc: 'well formed; a proxy forwards or rejects it by what the Request-URI means to it', parse: 'ok', udp: processed, tcp: processed },
  { name: 'lwsdisp', section: '3.1.1.6', title: 'Message with No LWS between Display Name and <', rfc: 'elements should accept it as well formed', parse: 'ok', udp: processed, tcp: processed },
  { name: 'longreq', section: '3.1.1.7', title: 'Long Values in Header Fields', rfc: 'well formed: long values, 34 Via values', parse: 'ok', udp: processed, tcp: processed },
  { name: 'dblreq', section: '3.1.1.8', title: 'Extra Trailing Octets in a UDP Datagram', rfc: 'handle the REGISTER, ignore the INVITE-looking octets after it (UDP). On a stream they are the next message, whose body is 155 octets against Content-Length 150: the 5 left over lose the framing', parse: 'ok', udp: processed, tcp: closed },
  { name: 'semiuri', section: '3.1.1.9', title: 'Semicolon-Separated Parameters in URI User Part', rfc: 'accept as well formed', parse: 'ok', udp: processed, tcp: processed },
  { name: 'transports', section: '3.1.1.10', title: 'Varied and Unknown Transport Types', rfc: 'parsers must accept it', parse: 'ok', udp: processed, tcp: processed },
  { name: 'mpart01', section: '3.1.1.11', title: 'Multipart MIME Message', rfc: 'parsers must accept it; the binary part holds NULs', parse: 'ok', udp: processed, tcp: processed },
  { name: 'unreason', section: '3.1.1.12', title: 'Unusual Reason Phrase', rfc: 'a parser must accept this response (here: a stray response, dropped by the proxy, not as malformed)', parse: 'ok', udp: dropped, tcp: dropped },
  { name: 'noreason', section: '3.1.1.13', title: 'Empty Reason Phrase', rfc: 'a parser must accept this response', parse: 'ok', udp: dropped, tcp: dropped },
  // §3.1.2 Invalid messages.
  { name: 'badinv01', section: '3.1.2.1', title: 'Extraneous Header Field Separators', rfc: 'respond 400', parse: 'SIPS_ERR_PARSE_VIA', udp: refused(400), tcp: refused(400) },
  { name: 'clerr', section: '3.1.2.2', title: 'Content Length Larger Than Message', rfc: 'UDP: respond 400; stream: wait for more data, close if none comes', parse: 'SIPS_ERR_PARSE_BODY_SHORT', udp: refused(400), tcp: { kind: 'waits' } },
  { name: 'ncl', section: '3.1.2.3', title: 'Negative Content-Length', rfc: 'respond with an error (UDP); on TCP the framing error is not recoverable: close the connection', parse: 'SIPS_ERR_PARSE_CONTENT_LENGTH', udp: refused(400), tcp: closed },
  { name: 'scalar02', section: '3.1.2.4', title: 'Request Scalar Fields with Overlarge Values', rfc: 'respond 400 (the CSeq)', parse: 'SIPS_ERR_PARSE_CSEQ', udp: refused(400), tcp: refused(400) },
  { name: 'scalarlg', section: '3.1.2.5', title: 'Response Scalar Fields with Overlarge Values', rfc: 'discard the response', parse: 'SIPS_ERR_PARSE_CSEQ', udp: dropped, tcp: dropped },
  { name: 'quotbal', section: '3.1.2.6', title: 'Unterminated Quoted String in Display Name', rfc: 'respond 400', parse: 'SIPS_ERR_PARSE_NAME_ADDR', udp: refused(400), tcp: refused(400) },
  { name: 'ltgtruri', section: '3.1.2.7', title: '<> Enclosing Request-URI', rfc: 'reasonable to reject with 400', parse: 'SIPS_ERR_PARSE_URI', udp: refused(400), tcp: refused(400) },
  { name: 'lwsruri', section: '3.1.2.8', title: 'Malformed SIP Request-URI (embedded LWS)', rfc: 'respond 400', parse: 'SIPS_ERR_PARSE_START_LINE', udp: refused(400), tcp: refused(400) },
  { name: 'lwsstart', section: '3.1.2.9', title: 'Multiple SP Separating Request-Line Elements', rfc: 'acceptable to reject as malformed (400)', parse: 'SIPS_ERR_PARSE_START_LINE', udp: refused(400), tcp: refused(400) },
  { name: 'trws', section: '3.1.2.10', title: 'SP Characters at End of Request-Line', rfc: 'acceptable to reject as malformed (400)', parse: 'SIPS_ERR_PARSE_START_LINE', udp: refused(400), tcp: refused(400) },
  { name: 'escruri', section: '3.1.2.11', title: 'Escaped Headers in SIP Request-URI', rfc: 'acceptable to reject with 400; a proxy must never forward the headers', parse: 'SIPS_ERR_PARSE_URI', udp: refused(400), tcp: refused(400) },
  { name: 'baddate', section: '3.1.2.12', title: 'Invalid Time Zone in Date Header Field', rfc: 'should not be rejected unless the Date matters to the element (it does not to a proxy)', parse: 'ok', udp: processed, tcp: processed },
  { name: 'regbadct', section: '3.1.2.13', title: 'Failure to Enclose name-addr URI in <>', rfc: 'reasonable to respond 400 (a liberal element may infer the brackets)', parse: 'SIPS_ERR_PARSE_NAME_ADDR', udp: refused(400), tcp: refused(400) },
  { name: 'badaspec', section: '3.1.2.14', title: 'Spaces within addr-spec', rfc: 'reasonable to reject with 400', parse: 'SIPS_ERR_PARSE_URI', udp: refused(400), tcp: refused(400) },
  { name: 'baddn', section: '3.1.2.15', title: 'Non-token Characters in Display Name', rfc: 'reasonable always to reject with 400', parse: 'SIPS_ERR_PARSE_NAME_ADDR', udp: refused(400), tcp: refused(400), streamSuffix: '\r\n' },
  { name: 'badvers', section: '3.1.2.16', title: 'Unknown Protocol Version', rfc: 'respond 505', parse: 'SIPS_ERR_PARSE_VERSION', udp: refused(505), tcp: refused(505) },
  { name: 'mismatch01', section: '3.1.2.17', title: 'Start Line and CSeq Method Mismatch', rfc: 'respond 400', parse: 'SIPS_ERR_PARSE_CSEQ_METHOD', udp: refused(400), tcp: refused(400) },
  { name: 'mismatch02', section: '3.1.2.18', title: 'Unknown Method with CSeq Method Mismatch', rfc: '501 preferred, 400 acceptable', parse: 'SIPS_ERR_PARSE_CSEQ_METHOD', udp: refused(400), tcp: refused(400) },
  { name: 'bigcode', section: '3.1.2.19', title: 'Overlarge Response Code', rfc: 'drop the response', parse: 'SIPS_ERR_PARSE_STATUS', udp: dropped, tcp: dropped },
  // §3.2 Transaction layer semantics.
  { name: 'badbranch', section: '3.2.1', title: 'Missing Transaction Identifier', rfc: 'a parser must not break; reject with 400 or fall back to RFC 2543 matching', parse: 'ok', udp: processed, tcp: processed },
  // §3.3 Application-layer semantics: all parse; the answer comes from above the parser.
  { name: 'insuf', section: '3.3.1', title: 'Missing Required Header Fields', rfc: 'must not break; ideally respond 400', parse: 'SIPS_ERR_PARSE_MISSING_HEADER', udp: refused(400), tcp: refused(400) },
  { name: 'unkscm', section: '3.3.2', title: 'Request-URI with Unknown Scheme', rfc: 'reject with 416', parse: 'ok', udp: refused(416), tcp: refused(416) },
  { name: 'novelsc', section: '3.3.3', title: 'Request-URI with Known but Atypical Scheme', rfc: 'parse; an element that never accepts the scheme answers 416', parse: 'ok', udp: refused(416), tcp: refused(416) },
  { name: 'unksm2', section: '3.3.4', title: 'Unknown URI Schemes in Header Fields', rfc: 'syntactically valid; proxies treat it as any other request', parse: 'ok', udp: processed, tcp: processed },
  { name: 'bext01', section: '3.3.5', title: 'Proxy-Require and Require', rfc: 'respond 420 with Unsupported (a proxy: the Proxy-Require values)', parse: 'ok', udp: refused(420), tcp: refused(420) },
  { name: 'invut', section: '3.3.6', title: 'Unknown Content-Type', rfc: 'a proxy processes it like any other INVITE', parse: 'ok', udp: processed, tcp: processed },
  { name: 'regaut01', section: '3.3.7', title: 'Unknown Authorization Scheme', rfc: 'a proxy treats it as any other REGISTER', parse: 'ok', udp: processed, tcp: processed },
  { name: 'multi01', section: '3.3.8', title: 'Multiple Values in Single Value Required Fields', rfc: 'must not break; respond 400', parse: 'SIPS_ERR_PARSE_DUPLICATE_HEADER', udp: refused(400), tcp: refused(400) },
  { name: 'mcl01', section: '3.3.9', title: 'Multiple Content-Length Values', rfc: 'respond with an error (UDP); on TCP close the connection', parse: 'SIPS_ERR_PARSE_DUPLICATE_HEADER', udp: refused(400), tcp: closed },
  { name: 'bcast', section: '3.3.10', title: '200 OK Response with Broadcast Via Header Field Value', rfc: 'parse; proxies should drop such responses', parse: 'ok', udp: dropped, tcp: dropped },
  { name: 'zeromf', section: '3.3.11', title: 'Max-Forwards of Zero', rfc: 'a proxy must not forward it: 483', parse: 'ok', udp: refused(483), tcp: refused(483) },
  { name: 'cparam01', section: '3.3.12', title: 'REGISTER with a Contact Header Parameter', rfc: 'well formed; must succeed', parse: 'ok', udp: processed, tcp: processed },
  { name: 'cparam02', section: '3.3.13', title: 'REGISTER with a url-parameter', rfc: 'well formed; must succeed', parse: 'ok', udp: processed, tcp: processed },
  { name: 'regescrt', section: '3.3.14', title: 'REGISTER with a URL Escaped Header', rfc: 'the registrar must accept it', parse: 'ok', udp: processed, tcp: processed },
  { name: 'sdp01', section: '3.3.15', title: 'Unacceptable Accept Offering', rfc: 'an endpoint answers 406/415; a proxy forwards it', parse: 'ok', udp: processed, tcp: processed },
  // §3.4 Backward compatibility.
  { name: 'inv2543', section: '3.4.1', title: 'INVITE with RFC 2543 Syntax', rfc: 'accept (no branch, no From tag, no Content-Length, no Max-Forwards); on a stream no Content-Length loses the framing', parse: 'ok', udp: processed, tcp: closed },
];

export function tortureBytes(name: string): Buffer {
  return readFileSync(join(FIXTURES, 'rfc4475', `${name}.sip`));
}
