/**
 * Issue 13, client side: the edge resumes its TLS sessions to lb hosts. node:tls stand-ins serve
 * lb01 (127.0.0.1:P) and lb02 (127.0.0.5:P, the same port) with one ticket key for both, so either
 * would resume the other's session; each records whether a handshake was resumed. Each answers
 * each OPTIONS probe with 200 and closes the connection, so every probe opens a new one (the first
 * connection is the edge's preconnect, left open until the first probe uses it).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { after, before, test } from 'node:test';
import { generateLabPki, type LabPki } from '../../../src/tls/lab-pki.js';
import { EdgeProcess } from '../../helpers/edge-process.js';
import { scrape } from '../../helpers/overload.js';

const EDGE_NAME = 'edge.lab.sips-edge.test';
const LB01 = 'lb01.voice.euc1.pure.cloud';
const LB02 = 'lb02.voice.euc1.pure.cloud';
let dir = '';
let pki: LabPki;
let server: tls.Server;
let server2: tls.Server;
let edge: EdgeProcess | undefined;
const seen: { name: string; resumed: boolean }[] = [];
let waiter: (() => void) | null = null;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sips-edge-client-resume-'));
  pki = generateLabPki({ outDir: dir, edgeName: EDGE_NAME, regions: ['euc1'] });
  const ticketKeys = randomBytes(48);
  const make = (h: string) => tls.createServer({
    cert: readFileSync(pki.vendor[h]!.chain), key: readFileSync(pki.vendor[h]!.key), ticketKeys,
    minVersion: 'TLSv1.2', maxVersion: 'TLSv1.2', ecdhCurve: 'secp384r1', sessionIdContext: 'lb',
  }, (s) => {
    seen.push({ name: h, resumed: s.isSessionReused() });
    waiter?.();
    let buf = '';
    s.on('error', () => {});
    s.on('data', (d: Buffer) => {
      // RFC 3261 §7.5: CRLFs before a start line are skipped (the edge's keep-alive ping, trunks[].preconnect).
      buf = (buf + d.toString()).replace(/^(\r\n)+/, '');
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      const head = buf.slice(0, end).split('\r\n');
      const keep = head.filter((l) => /^(via|from|to|call-id|cseq):/i.test(l));
      const to = keep.map((l) => (/^to:/i.test(l) && !/tag=/.test(l) ? `${l};tag=lb` : l));
      s.end(`SIP/2.0 200 OK\r\n${to.join('\r\n')}\r\nContent-Length: 0\r\n\r\n`);
    });
  });
  server = make(LB01);
  server2 = make(LB02);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  await new Promise<void>((r) => server2.listen((server.address() as AddressInfo).port, '127.0.0.5', r));
});

after(async () => {
  await edge?.stop();
  server.close();
  server2.close();
  rmSync(dir, { recursive: true, force: true });
});

async function until(pred: () => boolean, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) throw new Error(`timed out; connections seen: ${JSON.stringify(seen)}`);
    await new Promise<void>((r) => { waiter = r; setTimeout(r, 200); });
  }
}

test('the second connection to an lb host resumes; lb01\'s session is never offered to lb02', async () => {
  const port = (server.address() as AddressInfo).port;
  const q = (s: string) => JSON.stringify(s);
  edge = await EdgeProcess.start(`edge:
  name: ${EDGE_NAME}
listen:
  - { side: inside, transport: udp, address: 127.0.0.1, port: 0 }
tls:
  handshakeTimeoutMs: 5000
  crlFiles: [${q(pki.crls.ev.pem)}, ${q(pki.crls.g2.pem)}]
trunks:
  - name: vendor
    hosts:
      - { host: ${LB01}, port: ${port} }
      - { host: ${LB02}, port: ${port} }
    transport: tls
    mode: dnis
    trust: { files: [${q(pki.roots.ev)}] }
    health: { enabled: true, intervalSeconds: 1 }
routing:
  defaultTrunk: vendor
dns:
  overrides:
    ${LB01}: [127.0.0.1]
    ${LB02}: [127.0.0.5]
admin:
  enabled: true
  port: 0
`);
  const of = (n: string) => seen.filter((c) => c.name === n);
  await until(() => of(LB01).length >= 3 && of(LB02).length >= 3);
  for (const n of [LB01, LB02]) {
    const c = of(n);
    assert.equal(c[0]!.resumed, false, `${n}: first connection is a full handshake: ${JSON.stringify(seen)}`);
    assert.ok(c.slice(1).some((x) => x.resumed), `${n}: a later connection resumed: ${JSON.stringify(seen)}`);
  }
  // Both stand-ins share one ticket key and one port: a session of lb01 offered to lb02 would resume.
  const metrics = await scrape(edge);
  assert.match(metrics, /sips_edge_tls_handshakes_total\{role="client",result="ok",reason="none",cipher="[^"]+",resumed="true"\} [1-9]/, metrics);
});
