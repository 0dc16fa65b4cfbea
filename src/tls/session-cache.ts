/**
 * Client-side TLS 1.2 session cache: one session per (server name, port), least recently used
 * dropped first. Only a session whose full verification passed (chain, RFC 5922 name, CRL) is
 * stored, with the chain that was verified: a resumed handshake carries no certificate at all (Node
 * returns an empty peer certificate), so the resumed connection is judged on that cached chain,
 * re-checked for dates, name and revocation (verify.ts `verifyPeer` with `resumedChain`).
 */
import type { X509Certificate } from 'node:crypto';
import { normalizeHost } from './peer-identity.js';
import { isPolicyCipher, TLS_VERSION, type TlsPolicy } from './policy.js';

export const DEFAULT_CLIENT_SESSION_CACHE_SIZE = 1000;

export interface CachedSession {
  /** The name the session was verified for (SNI and RFC 5922 name). */
  readonly host: string;
  readonly port: number;
  /** Node's serialized session (`socket.getSession()`, ticket included). */
  readonly session: Buffer;
  /** The chain verified on the full handshake, leaf first. */
  readonly chain: readonly X509Certificate[];
  readonly protocol: string;
  readonly cipher: string;
}

function keyOf(host: string, port: number): string {
  return `${normalizeHost(host)}|${port}`;
}

export class ClientSessionCache {
  /** Map order = recency: the first entry is the least recently used. */
  private readonly entries = new Map<string, CachedSession>();

  constructor(readonly maxEntries = DEFAULT_CLIENT_SESSION_CACHE_SIZE) {}

  get size(): number {
    return this.entries.size;
  }

  /**
   * The session to offer a connection to `host:port`, or undefined. Never one verified for another
   * name (the key is the name), and never one whose protocol or cipher the policy no longer allows
   * (the server would have to refuse it: illegal_parameter rather than a full handshake).
   */
  offer(host: string, port: number, policy: TlsPolicy): CachedSession | undefined {
    const k = keyOf(host, port);
    const e = this.entries.get(k);
    if (e === undefined) return undefined;
    if (e.protocol !== TLS_VERSION || !isPolicyCipher(e.cipher, policy)) {
      this.entries.delete(k);
      return undefined;
    }
    this.entries.delete(k);
    this.entries.set(k, e);
    return e;
  }

  /** The entry a resumed connection to `host:port` is judged on. */
  get(host: string, port: number): CachedSession | undefined {
    return this.entries.get(keyOf(host, port));
  }

  /** Stores a fully verified session (replacing the name's previous one). */
  store(entry: CachedSession): void {
    const k = keyOf(entry.host, entry.port);
    this.entries.delete(k);
    this.entries.set(k, entry);
    while (this.entries.size > this.maxEntries) {
      const oldest = this.entries.keys().next().value;
      if (oldest === undefined) break;
      this.entries.delete(oldest);
    }
  }

  /** A verification failed or the session was refused: offer it no more. */
  drop(host: string, port: number): void {
    this.entries.delete(keyOf(host, port));
  }
}
