/**
 * The parts of an X.509 certificate (RFC 5280 §4.1) that judging a SIP peer needs and that Node's
 * X509Certificate does not give as data: the raw issuer Name (to match a CRL, RFC 5280 §5.1.2.3),
 * the serial, SubjectAltName entries by type (RFC 5280 §4.2.1.6; Node gives a display string),
 * whether the SAN extension is present at all (RFC 5922 §7.1), the subject CNs, and the CRL
 * distribution points (RFC 5280 §4.2.1.13).
 */
import { isIP } from 'node:net';
import { SipsError } from '../errors.js';
import { children, decodeOid, expectTag, readTlv, serialHex, TAG, value, whole, type Tlv } from './der.js';

export type GeneralName =
  | { readonly type: 'dns'; readonly value: string }
  | { readonly type: 'uri'; readonly value: string }
  | { readonly type: 'ip'; readonly value: string }
  | { readonly type: 'other'; readonly tag: number };

export interface CertParts {
  readonly serial: string;
  readonly issuerDer: Buffer;
  readonly subjectDer: Buffer;
  /** undefined when the certificate has no subjectAltName extension at all. */
  readonly subjectAltNames: readonly GeneralName[] | undefined;
  readonly commonNames: readonly string[];
  readonly crlDistributionPoints: readonly string[];
}

const OID_SAN = '2.5.29.17';
const OID_CRLDP = '2.5.29.31';
const OID_CN = '2.5.4.3';

const parsed = new WeakMap<Buffer, CertParts>();

/** Parses a certificate's DER (e.g. `X509Certificate.raw`). Throws SipsError on malformed DER. */
export function certParts(der: Buffer): CertParts {
  const hit = parsed.get(der);
  if (hit) return hit;
  try {
    const out = parseCert(der);
    parsed.set(der, out);
    return out;
  } catch (e) {
    throw e instanceof SipsError ? e : new SipsError('SIPS_ERR_TLS_DER', `malformed certificate: ${(e as Error).message}`, { cause: e });
  }
}

function parseCert(der: Buffer): CertParts {
  const cert = expectTag(readTlv(der, 0), TAG.SEQUENCE, 'Certificate');
  const tbs = expectTag(children(der, cert)[0], TAG.SEQUENCE, 'TBSCertificate');
  const f = children(der, tbs);
  let i = 0;
  if (f[0]?.tag === 0xa0) i++; // [0] EXPLICIT version
  const serial = expectTag(f[i], TAG.INTEGER, 'serialNumber');
  const issuer = expectTag(f[i + 2], TAG.SEQUENCE, 'issuer');
  const subject = expectTag(f[i + 4], TAG.SEQUENCE, 'subject');
  let san: GeneralName[] | undefined;
  let crlDp: string[] = [];
  const extWrap = f.slice(i + 6).find((t) => t.tag === 0xa3); // [3] EXPLICIT Extensions
  if (extWrap) {
    const exts = expectTag(children(der, extWrap)[0], TAG.SEQUENCE, 'Extensions');
    for (const ext of children(der, exts)) {
      const parts = children(der, ext);
      const oid = decodeOid(value(der, expectTag(parts[0], TAG.OID, 'extnID')));
      const octets = expectTag(parts[parts.length - 1], TAG.OCTET_STRING, 'extnValue');
      if (oid === OID_SAN) san = parseGeneralNames(der, readTlv(der, octets.valueStart, octets.end));
      else if (oid === OID_CRLDP) crlDp = parseCrlDp(der, readTlv(der, octets.valueStart, octets.end));
    }
  }
  const out: CertParts = {
    serial: serialHex(value(der, serial)),
    issuerDer: whole(der, issuer),
    subjectDer: whole(der, subject),
    subjectAltNames: san,
    commonNames: nameAttributes(der, subject, OID_CN),
    crlDistributionPoints: crlDp,
  };
  return out;
}

/** GeneralNames ::= SEQUENCE OF GeneralName (RFC 5280 §4.2.1.6), implicit context tags. */
function parseGeneralNames(der: Buffer, seq: Tlv): GeneralName[] {
  const out: GeneralName[] = [];
  for (const gn of children(der, seq)) {
    const v = value(der, gn);
    switch (gn.tag) {
      case 0x82:
        out.push({ type: 'dns', value: v.toString('latin1') });
        break;
      case 0x86:
        out.push({ type: 'uri', value: v.toString('latin1') });
        break;
      case 0x87:
        out.push({ type: 'ip', value: ipToString(v) });
        break;
      default:
        out.push({ type: 'other', tag: gn.tag });
    }
  }
  return out;
}

function ipToString(b: Buffer): string {
  if (b.length === 4) return Array.from(b).join('.');
  if (b.length === 16) {
    const groups: string[] = [];
    for (let i = 0; i < 16; i += 2) groups.push(b.readUInt16BE(i).toString(16));
    return groups.join(':');
  }
  return `invalid:${b.toString('hex')}`;
}

/** CRLDistributionPoints: fullName URIs only (RFC 5280 §4.2.1.13). */
function parseCrlDp(der: Buffer, seq: Tlv): string[] {
  const urls: string[] = [];
  for (const dp of children(der, seq)) {
    const dpName = children(der, dp).find((t) => t.tag === 0xa0);
    if (!dpName) continue;
    const fullName = children(der, dpName).find((t) => t.tag === 0xa0);
    if (!fullName) continue; // nameRelativeToCRLIssuer: not supported
    for (const gn of parseGeneralNames(der, fullName)) if (gn.type === 'uri') urls.push(gn.value);
  }
  return urls;
}

/** Values of one attribute type in a Name (RDNSequence), decoded as UTF-8. */
function nameAttributes(der: Buffer, name: Tlv, oid: string): string[] {
  const out: string[] = [];
  for (const rdn of children(der, name)) {
    for (const atv of children(der, rdn)) {
      const [t, v] = children(der, atv);
      if (t && v && t.tag === TAG.OID && decodeOid(value(der, t)) === oid) out.push(value(der, v).toString('utf8'));
    }
  }
  return out;
}

/** True for an IPv4 or IPv6 literal, with or without [brackets]. */
export function isIpLiteral(host: string): boolean {
  const h = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  return isIP(h) !== 0;
}
