/** Totality of the DER readers: any truncation or byte flip of a real CRL/certificate either parses or
 * throws a SipsError with a SIPS_ERR_TLS_* code; never a TypeError/RangeError, never a hang. */
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import fc from 'fast-check';
import { SipsError } from '../../../src/errors.js';
import { decodePemOrDer } from '../../../src/tls/der.js';
import { parseCrl } from '../../../src/tls/revocation.js';
import { certParts } from '../../../src/tls/x509-parts.js';
import { makeLab } from '../../helpers/tls-lab.js';

let lab: ReturnType<typeof makeLab>;
before(() => {
  lab = makeLab();
});
after(() => lab.cleanup());

function total(fn: () => unknown): void {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof SipsError && e.code.startsWith('SIPS_ERR_TLS_'), `unexpected ${String(e)}`);
  }
}

const mutated = (base: Buffer) =>
  fc.tuple(fc.nat({ max: base.length }), fc.array(fc.tuple(fc.nat({ max: base.length - 1 }), fc.integer({ min: 0, max: 255 })), { maxLength: 4 })).map(([cut, flips]) => {
    const b = Buffer.from(base.subarray(0, cut));
    for (const [i, v] of flips) if (i < b.length) b[i] = v;
    return b;
  });

test('parseCrl and decodePemOrDer are total over mutated CRLs', () => {
  const der = readFileSync(lab.pki.crls.ev.der);
  fc.assert(fc.property(mutated(der), (b) => {
    total(() => parseCrl(b));
    total(() => decodePemOrDer(b));
  }), { numRuns: 2000 });
});

test('certParts is total over mutated certificates', () => {
  const der = new X509Certificate(readFileSync(lab.pki.negative.revoked.chain)).raw;
  fc.assert(fc.property(mutated(der), (b) => total(() => certParts(b))), { numRuns: 2000 });
});
