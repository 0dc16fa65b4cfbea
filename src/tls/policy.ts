/**
 * The trunk's TLS policy (S-TLS-*) as constants and option builders. Every TLS socket of the edge,
 * server or client side, gets its version, cipher, curve and renegotiation settings from here.
 */
import { constants as C } from 'node:crypto';
import type { SecureContextOptions } from 'node:tls';
import { ConfigError } from '../errors.js';

/** S-TLS-1: TLS 1.2 only, no 1.0, 1.1 or 1.3. */
export const TLS_VERSION = 'TLSv1.2' as const;

/**
 * S-TLS-3 in our preference order: forward-secret ECDHE with AEAD first, then ECDHE-CBC, then RSA key
 * exchange (GCM before CBC). OpenSSL names.
 */
export const POLICY_CIPHERS = [
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES256-SHA',
  'AES256-GCM-SHA384',
  'AES128-GCM-SHA256',
  'AES256-SHA',
] as const;

/**
 * S-TLS-4: slated for deprecation (announced 2025-03-24). Offered last, so they are only chosen
 * when the peer has nothing else in common with us.
 */
export const DEPRECATED_CIPHERS = ['ECDHE-RSA-AES256-SHA384', 'AES256-SHA256'] as const;

/** S-TLS-5: the only ECDHE group. */
export const ECDH_CURVE = 'secp384r1' as const;

/** S-TLS-6: handshake limit on the trunk. */
export const HANDSHAKE_TIMEOUT_MS = 500;

export type DeprecatedCipherMode = 'allow' | 'warn' | 'deny';
export type RevocationMode = 'off' | 'soft' | 'hard';
/**
 * 'never' (default, RFC 5922 §7.1): the subject CN is looked at only when the certificate has no
 * subjectAltName extension at all, never as a fallback beside a SAN. 'always': CN also counts when
 * a SAN is present (the literal reading of S-VAL-2; for odd peers only).
 */
export type CnFallback = 'never' | 'always';

export interface TlsPolicy {
  /** S-TLS-4: 'allow' offers them silently, 'warn' offers them and the caller logs/counts, 'deny' does not offer them. */
  readonly deprecatedCiphers: DeprecatedCipherMode;
  /** S-TLS-6 */
  readonly handshakeTimeoutMs: number;
  /** S-VAL-5: 'soft' lets a connection through when no CRL can be had; 'hard' refuses it. */
  readonly revocation: RevocationMode;
  readonly cnFallback: CnFallback;
}

export const DEFAULT_TLS_POLICY: TlsPolicy = Object.freeze({
  deprecatedCiphers: 'warn',
  handshakeTimeoutMs: HANDSHAKE_TIMEOUT_MS,
  revocation: 'soft',
  cnFallback: 'never',
});

function oneOf<T extends string>(path: string, v: unknown, allowed: readonly T[]): T {
  if (typeof v === 'string' && (allowed as readonly string[]).includes(v)) return v as T;
  throw new ConfigError(path, `expected one of ${allowed.join('|')}, got ${JSON.stringify(v)}`);
}

/** Narrows an unknown config value (e.g. parsed YAML) to a TlsPolicy; missing keys take defaults. */
export function resolveTlsPolicy(input: unknown = {}, path = 'tls'): TlsPolicy {
  if (input === null || typeof input !== 'object') throw new ConfigError(path, 'expected an object');
  const o = input as Record<string, unknown>;
  const d = DEFAULT_TLS_POLICY;
  const t = o['handshakeTimeoutMs'] ?? d.handshakeTimeoutMs;
  if (typeof t !== 'number' || !Number.isInteger(t) || t < 1 || t > 60_000) {
    throw new ConfigError(`${path}.handshakeTimeoutMs`, `expected an integer 1..60000, got ${JSON.stringify(t)}`);
  }
  return Object.freeze({
    deprecatedCiphers: oneOf(`${path}.deprecatedCiphers`, o['deprecatedCiphers'] ?? d.deprecatedCiphers, ['allow', 'warn', 'deny'] as const),
    handshakeTimeoutMs: t,
    revocation: oneOf(`${path}.revocation`, o['revocation'] ?? d.revocation, ['off', 'soft', 'hard'] as const),
    cnFallback: oneOf(`${path}.cnFallback`, o['cnFallback'] ?? d.cnFallback, ['never', 'always'] as const),
  });
}

/** The ciphers offered/accepted under a policy, in preference order. */
export function policyCiphers(policy: TlsPolicy): readonly string[] {
  return policy.deprecatedCiphers === 'deny' ? POLICY_CIPHERS : [...POLICY_CIPHERS, ...DEPRECATED_CIPHERS];
}

/** S-TLS-4: true for the two ciphers slated for deprecation (callers log once and count when negotiated). */
export function isDeprecatedCipher(name: string): boolean {
  return (DEPRECATED_CIPHERS as readonly string[]).includes(name);
}

export function isPolicyCipher(name: string, policy: TlsPolicy = DEFAULT_TLS_POLICY): boolean {
  return policyCiphers(policy).includes(name);
}

/**
 * Renegotiation is refused (TLS 1.2 renegotiation, RFC 5746): OpenSSL answers a ClientHello on an
 * established connection with a no_renegotiation alert.
 */
export const SECURE_OPTIONS = C.SSL_OP_NO_RENEGOTIATION | C.SSL_OP_NO_COMPRESSION;

/** The settings both sides share: version, ciphers, curve, renegotiation. */
export function commonTlsOptions(policy: TlsPolicy): SecureContextOptions {
  return {
    minVersion: TLS_VERSION, // S-TLS-1
    maxVersion: TLS_VERSION,
    ciphers: policyCiphers(policy).join(':'), // S-TLS-3, S-TLS-4
    ecdhCurve: ECDH_CURVE, // S-TLS-5: also the only group offered in supported_groups
    secureOptions: SECURE_OPTIONS,
  };
}
