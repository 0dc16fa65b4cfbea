/**
 * Secure contexts: the edge's own identities on its listeners (leaf + every intermediate, S-TRUST-5;
 * chosen by SNI) and the options of outbound connections to a trunk (SNI = configured host name,
 * trust = the trunk's anchors only, S-TRUST-1/2, S-PREM-1).
 */
import { createPrivateKey, type X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import tls from 'node:tls';
import { SipsError } from '../errors.js';
import { decodePemOrDer, toPem } from './der.js';
import { assertHostNameTarget, normalizeHost } from './peer-identity.js';
import { commonTlsOptions, type TlsPolicy } from './policy.js';
import { loadCertificates, type TrustAnchors } from './trust-store.js';

export interface ServerIdentitySpec {
  /** SNI names this identity answers (exact, case-insensitive). */
  readonly names: readonly string[];
  /** Leaf first, then every intermediate (S-TRUST-5). PEM or DER. */
  readonly certFile: string;
  /** PEM (PKCS#1/PKCS#8, optionally encrypted) or DER PKCS#8. */
  readonly keyFile: string;
  readonly passphrase?: string;
  /** Served when the client sends no SNI or an unknown name. The first identity if none is marked. */
  readonly default?: boolean;
}

export interface LoadedIdentity {
  readonly spec: ServerIdentitySpec;
  readonly leaf: X509Certificate;
  readonly chain: readonly X509Certificate[];
  readonly certPem: string;
  readonly keyPem: string;
  readonly context: tls.SecureContext;
}

function fileError(file: string, reason: string, cause?: unknown): SipsError {
  return new SipsError('SIPS_ERR_TLS_IDENTITY', `${file}: ${reason}`, { cause });
}

function readKeyPem(spec: ServerIdentitySpec): string {
  let data: Buffer;
  try {
    data = readFileSync(spec.keyFile);
  } catch (e) {
    throw fileError(spec.keyFile, (e as NodeJS.ErrnoException).code ?? String(e), e);
  }
  try {
    const isDer = data[0] === 0x30;
    const key = isDer
      ? createPrivateKey({ key: data, format: 'der', type: 'pkcs8' })
      : createPrivateKey(spec.passphrase === undefined ? { key: data } : { key: data, passphrase: spec.passphrase });
    // S-TLS-7: every cipher authenticates with RSA.
    if (key.asymmetricKeyType !== 'rsa') throw new Error(`key type ${key.asymmetricKeyType}, RSA required (S-TLS-7)`);
    return key.export({ format: 'pem', type: 'pkcs8' }).toString();
  } catch (e) {
    throw fileError(spec.keyFile, (e as Error).message, e);
  }
}

/**
 * Reads and checks one identity: chain order (each cert issued by the next), key matches the leaf,
 * leaf not a CA. Throws SipsError (SIPS_ERR_TLS_IDENTITY) naming the file and the reason. Used for
 * reloads too: a broken new file throws and the caller keeps the old identity.
 */
export function loadServerIdentity(spec: ServerIdentitySpec, policy: TlsPolicy): LoadedIdentity {
  const chain = loadCertificates(spec.certFile);
  const leaf = chain[0]!;
  for (let i = 0; i + 1 < chain.length; i++) {
    if (!chain[i]!.checkIssued(chain[i + 1]!)) {
      throw fileError(spec.certFile, `certificate #${i + 2} did not issue #${i + 1}: order must be leaf, then intermediates`);
    }
  }
  if (leaf.ca) throw fileError(spec.certFile, 'first certificate is a CA; the leaf must come first');
  const keyPem = readKeyPem(spec);
  if (!leaf.checkPrivateKey(createPrivateKey(keyPem))) throw fileError(spec.keyFile, `key does not match the leaf in ${spec.certFile}`);
  const certPem = chain.map((c) => c.toString()).join('');
  let context: tls.SecureContext;
  try {
    context = tls.createSecureContext({ ...commonTlsOptions(policy), honorCipherOrder: true, cert: certPem, key: keyPem });
  } catch (e) {
    throw fileError(spec.certFile, (e as Error).message, e);
  }
  return Object.freeze({ spec, leaf, chain, certPem, keyPem, context });
}

/** The listener's identities; replaced one at a time on reload, the old one kept when a new file is broken. */
export class IdentitySet {
  private list: LoadedIdentity[];
  private byName = new Map<string, LoadedIdentity>();

  constructor(identities: readonly LoadedIdentity[]) {
    if (identities.length === 0) throw new SipsError('SIPS_ERR_TLS_IDENTITY', 'no server identity configured');
    this.list = [...identities];
    this.index();
  }

  static load(specs: readonly ServerIdentitySpec[], policy: TlsPolicy): IdentitySet {
    return new IdentitySet(specs.map((s) => loadServerIdentity(s, policy)));
  }

  private index(): void {
    this.byName = new Map();
    for (const id of this.list) for (const n of id.spec.names) this.byName.set(normalizeHost(n), id);
  }

  get identities(): readonly LoadedIdentity[] {
    return this.list;
  }

  get defaultIdentity(): LoadedIdentity {
    return this.list.find((i) => i.spec.default === true) ?? this.list[0]!;
  }

  lookup(servername: string): LoadedIdentity | undefined {
    return this.byName.get(normalizeHost(servername));
  }

  /**
   * Re-reads every identity's files. Each one that loads replaces its predecessor; each one that fails
   * is reported and the old one stays. After a reload, call `server.setSecureContext(buildServerOptions(set, policy))`
   * so the default identity changes too (SNI lookups see the new ones at once).
   */
  reload(policy: TlsPolicy): { readonly reloaded: number; readonly errors: readonly SipsError[] } {
    const errors: SipsError[] = [];
    let reloaded = 0;
    this.list = this.list.map((old) => {
      try {
        const next = loadServerIdentity(old.spec, policy);
        reloaded++;
        return next;
      } catch (e) {
        errors.push(e instanceof SipsError ? e : fileError(old.spec.certFile, String(e), e));
        return old;
      }
    });
    this.index();
    return { reloaded, errors };
  }
}

/** Options for `tls.createServer`: policy, default identity, SNI selection, no client certificate, 500 ms handshake. */
export function buildServerOptions(identities: IdentitySet | readonly LoadedIdentity[], policy: TlsPolicy): tls.TlsOptions {
  const set = identities instanceof IdentitySet ? identities : new IdentitySet(identities);
  const def = set.defaultIdentity;
  return {
    ...commonTlsOptions(policy),
    honorCipherOrder: true, // S-TLS-3: our order, not the client's
    cert: def.certPem, // S-TRUST-5: leaf + every intermediate
    key: def.keyPem,
    requestCert: false, // S-CON-2: no mutual TLS
    rejectUnauthorized: false,
    handshakeTimeout: policy.handshakeTimeoutMs, // S-TLS-6
    // SNI: only switch context for another identity (a switch costs per handshake); the default
    // identity, an unknown name and no SNI use the server's own context. After a reload the new
    // default is handed out here until the caller rebuilds the server context.
    SNICallback: (servername, cb) => {
      const id = set.lookup(servername) ?? set.defaultIdentity;
      cb(null, id === def ? undefined : id.context);
    },
  };
}

export interface ClientOptionsInput {
  /** The configured host name (lbNN.voice.<region>.pure.cloud): SNI and the name the certificate must carry. */
  readonly host: string;
  readonly port?: number;
  readonly trust: TrustAnchors;
  readonly policy: TlsPolicy;
}

/**
 * Options for `tls.connect` to a trunk peer. The chain is checked by OpenSSL against the trunk's
 * anchors only (`ca`; never the system store), but not enforced here: `verifyPeer` makes the
 * decision so every failure gets its reason code. Use `connectTls` (verify.ts) which does both.
 */
export function buildClientOptions(input: ClientOptionsInput): tls.ConnectionOptions {
  assertHostNameTarget(input.host, 'trunk.host'); // S-VAL-3
  if (input.trust.pem.length === 0) throw new SipsError('SIPS_ERR_TLS_NO_ANCHORS', `${input.host}: no trust anchors`);
  return {
    ...commonTlsOptions(input.policy),
    host: input.host,
    port: input.port ?? 5061, // S-TLS-2
    servername: input.host, // SNI = the configured name (RFC 5922 §7.1 compares against it)
    ca: [...input.trust.pem], // S-TRUST-1/2, S-PREM-1: only these roots
    rejectUnauthorized: false, // decided by verifyPeer, with a reason code
    checkServerIdentity: () => undefined, // RFC 5922 matching (no wildcards, no IP) is done by verifyPeer
  };
}

/** PEM text of a DER or PEM certificate file's certificates (tests, tools). */
export function readChainPem(file: string): string {
  return decodePemOrDer(readFileSync(file)).map((o) => (o.label === 'DER' ? toPem('CERTIFICATE', o.der) : toPem(o.label, o.der))).join('');
}
