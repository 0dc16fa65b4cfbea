import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEFAULT_TLS_POLICY, HANDSHAKE_TIMEOUT_MS, commonTlsOptions, isDeprecatedCipher, isPolicyCipher, policyCiphers, resolveTlsPolicy } from '../../../src/tls/policy.js';
import { TLS_FAILURE_CODES, TLS_FAILURE_REASONS } from '../../../src/tls/reasons.js';
import { classifyTlsError } from '../../../src/tls/verify.js';

test('defaults: warn, 500 ms, soft revocation, RFC 5922 CN rule', () => {
  assert.deepEqual({ ...DEFAULT_TLS_POLICY }, { deprecatedCiphers: 'warn', handshakeTimeoutMs: 500, revocation: 'soft', cnFallback: 'never' });
  assert.equal(HANDSHAKE_TIMEOUT_MS, 500);
});

test('cipher order: ECDHE-GCM first, RSA-kx CBC last, deprecated after all (S-TLS-3/4)', () => {
  assert.deepEqual(policyCiphers(DEFAULT_TLS_POLICY), [
    'ECDHE-RSA-AES256-GCM-SHA384', 'ECDHE-RSA-AES128-GCM-SHA256', 'ECDHE-RSA-AES256-SHA',
    'AES256-GCM-SHA384', 'AES128-GCM-SHA256', 'AES256-SHA', 'ECDHE-RSA-AES256-SHA384', 'AES256-SHA256',
  ]);
  const deny = resolveTlsPolicy({ deprecatedCiphers: 'deny' });
  assert.equal(policyCiphers(deny).length, 6);
  assert.equal(isPolicyCipher('AES256-SHA256', deny), false);
  assert.equal(isDeprecatedCipher('AES256-SHA256'), true);
  assert.equal(isDeprecatedCipher('ECDHE-RSA-AES256-SHA384'), true);
  assert.equal(isDeprecatedCipher('AES256-SHA'), false);
});

test('common options: TLS 1.2 only, secp384r1, no renegotiation', () => {
  const o = commonTlsOptions(DEFAULT_TLS_POLICY);
  assert.equal(o.minVersion, 'TLSv1.2');
  assert.equal(o.maxVersion, 'TLSv1.2');
  assert.equal(o.ecdhCurve, 'secp384r1');
  assert.ok(((o.secureOptions ?? 0) & 0x40000000) !== 0);
});

test('resolveTlsPolicy refuses bad values with the key path', () => {
  assert.throws(() => resolveTlsPolicy({ deprecatedCiphers: 'maybe' }, 'trunks[2].tls'), /trunks\[2\]\.tls\.deprecatedCiphers/);
  assert.throws(() => resolveTlsPolicy({ handshakeTimeoutMs: 0 }), /handshakeTimeoutMs/);
  assert.throws(() => resolveTlsPolicy({ revocation: 'strict' }), /revocation/);
  assert.throws(() => resolveTlsPolicy('x'), /expected an object/);
  assert.equal(resolveTlsPolicy({ handshakeTimeoutMs: 750 }).handshakeTimeoutMs, 750);
});

test('every reason has a SIPS_ERR_TLS_* code', () => {
  assert.equal(TLS_FAILURE_REASONS.length, 13);
  for (const r of TLS_FAILURE_REASONS) assert.match(TLS_FAILURE_CODES[r], /^SIPS_ERR_TLS_[A-Z_]+$/);
});

test('classifyTlsError', () => {
  const cases: [unknown, string | null][] = [
    [{ code: 'ERR_TLS_HANDSHAKE_TIMEOUT' }, 'handshake-timeout'],
    [{ code: 'ERR_SSL_UNSUPPORTED_PROTOCOL' }, 'protocol-version'],
    [{ code: 'ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION' }, 'protocol-version'],
    [{ code: 'ERR_SSL_NO_SHARED_CIPHER' }, 'no-shared-cipher'],
    [{ code: 'ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE' }, 'no-shared-cipher'],
    [{ code: 'ERR_SSL_WRONG_CURVE' }, 'curve'],
    [{ code: 'CERT_HAS_EXPIRED' }, 'expired'],
    [{ code: 'CERT_NOT_YET_VALID' }, 'not-yet-valid'],
    [{ code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' }, 'incomplete-chain'],
    [{ code: 'DEPTH_ZERO_SELF_SIGNED_CERT' }, 'untrusted-root'],
    [{ code: 'SELF_SIGNED_CERT_IN_CHAIN' }, 'untrusted-root'],
    [{ code: 'CERT_REVOKED' }, 'revoked'],
    [{ message: 'error:0A00017A:SSL routines::wrong curve' }, 'curve'],
    [{ code: 'ECONNRESET' }, null],
    ['string', null],
    [null, null],
  ];
  for (const [err, want] of cases) assert.equal(classifyTlsError(err), want, JSON.stringify(err));
});
