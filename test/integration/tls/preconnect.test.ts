/**
 * trunks[].preconnect (src/routing/preconnect.ts): at start the edge opens its TLS connection to each
 * trunk host before any call. `openssl s_server` stands in for lb01 (TLS 1.2, secp384r1, the lb01
 * certificate of the lab PKI) and shows what it received; lb02 points at a dead port; a second trunk
 * has preconnect off.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { EdgeProcess } from '../../helpers/edge-process.js';
import { freePort } from '../../helpers/ports.js';
import { makeLab } from '../../helpers/tls-lab.js';
import type { LabPki } from '../../../src/tls/lab-pki.js';

const LB01 = 'lb01.voice.euc1.pure.cloud';
const LB02 = 'lb02.voice.euc1.pure.cloud';
const LB03 = 'lb03.voice.euc1.pure.cloud';
let lab: { pki: LabPki; dir: string; cleanup: () => void };
let server: ChildProcess | undefined;
let out = '';
let changed: (() => void) | null = null;

/** Resolves once `re` matches what s_server printed (bounded). */
async function printed(re: RegExp, ms = 15_000): Promise<void> {
  const end = Date.now() + ms;
  while (!re.test(out)) {
    if (Date.now() > end) throw new Error(`s_server never printed ${re}:\n${out.slice(-2000)}`);
    await new Promise<void>((r) => { changed = r; setTimeout(r, 500); });
  }
}

before(() => {
  lab = makeLab();
});

after(() => {
  if (server?.pid !== undefined && server.exitCode === null) server.kill('SIGTERM');
  lab.cleanup();
});

test('preconnect: the TLS connection to lb01 is up (SNI lb01, CRLF ping) before any call; a dead lb02 is logged with its reason; a trunk with preconnect off is not dialled', async () => {
  const port = await freePort();
  const dead = await freePort();
  const v = lab.pki.vendor[LB01]!;
  // Both contexts (default and the SNI one, -servername/-cert2) send leaf + intermediate: -build_chain
  // from a store holding the intermediate and the root (S-TRUST-5: the edge wants the chain).
  const chainStore = join(lab.dir, 'ev-chain-store.pem');
  writeFileSync(chainStore, readFileSync(lab.pki.intermediates.ev, 'latin1') + readFileSync(lab.pki.roots.ev, 'latin1'));
  server = spawn('openssl', [
    's_server', '-accept', `127.0.0.1:${port}`, '-cert', v.chain, '-key', v.key, '-build_chain', '-CAfile', chainStore,
    '-tls1_2', '-curves', 'secp384r1', '-servername', LB01, '-cert2', v.chain, '-key2', v.key, '-naccept', '1',
  ], { stdio: ['pipe', 'pipe', 'pipe'] });
  const take = (d: Buffer): void => { out += d.toString('latin1'); changed?.(); };
  server.stdout!.on('data', take);
  server.stderr!.on('data', take);
  await printed(/ACCEPT/);
  const q = (s: string) => JSON.stringify(s);
  const edge = await EdgeProcess.start(`edge:
  name: edge.lab.sips-edge.test
  warmupCalls: 0
listen:
  - { side: inside, transport: udp, address: 127.0.0.1, port: 0 }
tls:
  crlFiles: [${q(lab.pki.crls.ev.pem)}, ${q(lab.pki.crls.g2.pem)}]
trunks:
  - name: vendor
    hosts:
      - { host: ${LB01}, port: ${port} }
      - { host: ${LB02}, port: ${dead} }
    transport: tls
    mode: dnis
    trust: { files: [${q(lab.pki.roots.ev)}] }
    health: { enabled: false }
  - name: quiet
    hosts:
      - { host: ${LB03}, port: ${port} }
    transport: tls
    mode: dnis
    preconnect: false
    trust: { files: [${q(lab.pki.roots.ev)}] }
    health: { enabled: false }
routing:
  defaultTrunk: vendor
dns:
  overrides:
    ${LB01}: [127.0.0.1]
    ${LB02}: [127.0.0.1]
    ${LB03}: [127.0.0.1]
`);
  try {
    // The edge logs every attempt of one start together, once all of them have ended.
    await edge.waitFor((l) => l.event === 'preconnect' && l['host'] === LB02);
    const lines = edge.events('preconnect');
    const of = (h: string) => lines.filter((l) => l['host'] === h);
    assert.equal(of(LB01).length, 1);
    assert.equal(of(LB01)[0]!['ok'], true, JSON.stringify(of(LB01)));
    assert.equal(of(LB02)[0]!['ok'], false);
    assert.match(String(of(LB02)[0]!['reason']), /\S/, 'the failure says why');
    assert.equal(of(LB03).length, 0, 'preconnect: false: not dialled');
    // What the real TLS peer saw: SNI lb01 (it switched to its lb01 context), then the CRLFCRLF ping.
    await printed(/Switching server context/);
    await printed(/CIPHER is ECDHE-RSA-AES256-GCM-SHA384|CIPHER is ECDHE-RSA-AES128-GCM-SHA256/);
    // s_server echoes what it reads; its own lines end in LF alone, so CRLFCRLF is the edge's ping.
    await printed(/\r\n\r\n/);
    assert.equal(edge.events('transaction').length, 0, 'no call was made');
  } finally {
    await edge.stop();
  }
});
