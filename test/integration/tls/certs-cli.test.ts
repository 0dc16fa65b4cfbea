/** `sips-edge certs lab`: files, manifest, key modes, and byte-for-byte reproducibility with --seed. */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { certsCommand } from '../../../src/cli/commands/certs.js';

const dirs: string[] = [];
const tmp = (): string => {
  const d = mkdtempSync(join(tmpdir(), 'sips-edge-certs-'));
  dirs.push(d);
  return d;
};
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function capture(): { io: { out: (t: string) => void; err: (t: string) => void }; out: string[]; err: string[] } {
  const out: string[] = [];
  const err: string[] = [];
  return { io: { out: (t) => out.push(t), err: (t) => err.push(t) }, out, err };
}

test('--help prints usage and exits 0; bad usage exits 2', async () => {
  const c = capture();
  assert.equal(await certsCommand(['--help'], c.io), 0);
  assert.match(c.out.join('\n'), /certs lab --out DIR/);
  const d = capture();
  assert.equal(await certsCommand(['lab'], d.io), 2);
  assert.match(d.err.join('\n'), /--out DIR is required/);
  assert.equal(await certsCommand(['lab', '--out', tmp(), '--bogus'], capture().io), 2);
});

test('--seed makes the output reproducible; manifest lists every file; keys are 0600', async () => {
  const [a, b] = [tmp(), tmp()];
  const args = ['--seed', '7', '--region', 'euc1', '--region', 'apne3', '--edge-name', 'sbc.example.test'];
  assert.equal(await certsCommand(['lab', '--out', a, ...args], capture().io), 0);
  assert.equal(await certsCommand(['lab', '--out', b, ...args], capture().io), 0);
  const manifest = JSON.parse(readFileSync(join(a, 'manifest.json'), 'utf8')) as { files: { file: string; purpose: string }[]; regions: string[] };
  assert.deepEqual(manifest.regions, ['euc1', 'apne3']);
  const files = manifest.files.map((f) => f.file);
  for (const must of ['roots/lab-ev-root.pem', 'vendor/lb04.voice.apne3.pure.cloud.chain.pem', 'edge/edge.chain.pem', 'negative/wildcard.chain.pem', 'crl/lab-ev-int.crl']) {
    assert.ok(files.includes(must), must);
  }
  for (const f of files) {
    assert.ok(readFileSync(join(a, f)).equals(readFileSync(join(b, f))), `${f} differs between seeded runs`);
    if (f.endsWith('.key.pem')) assert.equal(statSync(join(a, f)).mode & 0o777, 0o600, f);
    assert.ok(manifest.files.find((m) => m.file === f)!.purpose.length > 5);
  }
  assert.match(readFileSync(join(a, 'edge/edge.chain.pem'), 'latin1'), /BEGIN CERTIFICATE/);
});
