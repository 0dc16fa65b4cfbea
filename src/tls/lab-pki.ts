/**
 * The lab PKI: stand-ins for the vendor's CAs and proxies, the edge's own certificate, and one
 * certificate per way a peer can fail validation (S-VAL-*). The only importer of node-forge.
 *
 * Roots: "Lab EV Root" and "Lab G2 Root" (RSA, standing in for DigiCert EV and G2, S-TRUST-2), one
 * intermediate under each (S-TRUST-5). Region i's proxies lb01..lb04.voice.<region>.pure.cloud chain
 * to root i mod 2. Negative leaves are issued by the EV intermediate for lb01 of the first region.
 * RSA 2048, SHA-256. With a seed, output is byte-for-byte reproducible (seeded PRNG, serials derived
 * from the seed, dates from a fixed base); without one, keys come from node:crypto (fast).
 */
import { createHash, generateKeyPairSync, randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import forge from 'node-forge';

export const DEFAULT_LAB_REGIONS = ['euc1', 'usw2'] as const;
/** The edge's own lab name: under .test (RFC 2606), so it can never collide with a real host. */
export const DEFAULT_EDGE_NAME = 'edge.lab.sips-edge.test';
/** Lab CRL distribution points live under this base; the revocation fetcher maps it with urlOverrides. */
export const DEFAULT_CRL_BASE_URL = 'http://crl.lab.sips-edge.test';
/** Fixed base date of seeded runs. */
export const SEEDED_BASE = new Date('2025-01-01T00:00:00Z');

export const NEGATIVE_CASES = {
  expired: 'expired',
  'not-yet-valid': 'not-yet-valid',
  'wrong-name': 'name-mismatch',
  wildcard: 'wildcard',
  'ip-san': 'ip-address',
  'cn-only': 'ok', // RFC 5922 §7.1: no SAN extension at all, so the CN counts
  'sip-uri': 'ok', // SAN URI:sip:<host> only
  'sip-uri-user': 'name-mismatch', // SAN URI:sip:user@<host> only: a user part is not a domain identity
  revoked: 'revoked',
  'incomplete-chain': 'incomplete-chain', // leaf only, intermediate not sent
  'self-signed': 'untrusted-root',
} as const;
export type NegativeCase = keyof typeof NEGATIVE_CASES;

export interface LabPkiOptions {
  readonly outDir: string;
  readonly seed?: number | string;
  readonly regions?: readonly string[];
  readonly edgeName?: string;
  readonly crlBaseUrl?: string;
}

export interface LabLeaf {
  /** leaf + intermediate (PEM), or the leaf only for incomplete-chain */
  readonly chain: string;
  readonly key: string;
  /** the host name a client connects to */
  readonly host: string;
}

export interface ManifestEntry {
  readonly file: string;
  readonly purpose: string;
}

export interface LabPki {
  readonly outDir: string;
  readonly roots: { readonly ev: string; readonly g2: string; readonly evDer: string };
  readonly intermediates: { readonly ev: string; readonly g2: string };
  readonly vendor: Readonly<Record<string, LabLeaf & { readonly root: 'ev' | 'g2' }>>;
  readonly edge: LabLeaf;
  readonly negative: Readonly<Record<NegativeCase, LabLeaf & { readonly expect: string }>>;
  readonly crls: { readonly ev: { readonly pem: string; readonly der: string; readonly url: string }; readonly g2: { readonly pem: string; readonly url: string } };
  readonly revokedSerial: string;
  readonly manifest: readonly ManifestEntry[];
}

type Key = { priv: forge.pki.rsa.PrivateKey; pub: forge.pki.rsa.PublicKey };
type AltName = { type: 2 | 6; value: string } | { type: 7; ip: string };

const DAY = 86_400_000;
const YEAR = 365 * DAY;

class Lab {
  private readonly prng: forge.random.Random | undefined;
  private serialCount = 0;
  readonly base: Date;
  readonly manifest: ManifestEntry[] = [];

  constructor(readonly out: string, readonly seed: string | undefined) {
    this.base = seed === undefined ? new Date(Math.floor(Date.now() / 1000) * 1000) : SEEDED_BASE;
    if (seed !== undefined) {
      const prng = forge.random.createInstance();
      let n = 0;
      prng.seedFileSync = (needed: number): string => {
        let s = '';
        while (s.length < needed) s += createHash('sha256').update(`sips-edge-lab:${seed}:${n++}`).digest('binary');
        return s.slice(0, needed);
      };
      this.prng = prng;
    }
  }

  at(offsetMs: number): Date {
    return new Date(this.base.getTime() + offsetMs);
  }

  key(): Key {
    if (this.prng) {
      const kp = forge.pki.rsa.generateKeyPair({ bits: 2048, e: 0x10001, prng: this.prng });
      return { priv: kp.privateKey, pub: kp.publicKey };
    }
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048, publicExponent: 0x10001 });
    const priv = forge.pki.privateKeyFromPem(privateKey.export({ format: 'pem', type: 'pkcs1' }).toString()) as forge.pki.rsa.PrivateKey;
    return { priv, pub: forge.pki.setRsaPublicKey(priv.n, priv.e) };
  }

  /** Positive 128-bit serial (RFC 5280 §4.1.2.2: at most 20 octets, positive). */
  serial(label: string): string {
    const b = this.seed === undefined ? randomBytes(16) : createHash('sha256').update(`serial:${this.seed}:${this.serialCount++}:${label}`).digest().subarray(0, 16);
    b[0] = (b[0]! & 0x7f) | 0x10;
    return b.toString('hex');
  }

  write(rel: string, data: string | Buffer, purpose: string, secret = false): string {
    const path = join(this.out, rel);
    mkdirSync(join(path, '..'), { recursive: true });
    writeFileSync(path, data, secret ? { mode: 0o600 } : {});
    if (secret) chmodSync(path, 0o600);
    this.manifest.push({ file: rel, purpose });
    return path;
  }

  writeKey(rel: string, k: Key, purpose: string): string {
    return this.write(rel, forge.pki.privateKeyToPem(k.priv), purpose, true);
  }
}

interface CertSpec {
  readonly cn: string;
  readonly key: Key;
  readonly issuer?: { readonly cert: forge.pki.Certificate; readonly key: Key };
  readonly ca: boolean;
  readonly from: Date;
  readonly to: Date;
  readonly altNames?: readonly AltName[];
  readonly crlUrl?: string;
  readonly serial: string;
}

function skid(pub: forge.pki.rsa.PublicKey): string {
  return forge.pki.getPublicKeyFingerprint(pub, { type: 'RSAPublicKey' }).getBytes();
}

function makeCert(s: CertSpec): forge.pki.Certificate {
  const c = forge.pki.createCertificate();
  c.publicKey = s.key.pub;
  c.serialNumber = s.serial;
  c.validity.notBefore = s.from;
  c.validity.notAfter = s.to;
  const subject = [{ name: 'commonName', value: s.cn }, { name: 'organizationName', value: 'sips-edge lab' }];
  c.setSubject(subject);
  c.setIssuer(s.issuer ? s.issuer.cert.subject.attributes : subject);
  const signer = s.issuer?.key ?? s.key;
  const ext: object[] = [
    { name: 'basicConstraints', cA: s.ca, critical: true },
    s.ca
      ? { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true }
      : { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    { name: 'subjectKeyIdentifier' },
    { name: 'authorityKeyIdentifier', keyIdentifier: skid(signer.pub) },
  ];
  if (!s.ca) ext.push({ name: 'extKeyUsage', serverAuth: true, clientAuth: true });
  if (s.altNames) ext.push({ name: 'subjectAltName', altNames: s.altNames });
  if (s.crlUrl) ext.push({ name: 'cRLDistributionPoints', altNames: [{ type: 6, value: s.crlUrl }] });
  c.setExtensions(ext);
  c.sign(signer.priv, forge.md.sha256.create());
  return c;
}

/** A v2 CRL (RFC 5280 §5.1) signed by `issuer` with SHA-256; forge has no CRL writer. */
export function buildCrl(
  issuer: { readonly cert: forge.pki.Certificate; readonly key: Key },
  revoked: readonly { readonly serial: string; readonly at: Date }[],
  thisUpdate: Date,
  nextUpdate: Date,
  crlNumber = 1,
): Buffer {
  const a = forge.asn1;
  const U = a.Class.UNIVERSAL;
  const T = a.Type;
  const time = (d: Date) => a.create(U, T.UTCTIME, false, a.dateToUtcTime(d));
  const alg = () => a.create(U, T.SEQUENCE, true, [a.create(U, T.OID, false, a.oidToDer(forge.pki.oids['sha256WithRSAEncryption']!).getBytes()), a.create(U, T.NULL, false, '')]);
  const int = (hex: string) => a.create(U, T.INTEGER, false, forge.util.hexToBytes(hex));
  const tbsParts = [a.create(U, T.INTEGER, false, a.integerToDer(1).getBytes()), alg(), forge.pki.distinguishedNameToAsn1(issuer.cert.subject), time(thisUpdate), time(nextUpdate)];
  if (revoked.length) tbsParts.push(a.create(U, T.SEQUENCE, true, revoked.map((r) => a.create(U, T.SEQUENCE, true, [int(r.serial), time(r.at)]))));
  const crlNumberExt = a.create(U, T.SEQUENCE, true, [
    a.create(U, T.OID, false, a.oidToDer('2.5.29.20').getBytes()),
    a.create(U, T.OCTETSTRING, false, a.toDer(a.create(U, T.INTEGER, false, a.integerToDer(crlNumber).getBytes())).getBytes()),
  ]);
  tbsParts.push(a.create(a.Class.CONTEXT_SPECIFIC, 0, true, [a.create(U, T.SEQUENCE, true, [crlNumberExt])]));
  const tbs = a.create(U, T.SEQUENCE, true, tbsParts);
  const md = forge.md.sha256.create();
  md.update(a.toDer(tbs).getBytes());
  const sig = issuer.key.priv.sign(md);
  const crl = a.create(U, T.SEQUENCE, true, [tbs, alg(), a.create(U, T.BITSTRING, false, String.fromCharCode(0) + sig)]);
  return Buffer.from(a.toDer(crl).getBytes(), 'binary');
}

const pem = (c: forge.pki.Certificate): string => forge.pki.certificateToPem(c).replace(/\r\n/g, '\n');
const der = (c: forge.pki.Certificate): Buffer => Buffer.from(forge.asn1.toDer(forge.pki.certificateToAsn1(c)).getBytes(), 'binary');
const crlPem = (d: Buffer): string => `-----BEGIN X509 CRL-----\n${(d.toString('base64').match(/.{1,64}/g) ?? []).join('\n')}\n-----END X509 CRL-----\n`;

/** Generates the lab PKI into opts.outDir (created). Six RSA keys in all; ~0.1 s unseeded, a few s seeded. */
export function generateLabPki(opts: LabPkiOptions): LabPki {
  const regions = opts.regions && opts.regions.length ? [...opts.regions] : [...DEFAULT_LAB_REGIONS];
  const edgeName = opts.edgeName ?? DEFAULT_EDGE_NAME;
  const crlBase = (opts.crlBaseUrl ?? DEFAULT_CRL_BASE_URL).replace(/\/+$/, '');
  const lab = new Lab(opts.outDir, opts.seed === undefined ? undefined : String(opts.seed));
  mkdirSync(opts.outDir, { recursive: true });
  const crlUrl = { ev: `${crlBase}/lab-ev-int.crl`, g2: `${crlBase}/lab-g2-int.crl` };

  const rootKey = { ev: lab.key(), g2: lab.key() };
  const intKey = { ev: lab.key(), g2: lab.key() };
  const vendorKey = lab.key();
  const edgeKey = lab.key();
  const negKey = vendorKey; // negative leaves need no key of their own: validity, not key secrecy, is under test

  const root = {
    ev: makeCert({ cn: 'Lab EV Root', key: rootKey.ev, ca: true, from: lab.at(-2 * DAY), to: lab.at(22 * YEAR), serial: lab.serial('root-ev') }),
    g2: makeCert({ cn: 'Lab G2 Root', key: rootKey.g2, ca: true, from: lab.at(-2 * DAY), to: lab.at(22 * YEAR), serial: lab.serial('root-g2') }),
  };
  const int = {
    ev: makeCert({ cn: 'Lab EV Intermediate', key: intKey.ev, issuer: { cert: root.ev, key: rootKey.ev }, ca: true, from: lab.at(-2 * DAY), to: lab.at(21 * YEAR), serial: lab.serial('int-ev') }),
    g2: makeCert({ cn: 'Lab G2 Intermediate', key: intKey.g2, issuer: { cert: root.g2, key: rootKey.g2 }, ca: true, from: lab.at(-2 * DAY), to: lab.at(21 * YEAR), serial: lab.serial('int-g2') }),
  };
  const issuerOf = (r: 'ev' | 'g2') => ({ cert: int[r], key: intKey[r] });

  const roots = {
    ev: lab.write('roots/lab-ev-root.pem', pem(root.ev), 'trust anchor standing in for DigiCert High Assurance EV Root CA (PEM)'),
    g2: lab.write('roots/lab-g2-root.pem', pem(root.g2), 'trust anchor standing in for DigiCert Global Root G2 (PEM)'),
    evDer: lab.write('roots/lab-ev-root.der', der(root.ev), 'the EV lab root as DER (S-TRUST-3)'),
  };
  const intermediates = {
    ev: lab.write('intermediates/lab-ev-int.pem', pem(int.ev), 'intermediate under Lab EV Root; issues euc1-style leaves and all negative cases'),
    g2: lab.write('intermediates/lab-g2-int.pem', pem(int.g2), 'intermediate under Lab G2 Root'),
  };
  lab.writeKey('keys/vendor-leaf.key.pem', vendorKey, 'private key of every lab vendor leaf and of the negative cases');
  const vendorKeyPath = join(opts.outDir, 'keys/vendor-leaf.key.pem');

  const leaf = (cn: string, r: 'ev' | 'g2', extra: Partial<CertSpec> = {}): forge.pki.Certificate =>
    makeCert({ cn, key: negKey, issuer: issuerOf(r), ca: false, from: lab.at(-DAY), to: lab.at(20 * YEAR), altNames: [{ type: 2, value: cn }], crlUrl: crlUrl[r], serial: lab.serial(cn), ...extra });

  const vendor: Record<string, LabLeaf & { root: 'ev' | 'g2' }> = {};
  regions.forEach((region, i) => {
    const r = i % 2 === 0 ? 'ev' : 'g2';
    for (let n = 1; n <= 4; n++) {
      const host = `lb0${n}.voice.${region}.pure.cloud`;
      const chain = lab.write(`vendor/${host}.chain.pem`, pem(leaf(host, r)) + pem(int[r]), `vendor proxy ${host}: leaf + intermediate (Lab ${r.toUpperCase()})`);
      vendor[host] = { chain, key: vendorKeyPath, host, root: r };
    }
  });

  const edgeCert = makeCert({ cn: edgeName, key: edgeKey, issuer: issuerOf('ev'), ca: false, from: lab.at(-DAY), to: lab.at(20 * YEAR), altNames: [{ type: 2, value: edgeName }, { type: 6, value: `sip:${edgeName}` }], crlUrl: crlUrl.ev, serial: lab.serial('edge') });
  const edge = {
    chain: lab.write('edge/edge.chain.pem', pem(edgeCert) + pem(int.ev), `the edge's own certificate for ${edgeName}: leaf + intermediate`),
    key: lab.writeKey('edge/edge.key.pem', edgeKey, "the edge's private key"),
    host: edgeName,
  };

  const host = `lb01.voice.${regions[0]!}.pure.cloud`;
  const wild = `*.voice.${regions[0]!}.pure.cloud`;
  const certs: Record<NegativeCase, forge.pki.Certificate> = {
    expired: leaf(host, 'ev', { from: lab.at(-2 * YEAR), to: lab.at(-YEAR) }),
    'not-yet-valid': leaf(host, 'ev', { from: lab.at(21 * YEAR), to: lab.at(22 * YEAR) }),
    'wrong-name': leaf('sbc.wrong-name.lab.sips-edge.test', 'ev'),
    wildcard: leaf(wild, 'ev'),
    'ip-san': leaf('127.0.0.1', 'ev', { altNames: [{ type: 7, ip: '127.0.0.1' }] }),
    'cn-only': makeCert({ cn: host, key: negKey, issuer: issuerOf('ev'), ca: false, from: lab.at(-DAY), to: lab.at(20 * YEAR), crlUrl: crlUrl.ev, serial: lab.serial('cn-only') }),
    'sip-uri': leaf(host, 'ev', { altNames: [{ type: 6, value: `sip:${host}` }] }),
    'sip-uri-user': leaf(host, 'ev', { altNames: [{ type: 6, value: `sip:trunk@${host}` }] }),
    revoked: leaf(host, 'ev'),
    'incomplete-chain': leaf(host, 'ev'),
    'self-signed': makeCert({ cn: host, key: negKey, ca: false, from: lab.at(-DAY), to: lab.at(20 * YEAR), altNames: [{ type: 2, value: host }], serial: lab.serial('self') }),
  };
  const negative = {} as Record<NegativeCase, LabLeaf & { expect: string }>;
  for (const [name, cert] of Object.entries(certs) as [NegativeCase, forge.pki.Certificate][]) {
    const withInt = name !== 'incomplete-chain' && name !== 'self-signed';
    const chain = lab.write(`negative/${name}.chain.pem`, pem(cert) + (withInt ? pem(int.ev) : ''), `negative case ${name}: expect ${NEGATIVE_CASES[name]} when connecting to ${host}`);
    negative[name] = { chain, key: vendorKeyPath, host, expect: NEGATIVE_CASES[name] };
  }

  const revokedSerial = certs.revoked.serialNumber;
  const evCrl = buildCrl(issuerOf('ev'), [{ serial: revokedSerial, at: lab.at(-DAY / 2) }], lab.at(-DAY), lab.at(20 * YEAR));
  const g2Crl = buildCrl(issuerOf('g2'), [], lab.at(-DAY), lab.at(20 * YEAR));
  const crls = {
    ev: {
      pem: lab.write('crl/lab-ev-int.crl.pem', crlPem(evCrl), `CRL of the EV intermediate (PEM), revokes ${revokedSerial}; served at ${crlUrl.ev}`),
      der: lab.write('crl/lab-ev-int.crl', evCrl, 'the same CRL as DER, as an HTTP CRL distribution point serves it'),
      url: crlUrl.ev,
    },
    g2: { pem: lab.write('crl/lab-g2-int.crl.pem', crlPem(g2Crl), `CRL of the G2 intermediate (empty); served at ${crlUrl.g2}`), url: crlUrl.g2 },
  };
  lab.write('crl/lab-g2-int.crl', g2Crl, 'the G2 CRL as DER');
  lab.manifest.push({ file: 'manifest.json', purpose: 'this list' });
  const info = { generator: 'sips-edge certs lab', seed: opts.seed ?? null, base: lab.base.toISOString(), regions, edgeName, crlUrls: crlUrl, files: lab.manifest };
  writeFileSync(join(opts.outDir, 'manifest.json'), JSON.stringify(info, null, 2) + '\n');
  return { outDir: opts.outDir, roots, intermediates, vendor, edge, negative, crls, revokedSerial: revokedSerial.toLowerCase(), manifest: lab.manifest };
}

let scratchKey: Key | undefined;

/**
 * One self-signed leaf with exactly the names given, for identity tables in tests (RSA key made once
 * per process). `san` undefined: no subjectAltName extension at all.
 */
export function makeLabCertificate(opts: { readonly cn?: string; readonly san?: { readonly dns?: readonly string[]; readonly uri?: readonly string[]; readonly ip?: readonly string[] } }): string {
  scratchKey ??= new Lab('.', undefined).key();
  const now = Date.now();
  const altNames: AltName[] | undefined = opts.san && [
    ...(opts.san.dns ?? []).map((value) => ({ type: 2 as const, value })),
    ...(opts.san.uri ?? []).map((value) => ({ type: 6 as const, value })),
    ...(opts.san.ip ?? []).map((ip) => ({ type: 7 as const, ip })),
  ];
  return pem(
    makeCert({ cn: opts.cn ?? 'no-name.lab.sips-edge.test', key: scratchKey, ca: false, from: new Date(now - DAY), to: new Date(now + YEAR), serial: randomBytes(8).toString('hex').replace(/^./, '1'), ...(altNames ? { altNames } : {}) }),
  );
}
