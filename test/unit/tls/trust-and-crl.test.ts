import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { decodePemOrDer } from '../../../src/tls/der.js';
import { DEFAULT_TLS_POLICY } from '../../../src/tls/policy.js';
import { crlMatchesIssuer, loadCrlFile, parseCrl, RevocationChecker } from '../../../src/tls/revocation.js';
import { IdentitySet, loadServerIdentity } from '../../../src/tls/secure-context.js';
import { defaultCertsDir, loadCertificates, loadTrustAnchors, VENDOR_ROOTS, type VendorRootName } from '../../../src/tls/trust-store.js';
import { verifyChain } from '../../../src/tls/verify.js';
import { certParts } from '../../../src/tls/x509-parts.js';
import { makeLab } from '../../helpers/tls-lab.js';

let lab: ReturnType<typeof makeLab>;
before(() => {
  lab = makeLab();
});
after(() => lab.cleanup());

const x = (path: string, i = 0): X509Certificate => loadCertificates(path)[i]!;

describe('vendor roots (S-TRUST-2)', () => {
  test('the three shipped roots load and match their pinned fingerprints', () => {
    const a = loadTrustAnchors({ roots: ['digicert-ev', 'digicert-g2', 'digicert-g3'] });
    assert.equal(a.certs.length, 3);
    for (const [i, name] of (['digicert-ev', 'digicert-g2', 'digicert-g3'] as VendorRootName[]).entries()) {
      assert.equal(a.certs[i]!.fingerprint256, VENDOR_ROOTS[name].sha256);
      assert.ok(a.certs[i]!.subject.includes(`CN=${VENDOR_ROOTS[name].subjectCN}`));
    }
  });

  test('a tampered root file is refused with SIPS_ERR_TLS_ROOT_FINGERPRINT', () => {
    const dir = join(lab.dir, 'tampered-certs');
    mkdirSync(dir, { recursive: true });
    for (const r of Object.values(VENDOR_ROOTS)) copyFileSync(join(defaultCertsDir(), r.file), join(dir, r.file));
    writeFileSync(join(dir, VENDOR_ROOTS['digicert-g2'].file), readFileSync(lab.pki.roots.g2)); // look-alike swapped in
    assert.ok(loadTrustAnchors({ roots: ['digicert-ev'], certsDir: dir }));
    assert.throws(() => loadTrustAnchors({ roots: ['digicert-ev', 'digicert-g2'], certsDir: dir }), { code: 'SIPS_ERR_TLS_ROOT_FINGERPRINT' });
  });

  test('a root given as DER loads the same (S-TRUST-3)', () => {
    const dir = join(lab.dir, 'der-certs');
    mkdirSync(dir, { recursive: true });
    for (const r of Object.values(VENDOR_ROOTS)) {
      writeFileSync(join(dir, r.file), new X509Certificate(readFileSync(join(defaultCertsDir(), r.file))).raw);
    }
    const a = loadTrustAnchors({ roots: ['digicert-g3'], certsDir: dir });
    assert.equal(a.certs[0]!.fingerprint256, VENDOR_ROOTS['digicert-g3'].sha256);
  });
});

describe('PEM and DER alike (S-TRUST-3)', () => {
  test('lab root from PEM and DER is the same certificate', () => {
    assert.equal(x(lab.pki.roots.ev).fingerprint256, x(lab.pki.roots.evDer).fingerprint256);
  });
  test('a chain file yields leaf then intermediate', () => {
    const certs = loadCertificates(lab.pki.edge.chain);
    assert.equal(certs.length, 2);
    assert.ok(certs[0]!.checkIssued(certs[1]!));
  });
  test('private roots: a leaf is refused as a trust anchor (S-TRUST-1)', () => {
    assert.throws(() => loadTrustAnchors({ files: [lab.pki.edge.chain] }), { code: 'SIPS_ERR_TLS_NOT_A_CA' });
    assert.equal(loadTrustAnchors({ files: [lab.pki.roots.evDer, lab.pki.roots.g2] }).certs.length, 2);
  });
  test('garbage and missing files name the file', () => {
    const junk = join(lab.dir, 'junk.pem');
    writeFileSync(junk, 'not a certificate');
    assert.throws(() => loadCertificates(junk), (e: Error & { code?: string }) => e.code === 'SIPS_ERR_TLS_CERT_PARSE' && e.message.includes(junk));
    assert.throws(() => loadCertificates(join(lab.dir, 'nope.pem')), /ENOENT/);
    assert.throws(() => decodePemOrDer(Buffer.from([0x30, 0x82, 0xff])), { code: 'SIPS_ERR_TLS_DER' });
  });
});

describe('certificate parts', () => {
  test('SAN, CRL distribution point, serial', () => {
    const leaf = x(lab.pki.negative.revoked.chain);
    const p = certParts(leaf.raw);
    assert.deepEqual(p.subjectAltNames, [{ type: 'dns', value: 'lb01.voice.euc1.pure.cloud' }]);
    assert.deepEqual(p.crlDistributionPoints, [lab.pki.crls.ev.url]);
    assert.equal(p.serial, leaf.serialNumber.toLowerCase().replace(/^(00)+/, ''));
    assert.equal(certParts(x(lab.pki.negative['cn-only'].chain).raw).subjectAltNames, undefined);
  });
});

describe('CRL (S-VAL-5)', () => {
  test('PEM and DER parse to the same list; the revoked serial is on it', () => {
    const [pemCrl] = loadCrlFile(lab.pki.crls.ev.pem);
    const [derCrl] = loadCrlFile(lab.pki.crls.ev.der);
    assert.ok(pemCrl && derCrl);
    assert.deepEqual([...pemCrl.revoked.keys()], [lab.pki.revokedSerial]);
    assert.deepEqual([...derCrl.revoked.keys()], [lab.pki.revokedSerial]);
    assert.ok(pemCrl.nextUpdate && pemCrl.nextUpdate > pemCrl.thisUpdate);
  });

  test('signature verifies against the issuer only; a flipped bit fails', () => {
    const der = readFileSync(lab.pki.crls.ev.der);
    const evInt = x(lab.pki.intermediates.ev);
    assert.equal(crlMatchesIssuer(parseCrl(der), evInt), true);
    assert.equal(crlMatchesIssuer(parseCrl(der), x(lab.pki.intermediates.g2)), false);
    const bad = Buffer.from(der);
    bad[bad.length - 5]! ^= 0x01;
    assert.equal(crlMatchesIssuer(parseCrl(bad), evInt), false);
  });

  test('truncated CRL -> SIPS_ERR_TLS_CRL_PARSE', () => {
    assert.throws(() => parseCrl(readFileSync(lab.pki.crls.ev.der).subarray(0, 40)), { code: 'SIPS_ERR_TLS_CRL_PARSE' });
  });

  test('fetched CRLs are cached until nextUpdate, then refreshed', async () => {
    const der = readFileSync(lab.pki.crls.ev.der);
    const nextUpdate = parseCrl(der).nextUpdate!.getTime();
    let now = Date.now();
    const fetched: string[] = [];
    const checker = new RevocationChecker({ mode: 'hard', now: () => now, fetch: async (url) => (fetched.push(url), der) });
    const leaf = x(lab.pki.negative.revoked.chain);
    const good = x(lab.pki.vendor['lb02.voice.euc1.pure.cloud']!.chain);
    const issuer = x(lab.pki.intermediates.ev);
    assert.equal((await checker.check(leaf, issuer)).status, 'revoked');
    assert.equal((await checker.check(good, issuer)).status, 'good');
    assert.equal(fetched.length, 1);
    now = nextUpdate + 1;
    assert.equal((await checker.check(good, issuer)).status, 'good');
    assert.equal(fetched.length, 2);
  });

  test('a failed fetch backs off instead of hammering the distribution point', async () => {
    let now = 0;
    let calls = 0;
    const events: string[] = [];
    const checker = new RevocationChecker({ mode: 'soft', now: () => now, failureBackoffMs: 1000, onEvent: (e) => events.push(e.kind), fetch: async () => { calls++; throw new Error('ECONNREFUSED'); } });
    const leaf = x(lab.pki.negative.revoked.chain);
    const issuer = x(lab.pki.intermediates.ev);
    assert.equal((await checker.check(leaf, issuer)).status, 'unavailable');
    assert.equal((await checker.check(leaf, issuer)).status, 'unavailable');
    assert.equal(calls, 1);
    now = 1001;
    await checker.check(leaf, issuer);
    assert.equal(calls, 2);
    assert.deepEqual(events, ['fetch-failed', 'fetch-failed']);
  });
});

describe('verifyChain', () => {
  const anchors = (): X509Certificate[] => [x(lab.pki.roots.ev), x(lab.pki.roots.g2)];
  test('leaf + intermediate to an anchor', () => {
    const r = verifyChain(loadCertificates(lab.pki.vendor['lb01.voice.euc1.pure.cloud']!.chain), anchors());
    assert.ok(r.ok && r.chain.length === 3);
  });
  test('intermediate order does not matter; the anchor itself may be sent', () => {
    const [leaf, int] = loadCertificates(lab.pki.edge.chain);
    assert.ok(verifyChain([leaf!, x(lab.pki.roots.ev), int!], anchors()).ok);
  });
  test('leaf only -> incomplete-chain; self-signed -> untrusted-root; other root -> untrusted-root', () => {
    const r1 = verifyChain(loadCertificates(lab.pki.negative['incomplete-chain'].chain), anchors());
    assert.equal(!r1.ok && r1.reason, 'incomplete-chain');
    const r2 = verifyChain(loadCertificates(lab.pki.negative['self-signed'].chain), anchors());
    assert.equal(!r2.ok && r2.reason, 'untrusted-root');
    const r3 = verifyChain(loadCertificates(lab.pki.vendor['lb01.voice.usw2.pure.cloud']!.chain), [x(lab.pki.roots.ev)]);
    assert.equal(!r3.ok && r3.reason, 'untrusted-root');
  });
  test('dates against an injected now (S-VAL-4)', () => {
    const chain = loadCertificates(lab.pki.edge.chain);
    const r = verifyChain(chain, anchors(), new Date(Date.parse(chain[0]!.validTo) + 1000));
    assert.equal(!r.ok && r.reason, 'expired');
    const r2 = verifyChain(chain, anchors(), new Date(Date.parse(chain[0]!.validFrom) - 1000));
    assert.equal(!r2.ok && r2.reason, 'not-yet-valid');
  });
});

describe('server identities', () => {
  test('chain order and key are checked; a broken reload keeps the old identity', () => {
    const spec = { names: ['edge.lab.sips-edge.test'], certFile: join(lab.dir, 'reload.chain.pem'), keyFile: lab.pki.edge.key };
    writeFileSync(spec.certFile, readFileSync(lab.pki.edge.chain));
    const set = IdentitySet.load([spec], DEFAULT_TLS_POLICY);
    const before = set.defaultIdentity;
    writeFileSync(spec.certFile, 'truncated');
    const r = set.reload(DEFAULT_TLS_POLICY);
    assert.equal(r.reloaded, 0);
    assert.equal(r.errors[0]?.code, 'SIPS_ERR_TLS_CERT_PARSE');
    assert.ok(r.errors[0]?.message.includes(spec.certFile));
    assert.equal(set.defaultIdentity, before);
    // wrong key for the leaf
    writeFileSync(spec.certFile, readFileSync(lab.pki.vendor['lb01.voice.euc1.pure.cloud']!.chain));
    const r2 = set.reload(DEFAULT_TLS_POLICY);
    assert.equal(r2.errors[0]?.code, 'SIPS_ERR_TLS_IDENTITY');
    assert.match(r2.errors[0]!.message, /key does not match/);
    // intermediate first
    const [leaf, int] = loadCertificates(lab.pki.edge.chain);
    writeFileSync(spec.certFile, int!.toString() + leaf!.toString());
    assert.throws(() => loadServerIdentity(spec, DEFAULT_TLS_POLICY), /order must be leaf, then intermediates|CA/);
    // good again
    writeFileSync(spec.certFile, readFileSync(lab.pki.edge.chain));
    assert.equal(set.reload(DEFAULT_TLS_POLICY).reloaded, 1);
    assert.notEqual(set.defaultIdentity, before);
    assert.equal(set.lookup('EDGE.lab.sips-edge.test')?.chain.length, 2);
  });
});
