/**
 * Doctor checks of each TLS trunk host: resolves (dns.overrides, then DNS) and completes a handshake
 * with the exact policy the edge uses (TLS 1.2, policy ciphers, secp384r1, 500 ms) and RFC 5922 name
 * validation against the trunk's anchors — `connectTls`, the same code path as a call.
 */
import type { EdgeConfig } from '../config/schema.js';
import type { Resolver } from '../routing/resolver.js';
import type { TrunkPlan } from '../routing/targets.js';
import type { TlsPolicy } from '../tls/policy.js';
import type { RevocationChecker } from '../tls/revocation.js';
import { loadTrustAnchors, REGION_ROOTS_EV, type TrustAnchors, type VendorRootName } from '../tls/trust-store.js';
import { connectTls } from '../tls/verify.js';
import { fail, pass, warn, type CheckResult } from './check.js';

export interface TrunkCheckDeps {
  readonly resolver: Resolver;
  readonly policy: TlsPolicy;
  readonly revocation: RevocationChecker;
  readonly offline: boolean;
  /** Accepted further names per host (extraIdentities), as the router computes them. */
  readonly extraNames: (host: string) => readonly string[];
}

/** The trunk's anchors, as the SIP stack (sip-stack.ts) computes them: trust.files, trust.roots, or the region's roots. */
export function trunkAnchors(plan: TrunkPlan): TrustAnchors {
  const t: EdgeConfig['trunks'][number]['trust'] = plan.trunk.trust;
  if (t?.files !== undefined) return loadTrustAnchors({ files: t.files });
  if (t?.roots !== undefined) return loadTrustAnchors({ roots: t.roots });
  return loadTrustAnchors({ roots: (plan.region?.roots ?? REGION_ROOTS_EV) as readonly VendorRootName[] });
}

export async function checkTrunk(plan: TrunkPlan, deps: TrunkCheckDeps): Promise<CheckResult[]> {
  const trunk = plan.trunk;
  const base = `trunk.${trunk.name}`;
  if (trunk.transport !== 'tls') {
    return [warn(base, `transport ${trunk.transport} (insecure: true): no TLS handshake to check`, 'the vendor trunk is TLS only (S-CON-5); use this only for a lab or carrier leg')];
  }
  let anchors: TrustAnchors;
  try {
    anchors = trunkAnchors(plan);
  } catch (e) {
    return [fail(`${base}.trust`, (e as Error).message, 'fix trunks[].trust (root names or readable CA files)', (e as { code?: string }).code)];
  }
  const out: CheckResult[] = [];
  for (const h of plan.hosts) {
    const id = `${base}.${h.name}`;
    const r = await deps.resolver.resolve(h.name);
    if (!r.ok) {
      out.push(warn(id, `unreachable: ${h.name} does not resolve (${deps.offline ? 'offline: dns.overrides only' : r.reason})`, 'check DNS from this host, or add the name to dns.overrides', 'unreachable'));
      continue;
    }
    const address = r.addresses[0]!;
    const c = await connectTls({ host: h.name, address, port: h.port, anchors, policy: deps.policy, extraNames: deps.extraNames(h.name), revocation: deps.revocation });
    if (c.ok) {
      c.socket.destroy();
      const p = c.peer;
      const line = `${address}:${h.port} ${p.protocol} ${p.cipher}, name ${p.matchedName}, chain to ${p.chain[p.chain.length - 1]?.subject.split('\n').find((l) => l.startsWith('CN='))?.slice(3) ?? '?'}, revocation ${p.revocation}`;
      out.push(p.deprecatedCipher
        ? warn(id, `${line}; deprecated cipher (S-TLS-4)`, 'the peer prefers a cipher slated for deprecation; set tls.deprecatedCiphers: deny to test without it', 'deprecated-cipher')
        : pass(id, line));
    } else if (c.reason === 'transport' || c.reason === 'handshake-timeout') {
      out.push(warn(id, `unreachable: ${address}:${h.port}: ${c.detail}`, 'check the route and firewall toward the host (TCP 5061 outbound)', 'unreachable'));
    } else {
      out.push(fail(id, `${address}:${h.port}: ${c.reason}: ${c.detail}`, fixFor(c.reason), c.reason));
    }
  }
  return out;
}

function fixFor(reason: string): string {
  switch (reason) {
    case 'name-mismatch':
    case 'wildcard':
    case 'ip-address':
      return 'the host presents a certificate without this exact name: check trunks[].hosts (use the lbNN names, S-VAL-2) or that DNS points at the right host';
    case 'untrusted-root':
      return "trust the region's roots (trunks[].trust) — the root, never the server certificate (S-TRUST-1)";
    case 'incomplete-chain':
      return 'the peer does not send its intermediate (S-TRUST-5): report it to the peer operator';
    case 'expired':
    case 'not-yet-valid':
      return 'the peer certificate is outside its validity: check this host\'s clock, then the peer';
    case 'revoked':
      return 'the peer certificate is revoked: report it to the peer operator';
    case 'crl-unavailable':
      return 'the CRL could not be fetched with revocation: hard: allow outbound HTTP or configure tls.crlFiles';
    default:
      return 'the peer does not accept the vendor policy (TLS 1.2, the six ciphers, secp384r1, S-TLS-1/3/5)';
  }
}
