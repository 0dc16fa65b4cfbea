#!/usr/bin/env node
// Regenerates certs/digicert-*.pem (S-TRUST-2) from Node's bundled root store (tls.rootCertificates),
// matching each root by subject CN *and* the SHA-256 fingerprint pinned in docs/spec.md S-TRUST-2.
// Usage: node scripts/gen-vendor-roots.mjs [--check]   (--check: compare, write nothing, exit 1 on drift)
import { X509Certificate } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { rootCertificates } from 'node:tls';
import { fileURLToPath } from 'node:url';

const ROOTS = [
  ['digicert-high-assurance-ev-root-ca.pem', 'DigiCert High Assurance EV Root CA',
    '74:31:E5:F4:C3:C1:CE:46:90:77:4F:0B:61:E0:54:40:88:3B:A9:A0:1E:D0:0B:A6:AB:D7:80:6E:D3:B1:18:CF'],
  ['digicert-global-root-g2.pem', 'DigiCert Global Root G2',
    'CB:3C:CB:B7:60:31:E5:E0:13:8F:8D:D3:9A:23:F9:DE:47:FF:C3:5E:43:C1:14:4C:EA:27:D4:6A:5A:B1:CB:5F'],
  ['digicert-global-root-g3.pem', 'DigiCert Global Root G3',
    '31:AD:66:48:F8:10:41:38:C7:38:F3:9E:A4:32:01:33:39:3E:3A:18:CC:02:29:6E:F9:7C:2A:C9:EF:67:31:D0'],
];

const certsDir = join(dirname(fileURLToPath(import.meta.url)), '..', 'certs');
const check = process.argv.includes('--check');
let drift = 0;
for (const [file, cn, sha256] of ROOTS) {
  const hits = rootCertificates
    .map((pem) => ({ pem, x: new X509Certificate(pem) }))
    .filter(({ x }) => x.subject.split('\n').includes(`CN=${cn}`) && x.fingerprint256 === sha256);
  if (hits.length !== 1) {
    console.error(`${cn}: ${hits.length} match(es) for ${sha256} in Node ${process.version}'s root store`);
    process.exit(2);
  }
  const { x } = hits[0];
  const text = `# ${cn}\n# SHA-256 ${sha256}\n# valid ${x.validFrom} .. ${x.validTo}\n# from Node ${process.version} tls.rootCertificates by scripts/gen-vendor-roots.mjs (S-TRUST-2)\n${x.toString()}`;
  const path = join(certsDir, file);
  if (check) {
    let old = '';
    try { old = readFileSync(path, 'utf8'); } catch { /* missing */ }
    const same = old.includes(x.toString());
    if (!same) drift++;
    console.log(`${same ? 'ok   ' : 'DRIFT'} ${file}`);
  } else {
    writeFileSync(path, text);
    console.log(`wrote ${file}  ${sha256}`);
  }
}
process.exit(drift ? 1 : 0);
