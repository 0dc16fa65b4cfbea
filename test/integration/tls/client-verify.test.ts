/**
 * The edge's client path (buildClientOptions + verifyPeer, via connectTls) against real TLS servers
 * on 127.0.0.1 presenting each lab certificate: every failure gives its exact reason code.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import net, { type AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { resolveTlsPolicy, type TlsPolicy } from '../../../src/tls/policy.js';
import { NEGATIVE_CASES, type LabPki, type NegativeCase } from '../../../src/tls/lab-pki.js';
import { TLS_FAILURE_CODES } from '../../../src/tls/reasons.js';
import { RevocationChecker, type RevocationEvent } from '../../../src/tls/revocation.js';
import { buildServerOptions, loadServerIdentity } from '../../../src/tls/secure-context.js';
import { loadTrustAnchors, type TrustAnchors } from '../../../src/tls/trust-store.js';
import { connectTls, type ConnectResult } from '../../../src/tls/verify.js';
import { deadPort, makeLab, startHttpFileServer, startTlsServer, type RunningTlsServer } from '../../helpers/tls-lab.js';

// Handshake limits are relaxed (10 s) except where the limit itself is under test, so a loaded CI
// machine cannot turn a slow handshake into a false failure.
const SLACK = { handshakeTimeoutMs: 10_000 } as const;
const OFF: TlsPolicy = resolveTlsPolicy({ revocation: 'off', ...SLACK });
const SERVER: TlsPolicy = resolveTlsPolicy(SLACK);

let lab: ReturnType<typeof makeLab>;
let pki: LabPki;
let anchors: TrustAnchors;
const servers: RunningTlsServer[] = [];

async function serve(chain: string, key: string, policy: TlsPolicy = SERVER): Promise<number> {
  const id = loadServerIdentity({ names: ['lab'], certFile: chain, keyFile: key }, policy);
  const s = await startTlsServer(buildServerOptions([id], policy));
  servers.push(s);
  return s.port;
}

async function probe(port: number, host: string, policy: TlsPolicy, extra: { revocation?: RevocationChecker; anchors?: TrustAnchors; onSoft?: (d: string) => void } = {}): Promise<ConnectResult> {
  const r = await connectTls({
    host,
    address: '127.0.0.1',
    port,
    anchors: extra.anchors ?? anchors,
    policy,
    ...(extra.revocation ? { revocation: extra.revocation } : {}),
    ...(extra.onSoft ? { onSoftRevocation: extra.onSoft } : {}),
  });
  if (r.ok) r.socket.destroy();
  return r;
}

before(() => {
  lab = makeLab();
  pki = lab.pki;
  anchors = loadTrustAnchors({ files: [pki.roots.ev, pki.roots.g2] });
});

after(async () => {
  for (const s of servers) await s.close();
  lab.cleanup();
});

describe('lab vendor proxies pass', () => {
  test('every lbNN of every lab region, over both lab roots', async () => {
    for (const [host, leaf] of Object.entries(pki.vendor)) {
      const r = await probe(await serve(leaf.chain, leaf.key), host, OFF);
      assert.ok(r.ok, `${host}: ${JSON.stringify(r)}`);
      assert.equal(r.peer.protocol, 'TLSv1.2');
      assert.equal(r.peer.cipher, 'ECDHE-RSA-AES256-GCM-SHA384'); // our first choice (S-TLS-3)
      assert.equal(r.peer.matchedName, host);
      assert.equal(r.peer.deprecatedCipher, false);
      assert.equal(r.peer.chain.length, 3);
    }
  });

  test('the edge identity is served with its intermediate and verifies', async () => {
    const r = await probe(await serve(pki.edge.chain, pki.edge.key), pki.edge.host, OFF);
    assert.ok(r.ok, JSON.stringify(r));
  });
});

describe('negative leaves give their exact reason (revocation off)', () => {
  for (const name of Object.keys(NEGATIVE_CASES) as NegativeCase[]) {
    if (name === 'revoked') continue; // revoked needs the CRL, below
    test(`${name} -> ${NEGATIVE_CASES[name]}`, async () => {
      const neg = pki.negative[name];
      const r = await probe(await serve(neg.chain, neg.key), neg.host, OFF);
      if (neg.expect === 'ok') {
        assert.ok(r.ok, JSON.stringify(r));
        return;
      }
      assert.equal(r.ok, false);
      assert.ok(!r.ok && r.reason === neg.expect, `expected ${neg.expect}, got ${JSON.stringify(r)}`);
      assert.equal(!r.ok && 'code' in r && r.code, TLS_FAILURE_CODES[neg.expect as keyof typeof TLS_FAILURE_CODES]);
    });
  }

  test('a chain to a root outside the trunk anchors -> untrusted-root (G2 chain, EV anchor only)', async () => {
    const usw2 = pki.vendor['lb01.voice.usw2.pure.cloud']!;
    const evOnly = loadTrustAnchors({ files: [pki.roots.evDer] }); // DER anchor (S-TRUST-3)
    const r = await probe(await serve(usw2.chain, usw2.key), usw2.host, OFF, { anchors: evOnly });
    assert.ok(!r.ok && r.reason === 'untrusted-root', JSON.stringify(r));
  });

  test('an IP address target is refused before connecting (S-VAL-3)', async () => {
    await assert.rejects(() => connectTls({ host: '127.0.0.1', port: 1, anchors, policy: OFF }), { code: 'SIPS_ERR_CONFIG_INVALID' });
  });
});

describe('handshake and policy failures', () => {
  test('a server that never answers the ClientHello -> handshake-timeout (S-TLS-6)', async () => {
    const sockets: net.Socket[] = [];
    const silent = net.createServer((s) => sockets.push(s));
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const r = await probe((silent.address() as AddressInfo).port, 'lb01.voice.euc1.pure.cloud', resolveTlsPolicy({ revocation: 'off', handshakeTimeoutMs: 200 }));
    for (const s of sockets) s.destroy();
    await new Promise<void>((res) => silent.close(() => res()));
    assert.ok(!r.ok && r.reason === 'handshake-timeout', JSON.stringify(r));
  });

  test('a TLS 1.3-only server -> protocol-version (S-TLS-1)', async () => {
    const leaf = pki.vendor['lb01.voice.euc1.pure.cloud']!;
    const s = await startTlsServer({ cert: readFileSync(leaf.chain), key: readFileSync(leaf.key), minVersion: 'TLSv1.3' });
    servers.push(s);
    const r = await probe(s.port, leaf.host, OFF);
    assert.ok(!r.ok && r.reason === 'protocol-version', JSON.stringify(r));
  });

  test('a server with only CHACHA20 -> no-shared-cipher (S-TLS-3)', async () => {
    const leaf = pki.vendor['lb01.voice.euc1.pure.cloud']!;
    const s = await startTlsServer({ cert: readFileSync(leaf.chain), key: readFileSync(leaf.key), maxVersion: 'TLSv1.2', ciphers: 'ECDHE-RSA-CHACHA20-POLY1305' });
    servers.push(s);
    const r = await probe(s.port, leaf.host, OFF);
    assert.ok(!r.ok && r.reason === 'no-shared-cipher', JSON.stringify(r));
  });

  test('a server preferring a deprecated cipher: negotiated and flagged under warn, refused under deny (S-TLS-4)', async () => {
    const leaf = pki.vendor['lb01.voice.euc1.pure.cloud']!;
    const s = await startTlsServer({ cert: readFileSync(leaf.chain), key: readFileSync(leaf.key), maxVersion: 'TLSv1.2', ciphers: 'AES256-SHA256' });
    servers.push(s);
    const warn = await probe(s.port, leaf.host, resolveTlsPolicy({ revocation: 'off', deprecatedCiphers: 'warn', ...SLACK }));
    assert.ok(warn.ok && warn.peer.cipher === 'AES256-SHA256' && warn.peer.deprecatedCipher, JSON.stringify(warn));
    const deny = await probe(s.port, leaf.host, resolveTlsPolicy({ revocation: 'off', deprecatedCiphers: 'deny', ...SLACK }));
    assert.ok(!deny.ok && deny.reason === 'no-shared-cipher', JSON.stringify(deny));
  });
});

describe('revocation (S-VAL-5)', () => {
  const overrides = (port: number): Record<string, string> => ({
    [pki.crls.ev.url]: `http://127.0.0.1:${port}/lab-ev-int.crl`,
    [pki.crls.g2.url]: `http://127.0.0.1:${port}/lab-g2-int.crl`,
  });

  test('CRL served over HTTP: revoked leaf -> revoked, good leaf passes (soft and hard)', async () => {
    const http = await startHttpFileServer({ '/lab-ev-int.crl': readFileSync(pki.crls.ev.der) });
    try {
      for (const mode of ['soft', 'hard'] as const) {
        const policy = resolveTlsPolicy({ revocation: mode, ...SLACK });
        const checker = new RevocationChecker({ mode, urlOverrides: overrides(http.port) });
        const rev = pki.negative.revoked;
        const bad = await probe(await serve(rev.chain, rev.key), rev.host, policy, { revocation: checker });
        assert.ok(!bad.ok && bad.reason === 'revoked', JSON.stringify(bad));
        const good = pki.vendor['lb01.voice.euc1.pure.cloud']!;
        const ok = await probe(await serve(good.chain, good.key), good.host, policy, { revocation: checker });
        assert.ok(ok.ok && ok.peer.revocation === 'good', JSON.stringify(ok));
      }
      assert.equal(http.hits.length, 2, 'one fetch per checker: the CRL is cached until nextUpdate');
    } finally {
      await http.close();
    }
  });

  test('CRL server down: soft allows (and reports), hard -> crl-unavailable', async () => {
    const port = await deadPort();
    const rev = pki.negative.revoked;
    const serverPort = await serve(rev.chain, rev.key);
    const events: RevocationEvent[] = [];
    const soft: string[] = [];
    const softR = await probe(serverPort, rev.host, resolveTlsPolicy({ revocation: 'soft', ...SLACK }), {
      revocation: new RevocationChecker({ mode: 'soft', urlOverrides: overrides(port), onEvent: (e) => events.push(e) }),
      onSoft: (d) => soft.push(d),
    });
    assert.ok(softR.ok && softR.peer.revocation === 'unavailable', JSON.stringify(softR));
    assert.equal(soft.length, 1);
    assert.equal(events[0]?.kind, 'fetch-failed');
    const hardR = await probe(serverPort, rev.host, resolveTlsPolicy({ revocation: 'hard', ...SLACK }), {
      revocation: new RevocationChecker({ mode: 'hard', urlOverrides: overrides(port) }),
    });
    assert.ok(!hardR.ok && hardR.reason === 'crl-unavailable', JSON.stringify(hardR));
  });

  test('configured CRL files, PEM and DER: revoked without any HTTP', async () => {
    const rev = pki.negative.revoked;
    const serverPort = await serve(rev.chain, rev.key);
    for (const file of [pki.crls.ev.pem, pki.crls.ev.der]) {
      const checker = new RevocationChecker({ mode: 'hard', crlFiles: [file], fetch: () => Promise.reject(new Error('no fetch expected')) });
      const r = await probe(serverPort, rev.host, resolveTlsPolicy({ revocation: 'hard', ...SLACK }), { revocation: checker });
      assert.ok(!r.ok && r.reason === 'revoked', `${file}: ${JSON.stringify(r)}`);
    }
  });

  test('a CRL not signed by the issuer does not count (G2 CRL served at the EV URL) -> crl-unavailable under hard', async () => {
    const http = await startHttpFileServer({ '/lab-ev-int.crl': readFileSync(pki.crls.g2.pem) });
    try {
      const rev = pki.negative.revoked;
      const r = await probe(await serve(rev.chain, rev.key), rev.host, resolveTlsPolicy({ revocation: 'hard', ...SLACK }), {
        revocation: new RevocationChecker({ mode: 'hard', urlOverrides: overrides(http.port) }),
      });
      assert.ok(!r.ok && r.reason === 'crl-unavailable', JSON.stringify(r));
    } finally {
      await http.close();
    }
  });
});
