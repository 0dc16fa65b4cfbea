/**
 * The edge's TLS material in both roles, built from the config in one place: the policy (S-TLS-1..5),
 * the server identities and their session tickets, the client session cache, the trust each name the
 * edge connects to gets, the check of a peer's certificate (RFC 5922 names, revocation), and the hot
 * reload of the files behind them. Part of the composition root (sip-stack.ts builds it): it joins
 * the tls layer to the config and to the router, which knows the trunk hosts' names.
 */
import type tls from 'node:tls';
import type { EdgeConfig } from './config/schema.js';
import type { EdgeSecrets } from './config/secrets.js';
import type { EdgeRouter } from './routing/router.js';
import { resolveTlsPolicy, type TlsPolicy } from './tls/policy.js';
import { RevocationChecker, type RevocationEvent } from './tls/revocation.js';
import { buildClientOptions, buildServerOptions, IdentitySet } from './tls/secure-context.js';
import { ClientSessionCache } from './tls/session-cache.js';
import { SessionResumption } from './tls/session-resumption.js';
import { loadTrustAnchors, REGION_ROOTS_EV, type TrustAnchors, type TrustSpec, type VendorRootName } from './tls/trust-store.js';
import { verifyPeer, type VerifyResult } from './tls/verify.js';
import type { PeerAddress } from './transport/types.js';

type LogFn = (level: 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>) => void;

/** Per TLS name the edge connects to: the anchors and extra accepted names of the trunk it belongs to. */
interface TlsPeerPolicy {
  readonly anchors: TrustAnchors;
  readonly extraNames: readonly string[];
}

export interface LoadedCertificate {
  readonly name: string;
  readonly file: string;
  readonly notAfter: Date;
}

export interface EdgeTlsDeps {
  readonly secrets: EdgeSecrets;
  readonly log: LogFn;
  /** Every revocation event (CRL fetched, fetch failed, ...), for metrics; warnings are logged here too. */
  readonly onRevocationEvent?: (e: RevocationEvent) => void;
  /** CRL distribution point URL -> URL actually fetched (lab). */
  readonly crlUrlOverrides?: Readonly<Record<string, string>>;
  /** The session ticket secret shared by the workers (SipStackDeps.ticketSecret). */
  readonly ticketSecret?: Buffer;
}

export class EdgeTls {
  readonly policy: TlsPolicy;
  /** The edge's own certificates; null without a TLS listener ("none configured", never "not yet"). */
  readonly identities: IdentitySet | null;
  /** The files a reload reads: identities' certificates and keys, CRL files, the ticket key file. */
  readonly watchedFiles: readonly string[];
  private readonly resumption: SessionResumption | null;
  /** Client side: sessions to lb hosts, offered only to the name they were verified for. */
  private readonly sessions: ClientSessionCache | null;
  private readonly trust: Map<string, TlsPeerPolicy>;
  /** Replaced on reload; a broken CRL file keeps the one loaded before. */
  private revocation: RevocationChecker;

  constructor(private readonly config: EdgeConfig, router: EdgeRouter, private readonly deps: EdgeTlsDeps) {
    const t = config.tls;
    this.policy = resolveTlsPolicy({
      deprecatedCiphers: t.deprecatedCiphers,
      handshakeTimeoutMs: t.handshakeTimeoutMs,
      revocation: t.revocation,
      cnFallback: t.cnFallback,
    });
    this.revocation = this.newRevocationChecker();
    const hasListener = config.listen.some((l) => l.transport === 'tls');
    this.identities = !hasListener ? null : IdentitySet.load(t.identities.map((id, i) => {
      const passphrase = deps.secrets.passphrases[i];
      return { names: id.names ?? [config.edge.name], certFile: id.cert, keyFile: id.key, ...(passphrase !== undefined ? { passphrase } : {}), default: i === 0 };
    }), this.policy);
    const st = t.sessionTickets;
    this.resumption = this.identities === null ? null : new SessionResumption({
      enabled: st.enabled,
      ...(st.keyFile !== undefined ? { keyFile: st.keyFile } : {}),
      ...(deps.ticketSecret !== undefined ? { secret: deps.ticketSecret } : {}),
      rotationSeconds: st.rotationSeconds,
      lifetimeSeconds: st.lifetimeSeconds,
      policy: this.policy,
      onEvent: (e) => {
        if (e.kind === 'rotated') deps.log('info', 'TLS session ticket key rotated', { event: 'tls-ticket-key-rotated', period: e.period, source: e.source, nextInMs: e.nextInMs });
        else deps.log('warn', 'TLS session ticket secret not reloaded; the old one stays', { event: 'tls-ticket-secret', detail: e.detail });
      },
    });
    this.sessions = t.clientSessionCache ? new ClientSessionCache() : null;
    this.trust = trustByName(config, router);
    this.watchedFiles = [...t.identities.flatMap((i) => [i.cert, i.key]), ...t.crlFiles, ...(st.keyFile !== undefined ? [st.keyFile] : [])];
  }

  /** The TLS listeners' options (null without identities); with tickets and session IDs when enabled. */
  serverOptions(): tls.TlsOptions | null {
    if (this.identities === null) return null;
    const base = buildServerOptions(this.identities, this.policy);
    return this.resumption === null ? base : this.resumption.serverOptions(base);
  }

  /** A TLS server was made: its ticket keys follow the rotation. */
  attachServer(server: tls.Server): void {
    this.resumption?.attach(server);
  }

  /** A resumed session must still meet the policy (S-TLS-1/3); null when it does. */
  checkResumedSession(s: tls.TLSSocket): string | null {
    return SessionResumption.sessionAllowed(s, this.policy) ? null : `resumed session ${s.getProtocol() ?? ''} ${s.getCipher().name} is not in the policy (S-TLS-1/3)`;
  }

  /** Client options toward a peer: its name's trust, SNI, and a cached session verified for that name. */
  connectOptions(t: PeerAddress): tls.ConnectionOptions {
    const name = t.servername ?? t.address;
    const peer = this.trust.get(name.toLowerCase());
    if (peer === undefined) throw new Error(`no TLS trust configured for ${name}`);
    const session = this.sessions?.offer(name, t.port, this.policy)?.session;
    return { ...buildClientOptions({ host: name, port: t.port, trust: peer.anchors, policy: this.policy }), host: t.address, ...(session !== undefined ? { session } : {}) };
  }

  /**
   * The peer's certificate after the handshake (RFC 5922 names, chain, revocation). A resumed session
   * is judged again on the chain cached with it; only a fully verified session is kept.
   */
  async verify(socket: tls.TLSSocket, t: PeerAddress): Promise<VerifyResult> {
    const name = t.servername ?? t.address;
    const peer = this.trust.get(name.toLowerCase());
    if (peer === undefined) return { ok: false, reason: 'untrusted-root', detail: `no trust configured for ${name}` } as VerifyResult;
    const cached = socket.isSessionReused() ? this.sessions?.get(name, t.port) : undefined;
    const log = this.deps.log;
    const r = await verifyPeer(socket, {
      host: name,
      ...(cached !== undefined ? { resumedChain: cached.chain } : {}),
      anchors: peer.anchors,
      policy: this.policy,
      extraNames: peer.extraNames,
      revocation: this.revocation,
      onSoftRevocation: (d) => log('warn', 'CRL unavailable, allowed (revocation: soft)', { event: 'crl-soft-allowed', host: name, detail: d }),
    });
    const session = r.ok ? socket.getSession() : undefined;
    if (r.ok && session !== undefined) this.sessions?.store({ host: name, port: t.port, session, chain: r.chain, protocol: r.protocol, cipher: r.cipher });
    else if (!r.ok) this.sessions?.drop(name, t.port);
    if (r.ok && r.deprecatedCipher && this.policy.deprecatedCiphers === 'warn') {
      log('warn', 'deprecated cipher negotiated (S-TLS-4)', { host: name, cipher: r.cipher });
    }
    return r;
  }

  /** Every certificate the edge presents (leaf and chain), for the expiry metric and doctor. */
  loadedCertificates(): LoadedCertificate[] {
    if (this.identities === null) return [];
    return this.identities.identities.flatMap((id) => [id.leaf, ...id.chain.filter((c) => c !== id.leaf)].map((c) => ({
      name: c.subject.split('\n').find((l) => l.startsWith('CN='))?.slice(3) ?? c.subject,
      file: id.spec.certFile,
      notAfter: new Date(c.validTo),
    })));
  }

  /**
   * Hot reload of the CRL files, the ticket key file and the identities: a broken file keeps what was
   * loaded before. `reloaded` > 0: the server's default context must be replaced (serverOptions()).
   */
  reload(): { reloaded: number; errors: Error[] } {
    const errors: Error[] = [];
    try {
      this.revocation = this.newRevocationChecker();
    } catch (e) {
      errors.push(e as Error);
    }
    if (this.identities === null) return { reloaded: 0, errors };
    const ticketErr = this.resumption?.reload() ?? null;
    if (ticketErr !== null) errors.push(ticketErr);
    const r = this.identities.reload(this.policy);
    return { reloaded: r.reloaded, errors: [...errors, ...r.errors] };
  }

  /** The ticket key rotation. */
  start(): void {
    this.resumption?.start();
  }

  stop(): void {
    this.resumption?.stop();
  }

  private newRevocationChecker(): RevocationChecker {
    const t = this.config.tls;
    const deps = this.deps;
    return new RevocationChecker({
      mode: t.revocation,
      crlFiles: t.crlFiles,
      fetchTimeoutMs: t.crlFetchTimeoutMs,
      ...(deps.crlUrlOverrides ? { urlOverrides: deps.crlUrlOverrides } : {}),
      onEvent: (e) => {
        deps.onRevocationEvent?.(e);
        if (e.kind !== 'fetched') deps.log('warn', `revocation: ${e.kind}`, { event: e.kind.startsWith('crl-') ? e.kind : `crl-${e.kind}`, detail: e.detail, ...(e.url ? { url: e.url } : {}), ...(e.durationMs !== undefined ? { durationMs: e.durationMs } : {}) });
      },
    });
  }
}

/** TLS trust per server name: each trunk host's anchors and accepted names, inside TLS peers' files. */
function trustByName(config: EdgeConfig, router: EdgeRouter): Map<string, TlsPeerPolicy> {
  const trust = new Map<string, TlsPeerPolicy>();
  for (const plan of router.trunkPlans()) {
    const anchors = trustFor(plan.trunk.trust, plan.region?.roots);
    for (const h of plan.hosts) {
      trust.set(h.name, { anchors, extraNames: router.acceptedNamesFor(h.name).filter((n) => n !== h.name) });
    }
  }
  for (const p of config.peers) {
    if (p.transport === 'tls' && p.trustFiles !== undefined) {
      trust.set((p.servername ?? p.host).toLowerCase(), { anchors: loadTrustAnchors({ files: p.trustFiles }), extraNames: [] });
    }
  }
  return trust;
}

function trustFor(t: EdgeConfig['trunks'][number]['trust'], regionRoots: readonly string[] | undefined): TrustAnchors {
  let spec: TrustSpec;
  if (t?.files !== undefined) spec = { files: t.files };
  else if (t?.roots !== undefined) spec = { roots: t.roots };
  else spec = { roots: (regionRoots ?? REGION_ROOTS_EV) as readonly VendorRootName[] };
  return loadTrustAnchors(spec);
}
