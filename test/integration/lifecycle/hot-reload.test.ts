/**
 * Issue 7, certificate hot reload: the edge runs as its own process with an outside TLS listener
 * presenting certificate A. A client connects and stays connected; the files are replaced with
 * certificate B (same name, another lab PKI), SIGHUP: a new client sees B while the first
 * connection still works (OPTIONS -> 200). A broken file + SIGHUP is refused and B stays.
 */
import assert from 'node:assert/strict';
import { randomBytes, X509Certificate } from 'node:crypto';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { after, test } from 'node:test';
import { generateLabPki } from '../../../src/tls/lab-pki.js';
import { EdgeProcess } from '../../helpers/edge-process.js';

const dir = mkdtempSync(join(tmpdir(), 'sips-edge-reload-'));
const edges: EdgeProcess[] = [];
const sockets: tls.TLSSocket[] = [];
after(async () => {
  for (const s of sockets) s.destroy();
  for (const e of edges) await e.stop();
  rmSync(dir, { recursive: true, force: true });
});

const NAME = 'edge.reload.sips-edge.test';

function connect(port: number, ca: readonly string[]): Promise<tls.TLSSocket> {
  return new Promise((resolve, reject) => {
    const s = tls.connect({ host: '127.0.0.1', port, servername: NAME, ca: [...ca], minVersion: 'TLSv1.2', maxVersion: 'TLSv1.2', checkServerIdentity: tls.checkServerIdentity });
    sockets.push(s);
    s.once('secureConnect', () => resolve(s));
    s.once('error', reject);
  });
}

const leafFingerprint = (s: tls.TLSSocket): string => s.getPeerX509Certificate()?.fingerprint256 ?? 'none';
const fileLeafFingerprint = (file: string): string => new X509Certificate(readFileSync(file)).fingerprint256;

/** One OPTIONS to the edge itself over an open connection; resolves with the status line. */
function options(s: tls.TLSSocket, port: number): Promise<string> {
  const branch = `z9hG4bK${randomBytes(6).toString('hex')}`;
  const msg = [
    `OPTIONS sip:${NAME}:${port};transport=tls SIP/2.0`,
    `Via: SIP/2.0/TLS 127.0.0.1:5999;branch=${branch};rport`,
    'Max-Forwards: 70',
    `From: <sip:probe@client.lab.test>;tag=${randomBytes(4).toString('hex')}`,
    `To: <sip:${NAME}>`,
    `Call-ID: reload-${randomBytes(6).toString('hex')}@client.lab.test`,
    'CSeq: 1 OPTIONS',
    'Content-Length: 0',
    '',
    '',
  ].join('\r\n');
  return new Promise((resolve, reject) => {
    let buf = '';
    const onData = (d: Buffer): void => {
      buf += d.toString('latin1');
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0 || !buf.includes(branch)) return;
      s.off('data', onData);
      resolve(buf.slice(0, buf.indexOf('\r\n')));
    };
    s.on('data', onData);
    s.once('error', reject);
    s.write(msg);
  });
}

test('SIGHUP: new handshakes get certificate B, the open connection stays usable; a broken file is refused', async () => {
  const a = generateLabPki({ outDir: join(dir, 'a'), edgeName: NAME });
  const b = generateLabPki({ outDir: join(dir, 'b'), edgeName: NAME });
  const chain = join(dir, 'edge.chain.pem');
  const key = join(dir, 'edge.key.pem');
  copyFileSync(a.edge.chain, chain);
  copyFileSync(a.edge.key, key);
  const edge = await EdgeProcess.start(`edge:
  name: ${NAME}
listen:
  - { side: outside, transport: tls, address: 127.0.0.1, port: 0 }
  - { side: inside, transport: udp, address: 127.0.0.1, port: 0 }
tls:
  identities:
    - { cert: ${chain}, key: ${key} }
routing:
  vendorSources: [127.0.0.1/32]
admin: { enabled: false }
`);
  edges.push(edge);
  const port = edge.port('outside', 'tls');
  const ca = [readFileSync(a.roots.ev, 'utf8'), readFileSync(b.roots.ev, 'utf8')];

  const first = await connect(port, ca);
  assert.equal(leafFingerprint(first), fileLeafFingerprint(a.edge.chain));
  assert.match(await options(first, port), /^SIP\/2\.0 200 /);

  copyFileSync(b.edge.chain, chain);
  copyFileSync(b.edge.key, key);
  edge.proc.kill('SIGHUP');
  const reloaded = await edge.waitFor((l) => l.event === 'reloaded');
  assert.equal(reloaded['reloaded'], 1);
  assert.equal(reloaded['refused'], 0);

  const second = await connect(port, ca);
  assert.equal(leafFingerprint(second), fileLeafFingerprint(b.edge.chain), 'a new client sees certificate B');
  assert.notEqual(fileLeafFingerprint(a.edge.chain), fileLeafFingerprint(b.edge.chain));
  // The connection made before the reload is still open and still carries SIP.
  assert.equal(first.destroyed, false, 'the first connection was closed by the reload');
  assert.match(await options(first, port), /^SIP\/2\.0 200 /);

  writeFileSync(chain, '-----BEGIN CERTIFICATE-----\nbroken\n-----END CERTIFICATE-----\n');
  edge.proc.kill('SIGHUP');
  const refused = await edge.waitFor((l) => l.event === 'reload-refused');
  assert.match(String(refused['error']), /edge\.chain\.pem/);
  await edge.waitFor((l) => l.event === 'reloaded' && l['refused'] === 1);
  const third = await connect(port, ca);
  assert.equal(leafFingerprint(third), fileLeafFingerprint(b.edge.chain), 'the refused reload keeps certificate B');
  assert.match(await options(third, port), /^SIP\/2\.0 200 /);
});
