import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const BIN = join(process.cwd(), 'dist/cli/main.js');

// Node 20 is end of life (2026-04-30): the edge and its tests run on the Node 24 that
// `npm ci` brings (the pinned `node` devDependency), never on an older `node` first on PATH.
test('sips-edge version names the package version and a Node >= 24 runtime', () => {
  const r = spawnSync(process.execPath, [BIN, 'version'], { encoding: 'utf8', timeout: 20_000 });
  assert.equal(r.status, 0, r.stderr);
  const m = /^sips-edge (\S+) \(node v(\d+)\.(\d+)\.(\d+)\)$/.exec(r.stdout.trim());
  assert.ok(m, r.stdout);
  const pkg = JSON.parse(readFileSync(join(process.cwd(), 'package.json'), 'utf8')) as { version: string; devDependencies: Record<string, string> };
  assert.equal(m[1], pkg.version);
  assert.ok(Number(m[2]) >= 24, `runs on node ${m[2]}`);
  assert.equal(`${m[2]}.${m[3]}.${m[4]}`, pkg.devDependencies['node'], 'the runtime is the pinned node package');
});
