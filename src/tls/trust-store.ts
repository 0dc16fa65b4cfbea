/**
 * Trust anchors per trunk. The vendor's side (S-TRUST-1/2): the three DigiCert roots shipped in
 * certs/ and pinned by SHA-256 fingerprint; never the system store, never a server certificate.
 * BYOC Premises (S-PREM-1): the organisation's private root(s) from files instead.
 * Files may be PEM or DER (S-TRUST-3), detected by content.
 */
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SipsError } from '../errors.js';
import { decodePemOrDer } from './der.js';

export interface VendorRoot {
  readonly file: string;
  readonly subjectCN: string;
  /** S-TRUST-2, as printed by the vendor and by `openssl x509 -fingerprint -sha256`. */
  readonly sha256: string;
}

/** S-TRUST-2: the pinned vendor roots. */
export const VENDOR_ROOTS = {
  'digicert-ev': {
    file: 'digicert-high-assurance-ev-root-ca.pem',
    subjectCN: 'DigiCert High Assurance EV Root CA',
    sha256: '74:31:E5:F4:C3:C1:CE:46:90:77:4F:0B:61:E0:54:40:88:3B:A9:A0:1E:D0:0B:A6:AB:D7:80:6E:D3:B1:18:CF',
  },
  'digicert-g2': {
    file: 'digicert-global-root-g2.pem',
    subjectCN: 'DigiCert Global Root G2',
    sha256: 'CB:3C:CB:B7:60:31:E5:E0:13:8F:8D:D3:9A:23:F9:DE:47:FF:C3:5E:43:C1:14:4C:EA:27:D4:6A:5A:B1:CB:5F',
  },
  'digicert-g3': {
    file: 'digicert-global-root-g3.pem',
    subjectCN: 'DigiCert Global Root G3',
    sha256: '31:AD:66:48:F8:10:41:38:C7:38:F3:9E:A4:32:01:33:39:3E:3A:18:CC:02:29:6E:F9:7C:2A:C9:EF:67:31:D0',
  },
} as const satisfies Record<string, VendorRoot>;

export type VendorRootName = keyof typeof VENDOR_ROOTS;

/** S-TRUST-2: EV regions are migrating to G2/G3, so they trust all three; the G2 regions trust G2 and G3. */
export const REGION_ROOTS_EV: readonly VendorRootName[] = ['digicert-ev', 'digicert-g2', 'digicert-g3'];
export const REGION_ROOTS_G2: readonly VendorRootName[] = ['digicert-g2', 'digicert-g3'];

export type TrustSpec =
  | { readonly roots: readonly VendorRootName[]; readonly certsDir?: string }
  | { readonly files: readonly string[] };

export interface TrustAnchors {
  readonly certs: readonly X509Certificate[];
  /** PEM text of every anchor: the `ca` option of a client context (and nothing else). */
  readonly pem: readonly string[];
  /** Where each anchor came from, for logs and `doctor`. */
  readonly sources: readonly string[];
}

/** certs/ at the package root (src/tls -> ../../certs; also right from dist/tls and .test-build/src/tls). */
export function defaultCertsDir(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  const up = here.includes(`${'.test-build'}`) ? join(here, '..', '..', '..') : join(here, '..', '..');
  return resolve(up, 'certs');
}

function readFile(path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (e) {
    throw new SipsError('SIPS_ERR_TLS_FILE', `${path}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`, { cause: e });
  }
}

/** Every certificate in a PEM or DER file (S-TRUST-3). Throws SipsError naming the file. */
export function loadCertificates(path: string): X509Certificate[] {
  const data = readFile(path);
  let objs;
  try {
    objs = decodePemOrDer(data).filter((o) => o.label === 'DER' || o.label === 'CERTIFICATE' || o.label === 'TRUSTED CERTIFICATE');
  } catch (e) {
    throw new SipsError('SIPS_ERR_TLS_CERT_PARSE', `${path}: ${(e as Error).message}`, { cause: e });
  }
  if (objs.length === 0) throw new SipsError('SIPS_ERR_TLS_CERT_PARSE', `${path}: no certificate found (PEM or DER expected)`);
  return objs.map((o, i) => {
    try {
      return new X509Certificate(o.der);
    } catch (e) {
      throw new SipsError('SIPS_ERR_TLS_CERT_PARSE', `${path}: certificate #${i + 1}: ${(e as Error).message}`, { cause: e });
    }
  });
}

/** Loads one vendor root and checks its pinned fingerprint (S-TRUST-2). */
export function loadVendorRoot(name: VendorRootName, certsDir = defaultCertsDir()): X509Certificate {
  const root = VENDOR_ROOTS[name];
  const path = join(certsDir, root.file);
  const certs = loadCertificates(path);
  if (certs.length !== 1 || certs[0]!.fingerprint256 !== root.sha256) {
    throw new SipsError(
      'SIPS_ERR_TLS_ROOT_FINGERPRINT',
      `${path}: SHA-256 fingerprint ${certs.map((c) => c.fingerprint256).join(',')} is not the pinned ${root.sha256} (${root.subjectCN}, S-TRUST-2)`,
    );
  }
  return certs[0]!;
}

/** The anchors of one trunk: vendor roots by name, or a private root's files (S-PREM-1). */
export function loadTrustAnchors(spec: TrustSpec): TrustAnchors {
  const certs: X509Certificate[] = [];
  const sources: string[] = [];
  if ('roots' in spec) {
    if (spec.roots.length === 0) throw new SipsError('SIPS_ERR_TLS_NO_ANCHORS', 'trust: roots is empty');
    for (const name of spec.roots) {
      if (!Object.hasOwn(VENDOR_ROOTS, name)) {
        throw new SipsError('SIPS_ERR_TLS_NO_ANCHORS', `trust: unknown vendor root ${JSON.stringify(name)}`);
      }
      certs.push(loadVendorRoot(name, spec.certsDir));
      sources.push(name);
    }
  } else {
    if (spec.files.length === 0) throw new SipsError('SIPS_ERR_TLS_NO_ANCHORS', 'trust: files is empty');
    for (const f of spec.files) {
      for (const c of loadCertificates(f)) {
        if (!c.ca) throw new SipsError('SIPS_ERR_TLS_NOT_A_CA', `${f}: ${c.subject.replace(/\n/g, ', ')} is not a CA certificate (trust the root, never a server certificate, S-TRUST-1)`);
        certs.push(c);
        sources.push(f);
      }
    }
  }
  return Object.freeze({ certs, pem: certs.map((c) => c.toString()), sources });
}
