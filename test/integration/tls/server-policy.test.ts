/**
 * The edge's listener policy (S-TLS-*, S-CON-2, S-TRUST-5) seen from real clients: `openssl s_client`
 * and `sslscan` against tls.createServer(buildServerOptions(...)) on 127.0.0.1:0.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import { DEFAULT_TLS_POLICY, DEPRECATED_CIPHERS, POLICY_CIPHERS, policyCiphers, resolveTlsPolicy, type TlsPolicy } from '../../../src/tls/policy.js';
import { buildServerOptions, loadServerIdentity } from '../../../src/tls/secure-context.js';
import { classifyTlsError } from '../../../src/tls/verify.js';
import { makeLab, runTool, sClient, startTlsServer, type RunningTlsServer } from '../../helpers/tls-lab.js';

let lab: ReturnType<typeof makeLab>;
let warn: RunningTlsServer;
let deny: RunningTlsServer;
let strict: RunningTlsServer;
/** Relaxed handshake limit for the tool runs (a loaded machine must not fail them); `strict` keeps 500 ms. */
const SLACK = { handshakeTimeoutMs: 10_000 } as const;

async function edgeServer(policy: TlsPolicy): Promise<RunningTlsServer> {
  const id = loadServerIdentity({ names: [lab.pki.edge.host], certFile: lab.pki.edge.chain, keyFile: lab.pki.edge.key, default: true }, policy);
  const lb01 = lab.pki.vendor['lb01.voice.euc1.pure.cloud']!;
  const second = loadServerIdentity({ names: [lb01.host], certFile: lb01.chain, keyFile: lb01.key }, policy);
  return startTlsServer(buildServerOptions([second, id], policy));
}

/** s_client at SECLEVEL=0 so that a refusal is the server's, not the client's own default policy. */
const tls12 = (cipher: string, ...more: string[]): string[] => ['-tls1_2', '-cipher', `${cipher}:@SECLEVEL=0`, '-servername', lab.pki.edge.host, ...more];

before(async () => {
  lab = makeLab();
  warn = await edgeServer(resolveTlsPolicy(SLACK));
  deny = await edgeServer(resolveTlsPolicy({ deprecatedCiphers: 'deny', ...SLACK }));
  strict = await edgeServer(DEFAULT_TLS_POLICY);
});

after(async () => {
  await warn.close();
  await deny.close();
  await strict.close();
  lab.cleanup();
});

describe('ciphers (S-TLS-3, S-TLS-4)', () => {
  for (const c of [...POLICY_CIPHERS, ...DEPRECATED_CIPHERS]) {
    test(`${c} accepted on TLS 1.2`, async () => {
      const r = await sClient(warn.port, tls12(c));
      assert.equal(r.cipher, c, r.stdout + r.stderr);
      assert.equal(r.protocol, 'TLSv1.2');
    });
  }

  for (const c of DEPRECATED_CIPHERS) {
    test(`${c} refused under deprecatedCiphers: deny`, async () => {
      const errP = deny.nextClientError();
      const r = await sClient(deny.port, tls12(c));
      assert.equal(r.cipher, null, r.stdout);
      assert.equal(classifyTlsError(await errP), 'no-shared-cipher');
    });
  }

  for (const c of ['ECDHE-RSA-CHACHA20-POLY1305', 'AES128-SHA', 'ECDHE-RSA-AES128-SHA256', 'DHE-RSA-AES256-GCM-SHA384']) {
    test(`${c} (outside the list) refused`, async () => {
      const errP = warn.nextClientError();
      const r = await sClient(warn.port, tls12(c));
      assert.equal(r.cipher, null, r.stdout);
      assert.equal(classifyTlsError(await errP), 'no-shared-cipher');
    });
  }

  test('server order wins: a client preferring AES256-SHA gets ECDHE-RSA-AES256-GCM-SHA384', async () => {
    const r = await sClient(warn.port, tls12(`AES256-SHA:ECDHE-RSA-AES256-GCM-SHA384`));
    assert.equal(r.cipher, 'ECDHE-RSA-AES256-GCM-SHA384');
  });
});

describe('versions (S-TLS-1)', () => {
  for (const v of ['-tls1', '-tls1_1', '-tls1_3']) {
    test(`${v} refused`, async () => {
      const errP = warn.nextClientError();
      const args = v === '-tls1_3' ? [v] : [v, '-cipher', 'DEFAULT:@SECLEVEL=0'];
      const r = await sClient(warn.port, args);
      assert.equal(r.cipher, null, r.stdout);
      assert.equal(classifyTlsError(await errP), 'protocol-version');
    });
  }
});

describe('curve (S-TLS-5)', () => {
  for (const curve of ['prime256v1', 'X25519']) {
    test(`${curve} refused for ECDHE`, async () => {
      const r = await sClient(warn.port, tls12('ECDHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES256-SHA', '-curves', curve));
      assert.equal(r.cipher, null, r.stdout);
    });
  }

  test(`prime256v1-only client with the full list falls back to RSA key exchange, never ECDHE on P-256`, async () => {
    const r = await sClient(warn.port, tls12('ALL', '-curves', 'prime256v1'));
    assert.equal(r.cipher, 'AES256-GCM-SHA384', r.stdout);
  });

  test('secp384r1 accepted; server temp key is P-384', async () => {
    const r = await sClient(warn.port, tls12('ECDHE-RSA-AES256-GCM-SHA384', '-curves', 'secp384r1'));
    assert.equal(r.cipher, 'ECDHE-RSA-AES256-GCM-SHA384');
    assert.match(r.stdout, /Server Temp Key: ECDH, (secp384r1|P-384), 384 bits/);
  });
});

describe('chain, client certificates, renegotiation, handshake timeout', () => {
  test('the full chain is presented: leaf + intermediate (S-TRUST-5)', async () => {
    const r = await sClient(warn.port, tls12('DEFAULT', '-showcerts'));
    assert.equal((r.stdout.match(/-----BEGIN CERTIFICATE-----/g) ?? []).length, 2);
    assert.match(r.stdout, /1 s:.*Lab EV Intermediate/);
  });

  test('SNI picks the identity; no or unknown SNI gets the default', async () => {
    const subject = (out: string): string | undefined => /^subject=.*CN ?= ?([^,\n]+)/m.exec(out)?.[1];
    assert.equal(subject((await sClient(warn.port, ['-tls1_2', '-servername', 'LB01.voice.euc1.pure.cloud'])).stdout), 'lb01.voice.euc1.pure.cloud');
    assert.equal(subject((await sClient(warn.port, ['-tls1_2', '-noservername'])).stdout), lab.pki.edge.host);
    assert.equal(subject((await sClient(warn.port, ['-tls1_2', '-servername', 'unknown.example.test'])).stdout), lab.pki.edge.host);
  });

  test('no CertificateRequest (S-CON-2)', async () => {
    const r = await sClient(warn.port, tls12('DEFAULT', '-msg'));
    assert.ok(r.cipher);
    assert.doesNotMatch(r.stdout, /CertificateRequest/);
    assert.match(r.stdout, /No client certificate CA names sent/);
  });

  test('renegotiation refused', async () => {
    const r = await sClient(warn.port, tls12('DEFAULT'), 'R\n');
    assert.match(r.stdout + r.stderr, /RENEGOTIATING/);
    assert.match(r.stdout + r.stderr, /no renegotiation/);
  });

  test('a client that never finishes the handshake is dropped (closed by the server) with handshake-timeout (S-TLS-6)', async () => {
    const errP = strict.nextClientError();
    const s = net.connect(strict.port, '127.0.0.1');
    s.on('error', () => {});
    const closed = new Promise<void>((r) => s.once('close', () => r()));
    assert.equal(classifyTlsError(await errP), 'handshake-timeout');
    await closed;
  });
});

describe('sslscan', () => {
  test('accepted set is exactly the policy, in policy order, TLS 1.2 only, P-384 only', async () => {
    const r = await runTool('sslscan', ['--no-colour', `127.0.0.1:${warn.port}`], 120_000);
    const accepted = [...r.stdout.matchAll(/^(?:Preferred|Accepted)\s+(\S+)\s+\d+ bits\s+(\S+)/gm)].map((m) => `${m[1]} ${m[2]}`);
    assert.deepEqual(accepted, policyCiphers(DEFAULT_TLS_POLICY).map((c) => `TLSv1.2 ${c}`), r.stdout);
    for (const v of ['SSLv2', 'SSLv3', 'TLSv1.0', 'TLSv1.1', 'TLSv1.3']) {
      assert.doesNotMatch(r.stdout, new RegExp(`^${v.replace('.', '\\.')}\\s+enabled`, 'm'));
    }
    assert.match(r.stdout, /^TLSv1\.2\s+enabled/m);
    const groups = [...r.stdout.matchAll(/^TLSv1\.2\s+\d+ bits\s+(\S+)/gm)].map((m) => m[1]);
    assert.deepEqual(groups, ['secp384r1']);
  });
});
