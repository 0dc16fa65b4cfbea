/**
 * Issue 13: TLS 1.2 session resumption on the edge's listener, seen by `openssl s_client`
 * (-sess_out / -sess_in): tickets, session IDs (-no_ticket), a ticket shared by two edge processes
 * through tls.sessionTickets.keyFile, rotation (an old ticket gets a full handshake), and the policy
 * still enforced on a resumption attempt.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { generateLabPki, type LabPki } from '../../../src/tls/lab-pki.js';
import { EdgeProcess } from '../../helpers/edge-process.js';
import { sClient } from '../../helpers/tls-lab.js';

const EDGE_NAME = 'edge.lab.sips-edge.test';
let dir = '';
let pki: LabPki;
let keyFile = '';
const edges: EdgeProcess[] = [];

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'sips-edge-resume-'));
  pki = generateLabPki({ outDir: dir, edgeName: EDGE_NAME, regions: ['euc1'] });
  keyFile = join(dir, 'ticket.secret');
  writeFileSync(keyFile, 'a-shared-ticket-secret-of-more-than-32-bytes\n');
});

after(async () => {
  for (const e of edges) await e.stop();
  rmSync(dir, { recursive: true, force: true });
});

function config(tickets: string, extraTls = ''): string {
  const q = (s: string) => JSON.stringify(s);
  return `edge:
  name: ${EDGE_NAME}
listen:
  - { side: inside, transport: udp, address: 127.0.0.1, port: 0 }
  - { side: outside, transport: tls, address: 127.0.0.1, port: 0 }
tls:
  handshakeTimeoutMs: 5000
  identities:
    - { cert: ${q(pki.edge.chain)}, key: ${q(pki.edge.key)} }
  sessionTickets: ${tickets}
${extraTls}
trunks:
  - name: vendor
    hosts:
      - { host: lb01.voice.euc1.pure.cloud, port: 5061 }
    transport: tls
    mode: dnis
    trust: { files: [${q(pki.roots.ev)}] }
    health: { enabled: false }
routing:
  defaultTrunk: vendor
  vendorSources: [127.0.0.1/32]
dns:
  overrides:
    lb01.voice.euc1.pure.cloud: [127.0.0.1]
admin:
  enabled: false
`;
}

async function edge(tickets: string, extraTls = ''): Promise<EdgeProcess> {
  const e = await EdgeProcess.start(config(tickets, extraTls));
  edges.push(e);
  return e;
}

const sess = (name: string) => join(dir, `${name}.sess`);
const args = (...more: string[]) => ['-tls1_2', '-servername', EDGE_NAME, ...more];
const reused = (out: string) => /^Reused, TLSv1\.2/m.test(out);
const fresh = (out: string) => /^New, TLSv1\.2/m.test(out);

// A long period: the two connections of a test never straddle a boundary in practice.
const LONG = '{ rotationSeconds: 86400 }';

test('a ticket resumes on the second connection (Reused, TLSv1.2)', async () => {
  const e = await edge(LONG);
  const port = e.port('outside', 'tls');
  const first = await sClient(port, args('-sess_out', sess('t1')));
  assert.ok(fresh(first.stdout), first.stdout);
  const second = await sClient(port, args('-sess_in', sess('t1')));
  assert.ok(reused(second.stdout), second.stdout);
});

test('without a ticket (-no_ticket) the session ID resumes on the same process', async () => {
  const e = edges[0] ?? await edge(LONG);
  const port = e.port('outside', 'tls');
  const first = await sClient(port, args('-no_ticket', '-sess_out', sess('id1')));
  assert.ok(fresh(first.stdout), first.stdout);
  const second = await sClient(port, args('-no_ticket', '-sess_in', sess('id1')));
  assert.ok(reused(second.stdout), second.stdout);
});

test('sessionTickets.enabled: false issues no ticket; the session ID still resumes', async () => {
  const e = await edge('{ enabled: false }');
  const port = e.port('outside', 'tls');
  const first = await sClient(port, args('-sess_out', sess('off')));
  assert.doesNotMatch(first.stdout, /TLS session ticket:/, first.stdout);
  const second = await sClient(port, args('-sess_in', sess('off')));
  assert.ok(reused(second.stdout), second.stdout);
});

test('two edge processes sharing keyFile: a ticket from A resumes on B; a process with its own secret does a full handshake', async () => {
  const a = await edge(`{ keyFile: ${JSON.stringify(keyFile)}, rotationSeconds: 86400 }`);
  const b = await edge(`{ keyFile: ${JSON.stringify(keyFile)}, rotationSeconds: 86400 }`);
  const c = await edge(LONG);
  const first = await sClient(a.port('outside', 'tls'), args('-sess_out', sess('ab')));
  assert.ok(fresh(first.stdout), first.stdout);
  const onB = await sClient(b.port('outside', 'tls'), args('-sess_in', sess('ab')));
  assert.ok(reused(onB.stdout), onB.stdout);
  const onC = await sClient(c.port('outside', 'tls'), args('-sess_in', sess('ab')));
  assert.ok(fresh(onC.stdout), onC.stdout);
});

test('after a rotation the previous period\'s ticket gets a full handshake, not a failure', async () => {
  const e = await edge('{ rotationSeconds: 2 }');
  const port = e.port('outside', 'tls');
  const first = await sClient(port, args('-sess_out', sess('rot')));
  assert.ok(fresh(first.stdout), first.stdout);
  const seen = e.events('tls-ticket-key-rotated').length;
  await e.line('ticket key rotation after the ticket', () => e.events('tls-ticket-key-rotated').length > seen, 10_000);
  const second = await sClient(port, args('-sess_in', sess('rot')));
  assert.ok(fresh(second.stdout), second.stdout);
  assert.equal(second.cipher, 'ECDHE-RSA-AES256-GCM-SHA384');
});

test('policy holds on resumption: another cipher, TLS 1.3 or 1.1 do not get the session', async () => {
  const e = edges[0]!;
  const port = e.port('outside', 'tls');
  const first = await sClient(port, args('-cipher', 'ECDHE-RSA-AES256-GCM-SHA384', '-sess_out', sess('pol')));
  assert.equal(first.cipher, 'ECDHE-RSA-AES256-GCM-SHA384', first.stdout);
  const otherCipher = await sClient(port, args('-cipher', 'AES128-GCM-SHA256', '-sess_in', sess('pol')));
  assert.ok(!reused(otherCipher.stdout), otherCipher.stdout);
  for (const v of ['-tls1_3', '-tls1_1']) {
    const r = await sClient(port, [v, '-servername', EDGE_NAME, '-sess_in', sess('pol')]);
    assert.ok(!reused(r.stdout), r.stdout);
    assert.equal(r.cipher, null, r.stdout);
  }
});

test('a deprecated-cipher ticket from a looser instance is not resumed by a stricter one sharing the secret', async () => {
  const loose = await edge(`{ keyFile: ${JSON.stringify(keyFile)}, rotationSeconds: 86400 }`, '  deprecatedCiphers: allow');
  const strict = await edge(`{ keyFile: ${JSON.stringify(keyFile)}, rotationSeconds: 86400 }`, '  deprecatedCiphers: deny');
  const first = await sClient(loose.port('outside', 'tls'), args('-cipher', 'AES256-SHA256', '-sess_out', sess('dep')));
  assert.equal(first.cipher, 'AES256-SHA256', first.stdout);
  const r = await sClient(strict.port('outside', 'tls'), args('-cipher', 'AES256-SHA256:ECDHE-RSA-AES256-GCM-SHA384', '-sess_in', sess('dep')));
  assert.ok(fresh(r.stdout), r.stdout);
  assert.equal(r.cipher, 'ECDHE-RSA-AES256-GCM-SHA384');
});
