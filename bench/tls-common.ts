/** Shared by the TLS benches: lab PKI, the two servers under comparison, environment line. */
import { spawn } from 'node:child_process';
import { constants as C } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { generateLabPki, type LabLeaf, type LabPki } from '../src/tls/lab-pki.js';
import { DEFAULT_TLS_POLICY, ECDH_CURVE, policyCiphers, TLS_VERSION } from '../src/tls/policy.js';
import { buildServerOptions, loadServerIdentity } from '../src/tls/secure-context.js';
import { guardTlsServer } from '../src/tls/verify.js';

export function labForBench(): { pki: LabPki; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'sips-edge-bench-'));
  return { pki: generateLabPki({ outDir: dir }), cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export interface BenchServer {
  readonly port: number;
  close(): Promise<void>;
}

async function listen(server: tls.Server): Promise<BenchServer> {
  const held = new Set<tls.TLSSocket>();
  server.on('secureConnection', (s) => {
    s.on('error', () => {});
    held.add(s);
    s.on('close', () => held.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', 1024, r));
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise((r) => {
        for (const s of held) s.destroy();
        server.close(() => r());
      }),
  };
}

/** No resumption on either server: tickets off, no session cache. */
const NO_RESUME = { secureOptions: C.SSL_OP_NO_TICKET, sessionTimeout: 0 } as const;

export function policyServer(edge: LabLeaf): Promise<BenchServer> {
  const id = loadServerIdentity({ names: [edge.host], certFile: edge.chain, keyFile: edge.key }, DEFAULT_TLS_POLICY);
  const opts = buildServerOptions([id], DEFAULT_TLS_POLICY);
  const server = tls.createServer({ ...opts, secureOptions: (opts.secureOptions ?? 0) | NO_RESUME.secureOptions, sessionTimeout: 0 });
  guardTlsServer(server);
  return listen(server);
}

/** A bare node:tls server with the same raw settings, built by hand. */
export function bareServer(edge: LabLeaf): Promise<BenchServer> {
  const server = tls.createServer({
    cert: readFileSync(edge.chain),
    key: readFileSync(edge.key),
    minVersion: TLS_VERSION,
    maxVersion: TLS_VERSION,
    ciphers: policyCiphers(DEFAULT_TLS_POLICY).join(':'),
    ecdhCurve: ECDH_CURVE,
    honorCipherOrder: true,
    ...NO_RESUME,
  });
  server.on('tlsClientError', (_e, s) => s.destroy());
  return listen(server);
}

export function environment(): Record<string, unknown> {
  return { node: process.version, openssl: process.versions.openssl, cpu: cpus()[0]?.model ?? 'unknown', cpus: cpus().length, platform: process.platform };
}

/** Client side of both benches: full handshakes, ECDHE-RSA-AES256-GCM-SHA384 on secp384r1, no session reuse. */
export const CLIENT_OPTIONS: tls.ConnectionOptions = {
  host: '127.0.0.1',
  servername: 'edge.lab.sips-edge.test',
  minVersion: TLS_VERSION,
  maxVersion: TLS_VERSION,
  ciphers: 'ECDHE-RSA-AES256-GCM-SHA384',
  ecdhCurve: ECDH_CURVE,
  rejectUnauthorized: false,
};

/**
 * `openssl s_time -new` (a full handshake per connection) or `-reuse` (the first session resumed on every
 * later one) against 127.0.0.1:port for `seconds`, ECDHE-RSA-AES256-GCM-SHA384: connections per wall-clock second.
 */
export function sTime(port: number, mode: '-new' | '-reuse', seconds: number): Promise<{ connectionsPerSec: number | null; raw: string }> {
  return new Promise((resolve) => {
    const child = spawn('openssl', ['s_time', '-connect', `127.0.0.1:${port}`, mode, '-time', String(seconds), '-cipher', 'ECDHE-RSA-AES256-GCM-SHA384'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.on('close', () => {
      // "1342 connections in 4 real seconds, ..." (wall clock; the "user sec" figure is the client's CPU)
      const n = /(\d+) connections in ([\d.]+) real seconds/.exec(out);
      resolve({ connectionsPerSec: n ? Math.round(Number(n[1]) / Number(n[2])) : null, raw: out.split('\n').filter((l) => /connections/.test(l)).join(' | ') });
    });
  });
}
