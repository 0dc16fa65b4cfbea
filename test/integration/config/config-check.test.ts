/**
 * Issue 7: `sips-edge config check FILE` through the CLI process: every shipped config passes (with
 * the lab PKI generated beside a copy of config/, so the `../.lab/` and `../../.lab/` paths resolve),
 * and every broken fixture fails with exit 1 and a message naming the key path and what is wrong.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { generateLabPki } from '../../../src/tls/lab-pki.js';
import { BIN } from '../../helpers/edge-process.js';

const BROKEN = join(process.cwd(), 'test/fixtures/config/broken');
let root = '';

before(() => {
  root = mkdtempSync(join(tmpdir(), 'sips-edge-config-'));
  cpSync(join(process.cwd(), 'config'), join(root, 'config'), { recursive: true });
  generateLabPki({ outDir: join(root, '.lab') });
});
after(() => rmSync(root, { recursive: true, force: true }));

function check(file: string, extra: readonly string[] = []): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, 'config', 'check', file, ...extra], { encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('--help prints usage and exits 0; a missing FILE is a usage error (2)', () => {
  const h = spawnSync(process.execPath, [BIN, 'config', '--help'], { encoding: 'utf8' });
  assert.equal(h.status, 0);
  assert.match(h.stdout, /config check FILE/);
  const u = spawnSync(process.execPath, [BIN, 'config', 'check'], { encoding: 'utf8' });
  assert.equal(u.status, 2);
  assert.match(u.stderr, /needs a FILE/);
});

test('the lab default config/sips-edge.yaml passes once the lab PKI exists', () => {
  const f = join(root, 'config/sips-edge.yaml');
  const r = check(f);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.trim(), `ok: ${f}`);
});

test('every config/examples/*.yaml passes', () => {
  const dir = join(root, 'config/examples');
  const files = readdirSync(dir).filter((f) => f.endsWith('.yaml'));
  assert.ok(files.length >= 3, `examples: ${files.join(', ')}`);
  for (const name of files) {
    const r = check(join(dir, name));
    assert.equal(r.code, 0, `${name}: ${r.stderr}`);
    assert.match(r.stdout, /^ok: /);
  }
});

test('the examples fail on the referenced files when the lab PKI is absent, and pass with --no-files', () => {
  const f = join(process.cwd(), 'config/examples/beside-pbx.yaml');
  const withFiles = check(join(root, 'config/examples/beside-pbx.yaml'));
  assert.equal(withFiles.code, 0);
  // Against a copy without .lab: the file checks name the key path and the file.
  const bare = mkdtempSync(join(tmpdir(), 'sips-edge-config-bare-'));
  try {
    mkdirSync(join(bare, 'a/b'), { recursive: true });
    cpSync(f, join(bare, 'a/b/beside-pbx.yaml'));
    const r = check(join(bare, 'a/b/beside-pbx.yaml'));
    assert.equal(r.code, 1);
    assert.match(r.stderr, /tls\.identities\[0\]\.cert: \S+\/\.lab\/edge\/edge\.chain\.pem does not exist/);
    assert.equal(check(join(bare, 'a/b/beside-pbx.yaml'), ['--no-files']).code, 0);
  } finally {
    rmSync(bare, { recursive: true, force: true });
  }
});

/** fixture -> [key path, what is wrong] the output must show on one line. */
const BROKEN_CASES: Record<string, [string, RegExp]> = {
  'ip-trunk-host.yaml': ['trunks[0].hosts[0].host', /got "192\.0\.2\.1": an IP address cannot be validated against a certificate \(S-VAL-3/],
  'unknown-key.yaml': ['edge.drainTimeoutSecs', /unknown key \(expected one of name, drainTimeoutSeconds[,)]/],
  'wrong-type.yaml': ['timers.T1', /got "fast", expected an integer/],
  'port-out-of-range.yaml': ['listen[0].port', /got 70000, expected 0\.\.65535/],
  'bad-enum.yaml': ['tls.deprecatedCiphers', /got "maybe", expected one of allow, warn, deny/],
  'udp-trunk-without-insecure.yaml': ['trunks[0].transport', /got "udp": the vendor trunk is TLS only \(S-CON-5\); set insecure: true/],
  'tgrp-without-tgrp.yaml': ['trunks[0].tgrp', /missing, mode tgrp needs the trunk group label/],
  'default-trunk-missing.yaml': ['routing.defaultTrunk', /got "clod", expected one of the trunk names \(cloud\)/],
  'overlapping-listeners.yaml': ['listen[1]', /udp 127\.0\.0\.1:5070 overlaps listen\[0\]/],
  'tls-listener-without-identity.yaml': ['tls.identities', /a TLS listener needs at least one certificate identity/],
  'passphrase-env-missing.yaml': ['tls.identities[0].passphraseEnv', /environment variable SIPS_EDGE_TEST_NO_SUCH_PASSPHRASE is not set/],
  'yaml-syntax.yaml': ['line 5', /YAML: Flow map in block collection/],
  'missing-file.yaml': ['tls.identities[0].cert', /no-such-dir\/edge\.chain\.pem does not exist/],
  'unknown-region.yaml': ['trunks[0].region', /got "euc9", expected one of use1, .*\(config\/regions\.yaml, S-REG\)/],
};

test('every broken fixture has a case here and every case a fixture', () => {
  assert.deepEqual(readdirSync(BROKEN).filter((f) => f.endsWith('.yaml')).sort(), Object.keys(BROKEN_CASES).sort());
});

for (const [name, [path, message]] of Object.entries(BROKEN_CASES)) {
  test(`broken config ${name}: exit 1, "${path}: ..." names what is wrong`, () => {
    // The passphrase case needs the variable unset, not empty.
    const env = { ...process.env };
    delete env['SIPS_EDGE_TEST_NO_SUCH_PASSPHRASE'];
    const r = spawnSync(process.execPath, [BIN, 'config', 'check', join(BROKEN, name)], { encoding: 'utf8', env });
    assert.equal(r.status, 1, r.stdout + r.stderr);
    assert.equal(r.stdout, '');
    const line = r.stderr.split('\n').find((l) => l.trim().startsWith(`${path}:`));
    assert.ok(line, `no line for ${path} in:\n${r.stderr}`);
    assert.match(line, message);
    assert.match(r.stderr.split('\n')[0]!, new RegExp(`${name.replace('.', '\\.')}: \\d+ problems?$`));
  });
}
