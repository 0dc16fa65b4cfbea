/** Shared helpers of the TLS tests: a lab PKI per test file, servers on 127.0.0.1:0, tool runs. */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { generateLabPki, type LabPki } from '../../src/tls/lab-pki.js';
import { guardTlsServer } from '../../src/tls/verify.js';
import { freePort } from './ports.js';

export function makeLab(): { pki: LabPki; dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'sips-edge-lab-'));
  const pki = generateLabPki({ outDir: dir });
  return { pki, dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export interface RunningTlsServer {
  readonly server: tls.Server;
  readonly port: number;
  /** Errors the server saw from clients ('tlsClientError'), in order. */
  readonly clientErrors: Error[];
  /** Resolves with the next client error. */
  nextClientError(): Promise<Error>;
  close(): Promise<void>;
}

export async function startTlsServer(options: tls.TlsOptions): Promise<RunningTlsServer> {
  const clientErrors: Error[] = [];
  const waiters: ((e: Error) => void)[] = [];
  const held = new Set<tls.TLSSocket>();
  // Connections are held open like a real proxy's, and dropped on close().
  const server = tls.createServer(options, (socket) => {
    socket.on('error', () => {});
    held.add(socket);
    socket.on('close', () => held.delete(socket));
  });
  guardTlsServer(server, ({ error }) => {
    clientErrors.push(error);
    waiters.shift()?.(error);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    server,
    port,
    clientErrors,
    nextClientError: () => new Promise((r) => waiters.push(r)),
    close: () =>
      new Promise((r) => {
        for (const s of held) s.destroy();
        server.close(() => r());
      }),
  };
}

export async function startHttpFileServer(files: Readonly<Record<string, Buffer>>): Promise<{ port: number; hits: string[]; close: () => Promise<void> }> {
  const hits: string[] = [];
  const server = http.createServer((req, res) => {
    hits.push(req.url ?? '');
    const body = files[req.url ?? ''];
    if (!body) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/pkix-crl' }).end(body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as AddressInfo).port,
    hits,
    close: () => new Promise((r) => {
      server.closeAllConnections();
      server.close(() => r());
    }),
  };
}

/** A port on 127.0.0.1 that nobody listens on (outside the ephemeral range: see ports.ts). */
export const deadPort = freePort;

export interface ToolResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a tool with stdin closed and a kill timeout (a safety net, not an assertion). */
export function runTool(cmd: string, args: readonly string[], timeoutMs = 20_000, input?: string): Promise<ToolResult> {
  return new Promise((resolve, reject) => {
    // With input, stdin stays open after it (s_client quits on EOF): the tool must exit by itself.
    const child = spawn(cmd, args, { stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] as const });
    child.stdin?.on('error', () => {});
    if (input !== undefined) child.stdin?.write(input);
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** `openssl s_client` against 127.0.0.1:port; returns the negotiated protocol/cipher (or null) and raw output. */
export async function sClient(port: number, args: readonly string[], input?: string): Promise<ToolResult & { protocol: string | null; cipher: string | null }> {
  const r = await runTool('openssl', ['s_client', '-connect', `127.0.0.1:${port}`, ...args], input === undefined ? 20_000 : 10_000, input);
  const cipher = /^\s*Cipher\s*:\s*(\S+)/m.exec(r.stdout)?.[1] ?? null;
  const protocol = /^\s*Protocol\s*:\s*(\S+)/m.exec(r.stdout)?.[1] ?? null;
  const ok = cipher !== null && cipher !== '0000' && cipher !== '(NONE)';
  return { ...r, protocol: ok ? protocol : null, cipher: ok ? cipher : null };
}
