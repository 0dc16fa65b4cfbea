/**
 * Issue 7: `sips-edge doctor` against lab certificates, good and bad. Lab lb TLS servers run on
 * loopback presenting lab vendor leaves; the config maps their names to 127.0.0.1 (dns.overrides)
 * and trusts the lab roots. Exit semantics: 0 unless a line is FAIL (WARN lines allowed).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { DEFAULT_TLS_POLICY } from '../../../src/tls/policy.js';
import { buildServerOptions, loadServerIdentity } from '../../../src/tls/secure-context.js';
import type { LabPki } from '../../../src/tls/lab-pki.js';
import { BIN } from '../../helpers/edge-process.js';
import { makeLab, startTlsServer, deadPort, type RunningTlsServer } from '../../helpers/tls-lab.js';

const LB1 = 'lb01.voice.euc1.pure.cloud';
const LB2 = 'lb02.voice.euc1.pure.cloud';

let lab: { pki: LabPki; dir: string; cleanup: () => void };
const servers: RunningTlsServer[] = [];

async function lbServer(chain: string, key: string, name: string): Promise<RunningTlsServer> {
  const id = loadServerIdentity({ names: [name], certFile: chain, keyFile: key }, DEFAULT_TLS_POLICY);
  const s = await startTlsServer(buildServerOptions([id], DEFAULT_TLS_POLICY));
  servers.push(s);
  return s;
}

before(() => {
  lab = makeLab();
});
after(async () => {
  for (const s of servers) await s.close();
  lab.cleanup();
});

interface Run { readonly code: number | null; readonly lines: string[]; readonly stderr: string }

function doctor(yaml: string, extra: readonly string[] = ['--offline']): Promise<Run> {
  const dir = mkdtempSync(join(lab.dir, 'doctor-'));
  const file = join(dir, 'edge.yaml');
  writeFileSync(file, yaml);
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [BIN, 'doctor', '--config', file, ...extra], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    p.stderr.on('data', (d: Buffer) => { err += d.toString(); });
    p.once('close', (code) => resolve({ code, lines: out.split('\n').filter((l) => l.length > 0), stderr: err }));
  });
}

function config(o: { edgeName?: string; cert?: string; key?: string; hosts: readonly { name: string; port: number }[] }): string {
  const pki = lab.pki;
  return `edge:
  name: ${o.edgeName ?? pki.edge.host}
listen:
  - { side: outside, transport: tls, address: 127.0.0.1, port: 0 }
  - { side: inside, transport: udp, address: 127.0.0.1, port: 0 }
tls:
  identities:
    - { cert: ${o.cert ?? pki.edge.chain}, key: ${o.key ?? pki.edge.key} }
trunks:
  - name: lab
    region: euc1
    mode: dnis
    hosts:
${o.hosts.map((h) => `      - { host: ${h.name}, port: ${h.port} }`).join('\n')}
    trust: { files: [${pki.roots.ev}, ${pki.roots.g2}] }
dns:
  overrides:
${o.hosts.map((h) => `    ${h.name}: [127.0.0.1]`).join('\n')}
admin: { enabled: false }
`;
}

const line = (r: Run, id: string): string => {
  const l = r.lines.find((x) => x.includes(` ${id}: `));
  assert.ok(l, `no ${id} line in:\n${r.lines.join('\n')}`);
  return l;
};

test('--help lists the checks and exits 0', async () => {
  const r = await new Promise<{ code: number | null; out: string }>((resolve) => {
    const p = spawn(process.execPath, [BIN, 'doctor', '--help'], { stdio: ['ignore', 'pipe', 'ignore'] });
    let out = '';
    p.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    p.once('close', (code) => resolve({ code, out }));
  });
  assert.equal(r.code, 0);
  assert.match(r.out, /--offline/);
  assert.match(r.out, /S-TRUST-4/);
});

test('good lab setup: PASS lines, the lab-root WARN, exit 0', async () => {
  const lb = lab.pki.vendor[LB1]!;
  const s = await lbServer(lb.chain, lb.key, LB1);
  const r = await doctor(config({ hosts: [{ name: LB1, port: s.port }] }));
  assert.equal(r.code, 0, r.lines.join('\n') + r.stderr);
  for (const id of ['edge.chain', 'edge.validity', 'edge.key-type', 'edge.name', 'edge.wildcard', 'edge.key', `trunk.lab.${LB1}`]) {
    assert.match(line(r, id), /^PASS /, id);
  }
  assert.match(line(r, 'edge.chain'), /edge\.lab\.sips-edge\.test -> Lab EV Intermediate -> Lab EV Root/);
  assert.match(line(r, `trunk.lab.${LB1}`), /TLSv1\.2 \S+, name lb01\.voice\.euc1\.pure\.cloud/);
  const family = line(r, 'edge.ca-family');
  assert.match(family, /^WARN /);
  assert.match(family, /lab root: the vendor will not trust it/);
  assert.match(line(r, 'edge.crl'), /^WARN .*--offline/);
  assert.ok(!r.lines.some((l) => l.startsWith('FAIL')), r.lines.join('\n'));
  assert.match(r.lines[r.lines.length - 1]!, /^\d+ pass, \d+ warn, 0 fail$/);
});

test('an lb host presenting a certificate for another name: FAIL name-mismatch, exit 1', async () => {
  const neg = lab.pki.negative['wrong-name'];
  const s = await lbServer(neg.chain, neg.key, LB2);
  const r = await doctor(config({ hosts: [{ name: LB2, port: s.port }] }));
  assert.equal(r.code, 1);
  const l = line(r, `trunk.lab.${LB2}`);
  assert.match(l, /^FAIL /);
  assert.match(l, /name-mismatch/);
  assert.match(l, /-> fix: /);
});

test('an lb host nobody listens on: WARN unreachable, not a failure', async () => {
  const r = await doctor(config({ hosts: [{ name: LB1, port: await deadPort() }] }));
  assert.equal(r.code, 0, r.lines.join('\n'));
  assert.match(line(r, `trunk.lab.${LB1}`), /^WARN .*unreachable/);
});

test('an expired edge certificate: FAIL expired, exit 1', async () => {
  const neg = lab.pki.negative.expired;
  const r = await doctor(config({ edgeName: neg.host, cert: neg.chain, key: neg.key, hosts: [{ name: LB1, port: await deadPort() }] }));
  assert.equal(r.code, 1);
  assert.match(line(r, 'edge.validity'), /^FAIL .*expired.*\[expired\]/);
});

test('a wildcard edge certificate and a name that is not on it: FAIL wildcard and FAIL name', async () => {
  const neg = lab.pki.negative.wildcard;
  const r = await doctor(config({ edgeName: 'sbc.example.test', cert: neg.chain, key: neg.key, hosts: [{ name: LB1, port: await deadPort() }] }));
  assert.equal(r.code, 1);
  assert.match(line(r, 'edge.wildcard'), /^FAIL .*wildcard/);
  assert.match(line(r, 'edge.name'), /^FAIL .*sbc\.example\.test is not a dNSName/);
});

test('an edge certificate file without its intermediate: FAIL incomplete chain', async () => {
  const neg = lab.pki.negative['incomplete-chain'];
  const r = await doctor(config({ edgeName: neg.host, cert: neg.chain, key: neg.key, hosts: [{ name: LB1, port: await deadPort() }] }));
  assert.equal(r.code, 1);
  assert.match(line(r, 'edge.chain'), /^FAIL incomplete|^FAIL .*incomplete/);
});

test('a config that does not load: one FAIL line per problem, exit 1', async () => {
  const r = await doctor('edge: { name: 192.0.2.1 }\nlisten: []\n');
  assert.equal(r.code, 1);
  assert.ok(r.lines.some((l) => /^FAIL  config edge\.name: .*S-VAL-3/.test(l)), r.lines.join('\n'));
});
