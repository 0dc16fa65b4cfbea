/**
 * Helpers of the connection hardening tests (issue 11 #6, #7, #9, #14): an edge process with an
 * outside TLS and an inside TCP listener, clients bound to chosen loopback addresses (127.0.0.1 is
 * the vendor and the PBX; 127.0.0.2.. are strangers), SIP over raw sockets, and /metrics.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { generateLabPki } from '../../src/tls/lab-pki.js';
import { EdgeProcess } from './edge-process.js';

export const EDGE_NAME = 'edge.conn.sips-edge.test';

export interface ConnEdge {
  readonly edge: EdgeProcess;
  readonly tlsPort: number;
  readonly tcpPort: number;
  readonly adminPort: number;
  stop(): Promise<void>;
}

/** Starts the edge with `limits` (YAML flow mapping body, e.g. `maxConnectionsPerListener: 50`). */
/** `extra`: more top-level YAML (e.g. `timers: { ... }`); `tlsExtra`: more keys of `tls:` (e.g. `handshakeTimeoutMs: 10000`). */
export async function startConnEdge(limits: string, extra = '', tlsExtra = ''): Promise<ConnEdge> {
  const dir = mkdtempSync(join(tmpdir(), 'sips-edge-conn-'));
  const pki = generateLabPki({ outDir: dir, edgeName: EDGE_NAME });
  const edge = await EdgeProcess.start(`edge:
  name: ${EDGE_NAME}
listen:
  - { side: outside, transport: tls, address: 127.0.0.1, port: 0 }
  - { side: inside, transport: tcp, address: 127.0.0.1, port: 0 }
tls:
  identities:
    - { cert: ${pki.edge.chain}, key: ${pki.edge.key} }
${tlsExtra === '' ? '' : `  ${tlsExtra}\n`}peers:
  - { name: pbx, host: 127.0.0.1, port: 5099, transport: tcp, sources: [127.0.0.1/32] }
routing:
  defaultPeer: pbx
  vendorSources: [127.0.0.1/32]
limits: { ${limits} }
admin: { enabled: true, address: 127.0.0.1, port: 0 }
logging: { level: info }
${extra}
`);
  const admin = edge.logs.find((l) => l.event === 'listening')?.['admin'] as { port: number } | null;
  if (!admin) throw new Error('no admin address in the listening line');
  return {
    edge,
    tlsPort: edge.port('outside', 'tls'),
    tcpPort: edge.port('inside', 'tcp'),
    adminPort: admin.port,
    async stop() {
      await edge.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A TLS client from `localAddress`; resolves on secureConnect, rejects if the edge drops it first. */
export function tlsClient(port: number, localAddress = '127.0.0.1'): Promise<tls.TLSSocket> {
  return new Promise((resolve, reject) => {
    const raw = net.connect({ host: '127.0.0.1', port, localAddress });
    raw.on('error', () => {});
    const s = tls.connect({ socket: raw, servername: EDGE_NAME, rejectUnauthorized: false, minVersion: 'TLSv1.2', maxVersion: 'TLSv1.2' });
    s.once('secureConnect', () => {
      s.off('error', reject);
      s.on('error', () => {});
      resolve(s);
    });
    s.once('error', reject);
  });
}

/** A bare TCP connection from `localAddress` (resolves on connect: the kernel accepts before the edge decides). */
export function tcpClient(port: number, localAddress = '127.0.0.1'): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: '127.0.0.1', port, localAddress });
    s.once('connect', () => {
      s.off('error', reject);
      s.on('error', () => {});
      resolve(s);
    });
    s.once('error', reject);
  });
}

/** Resolves once the socket has closed (either side), with the bytes it received. */
export function closed(s: net.Socket): Promise<Buffer> {
  const chunks: Buffer[] = [];
  s.on('data', (c: Buffer) => chunks.push(c));
  return new Promise((resolve) => {
    if (s.destroyed) return resolve(Buffer.concat(chunks));
    s.once('close', () => resolve(Buffer.concat(chunks)));
  });
}

/** An OPTIONS to the edge itself: outside (TLS) by its name, inside (TCP) by its address. */
export function optionsText(o: { transport: 'TLS' | 'TCP'; local: string; port: number; branch?: string }): string {
  const branch = o.branch ?? `z9hG4bK${randomBytes(6).toString('hex')}`;
  const host = o.transport === 'TLS' ? EDGE_NAME : '127.0.0.1';
  return [
    `OPTIONS sip:${host}:${o.port};transport=${o.transport.toLowerCase()} SIP/2.0`,
    `Via: SIP/2.0/${o.transport} ${o.local}:5999;branch=${branch};rport`,
    'Max-Forwards: 70',
    `From: <sip:probe@client.lab.test>;tag=${randomBytes(4).toString('hex')}`,
    `To: <sip:${EDGE_NAME}>`,
    `Call-ID: conn-${randomBytes(6).toString('hex')}@client.lab.test`,
    'CSeq: 1 OPTIONS',
    'Content-Length: 0',
    '',
    '',
  ].join('\r\n');
}

/** Writes one request and resolves with the status line of the response carrying its branch. */
export function request(s: net.Socket, text: string): Promise<string> {
  const branch = /branch=([^;\r\n]+)/.exec(text)?.[1] ?? '';
  return new Promise((resolve, reject) => {
    let buf = '';
    const onData = (d: Buffer): void => {
      buf += d.toString('latin1');
      if (!buf.includes(branch) || !buf.includes('\r\n\r\n')) return;
      s.off('data', onData);
      s.off('close', onClose);
      resolve(buf.slice(buf.lastIndexOf('SIP/2.0 ', buf.indexOf(branch)), buf.indexOf('\r\n', buf.lastIndexOf('SIP/2.0 ', buf.indexOf(branch)))));
    };
    const onClose = (): void => reject(new Error(`closed before the answer; got ${JSON.stringify(buf)}`));
    s.on('data', onData);
    s.once('close', onClose);
    s.write(text);
  });
}

/** The /metrics exposition of the edge's admin server. */
export function scrape(adminPort: number): Promise<string> {
  return new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port: adminPort, path: '/metrics' }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => { body += c; });
      res.on('end', () => resolve(body));
    }).on('error', reject);
  });
}

/** One series' value (0 when absent). `series` is the exact name{labels} text. */
export function metric(text: string, series: string): number {
  const line = text.split('\n').find((l) => l.startsWith(series + ' '));
  return line === undefined ? 0 : Number(line.slice(series.length + 1));
}

export function refused(listener: string, side: string, transport: string, reason: string): string {
  return `sips_edge_connections_refused_total{listener="${listener}",side="${side}",transport="${transport}",reason="${reason}"}`;
}

/** Settles every promise; counts the fulfilled and rejected ones. */
export async function tally<T>(ps: readonly Promise<T>[]): Promise<{ ok: T[]; failed: number }> {
  const r = await Promise.allSettled(ps);
  const ok = r.flatMap((x) => (x.status === 'fulfilled' ? [x.value] : []));
  return { ok, failed: r.length - ok.length };
}

/** An INVITE from the vendor for the inside PBX (127.0.0.1:5099 over TCP, where nobody listens). */
export function inviteText(port: number): string {
  const id = randomBytes(6).toString('hex');
  const sdp = 'v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 40000 RTP/SAVP 0\r\na=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz\r\n';
  return [
    `INVITE sip:+4930555000@${EDGE_NAME}:${port};transport=tls SIP/2.0`,
    `Via: SIP/2.0/TLS 127.0.0.1:5999;branch=z9hG4bKinv${id};rport`,
    'Max-Forwards: 70',
    `From: <sip:+13175550100@lb01.test>;tag=${id}`,
    `To: <sip:+4930555000@${EDGE_NAME}>`,
    `Call-ID: conn-invite-${id}@lb01.test`,
    'CSeq: 1 INVITE',
    'Contact: <sip:lb01.test:5061;transport=tls>',
    'Content-Type: application/sdp',
    `Content-Length: ${Buffer.byteLength(sdp)}`,
    '',
    sdp,
  ].join('\r\n');
}
