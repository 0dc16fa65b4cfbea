/** docs/config-reference.md is generated from the schema; this fails when the two are out of step. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { configSchema } from '../../../src/config/schema.js';
import { referenceRows } from '../../../src/config/validate.js';

type Render = (schema: typeof configSchema, rows: typeof referenceRows) => string;

async function loadRenderer(): Promise<Render> {
  const mod: unknown = await import(pathToFileURL(join(process.cwd(), 'scripts/gen-config-reference.mjs')).href);
  const fn = (mod as { renderConfigReference?: unknown }).renderConfigReference;
  assert.equal(typeof fn, 'function', 'scripts/gen-config-reference.mjs exports renderConfigReference');
  return fn as Render;
}

test('docs/config-reference.md matches the schema (regenerate: node scripts/gen-config-reference.mjs)', async () => {
  const render = await loadRenderer();
  const fresh = render(configSchema, referenceRows);
  const committed = readFileSync(join(process.cwd(), 'docs/config-reference.md'), 'utf8');
  assert.equal(committed, fresh, 'docs/config-reference.md is out of step with src/config/schema.ts: run `npx tsc -p tsconfig.json && node scripts/gen-config-reference.mjs`');
});

test('every schema key has a row with a description', async () => {
  const rows = referenceRows(configSchema);
  for (const must of ['edge.name', 'listen[].port', 'tls.identities[].cert', 'trunks[].mode', 'trunks[].numbers.countryCode', 'dns.overrides', 'limits.maxTransactions']) {
    assert.ok(rows.some((r) => r.path === must), `no row for ${must}`);
  }
  for (const r of rows) assert.ok(r.doc.trim().length > 0, `${r.path} has no description`);
  const text = (await loadRenderer())(configSchema, referenceRows);
  for (const r of rows) assert.ok(text.includes(`| \`${r.path}\` |`), `${r.path} missing from the rendered reference`);
});
