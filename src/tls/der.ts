/**
 * A minimal DER reader (X.690 §8, §10) over Buffers: enough to read the parts of X.509 certificates
 * (RFC 5280 §4.1) and CRLs (RFC 5280 §5.1) that Node's X509Certificate does not expose: raw issuer
 * Name, SubjectAltName entries, CRL distribution points, revoked serials. Views, not copies; no
 * re-encoding, so signed bytes (`tbs`) are verified exactly as received.
 *
 * Also: PEM/DER detection by content (S-TRUST-3).
 */
import { SipsError } from '../errors.js';

export interface Tlv {
  /** Identifier octet (class | constructed | tag number < 31). */
  readonly tag: number;
  /** Offset of the identifier octet. */
  readonly start: number;
  readonly valueStart: number;
  /** Offset just past the value. */
  readonly end: number;
}

export const TAG = {
  BOOLEAN: 0x01,
  INTEGER: 0x02,
  BIT_STRING: 0x03,
  OCTET_STRING: 0x04,
  OID: 0x06,
  UTF8String: 0x0c,
  PrintableString: 0x13,
  IA5String: 0x16,
  UTCTime: 0x17,
  GeneralizedTime: 0x18,
  SEQUENCE: 0x30,
  SET: 0x31,
} as const;

function derError(what: string): SipsError {
  return new SipsError('SIPS_ERR_TLS_DER', `malformed DER: ${what}`);
}

/** Reads one TLV at `offset`, bounded by `limit`. Throws SipsError on malformed input. */
export function readTlv(buf: Uint8Array, offset: number, limit = buf.length): Tlv {
  if (offset + 2 > limit) throw derError('truncated header');
  const tag = buf[offset]!;
  if ((tag & 0x1f) === 0x1f) throw derError('high tag numbers are not used here');
  let len = buf[offset + 1]!;
  let p = offset + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0) throw derError('indefinite length is not DER');
    if (n > 4 || p + n > limit) throw derError('length too long');
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + buf[p + i]!;
    p += n;
  }
  if (p + len > limit) throw derError('value past end');
  return { tag, start: offset, valueStart: p, end: p + len };
}

/** The TLVs directly inside a constructed TLV. */
export function children(buf: Uint8Array, parent: Tlv): Tlv[] {
  const out: Tlv[] = [];
  let p = parent.valueStart;
  while (p < parent.end) {
    const t = readTlv(buf, p, parent.end);
    out.push(t);
    p = t.end;
  }
  return out;
}

export function value(buf: Buffer, t: Tlv): Buffer {
  return buf.subarray(t.valueStart, t.end);
}

export function whole(buf: Buffer, t: Tlv): Buffer {
  return buf.subarray(t.start, t.end);
}

export function expectTag(t: Tlv | undefined, tag: number, what: string): Tlv {
  if (!t || t.tag !== tag) throw derError(`expected ${what}`);
  return t;
}

export function decodeOid(bytes: Uint8Array): string {
  if (bytes.length === 0) throw derError('empty OID');
  const first = bytes[0]!;
  const parts: number[] = [first < 80 ? Math.floor(first / 40) : 2, first < 80 ? first % 40 : first - 80];
  let acc = 0;
  for (let i = 1; i < bytes.length; i++) {
    const b = bytes[i]!;
    acc = acc * 128 + (b & 0x7f);
    if (!(b & 0x80)) {
      parts.push(acc);
      acc = 0;
    }
  }
  return parts.join('.');
}

/** RFC 5280 §4.1.2.5.1 (UTCTime, YY >= 50 is 19YY) and §4.1.2.5.2 (GeneralizedTime), Zulu only. */
export function decodeTime(buf: Buffer, t: Tlv): Date {
  const s = value(buf, t).toString('latin1');
  let m: RegExpExecArray | null;
  if (t.tag === TAG.UTCTime && (m = /^(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)Z$/.exec(s))) {
    const yy = Number(m[1]);
    return new Date(Date.UTC(yy >= 50 ? 1900 + yy : 2000 + yy, Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6])));
  }
  if (t.tag === TAG.GeneralizedTime && (m = /^(\d{4})(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)Z$/.exec(s))) {
    return new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6])));
  }
  throw derError(`time ${JSON.stringify(s)}`);
}

/** INTEGER content as lowercase hex without sign-padding zero octets: how serials are compared. */
export function serialHex(bytes: Uint8Array): string {
  let i = 0;
  while (i < bytes.length - 1 && bytes[i] === 0) i++;
  return Buffer.from(bytes.subarray(i)).toString('hex');
}

// ---- PEM / DER by content (S-TRUST-3) ----

export interface DerObject {
  readonly label: string;
  readonly der: Buffer;
}

const PEM_RE = /-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END \1-----/g;

/**
 * Splits a file's bytes into DER objects. A file that starts with a SEQUENCE octet is one DER object
 * (binary, "Java systems"); otherwise every PEM block is taken ("Unix systems"). Label is the PEM
 * label, or 'DER'.
 */
export function decodePemOrDer(data: Buffer): DerObject[] {
  if (data.length > 0 && data[0] === TAG.SEQUENCE) {
    const t = readTlv(data, 0);
    return [{ label: 'DER', der: data.subarray(0, t.end) }];
  }
  const text = data.toString('latin1');
  const out: DerObject[] = [];
  for (const m of text.matchAll(PEM_RE)) {
    out.push({ label: m[1]!, der: Buffer.from(m[2]!.replace(/[^A-Za-z0-9+/=]/g, ''), 'base64') });
  }
  return out;
}

export function toPem(label: string, der: Uint8Array): string {
  const b64 = Buffer.from(der).toString('base64');
  const lines = b64.match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}
