import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? files(p) : n.endsWith('.ts') ? [p] : [];
  });
}

test('every SIPS_ERR_* code in src is documented in docs/errors.md, and the doc lists no stale code', () => {
  const inSrc = new Set<string>();
  for (const f of files(join(process.cwd(), 'src'))) {
    const text = readFileSync(f, 'utf8');
    for (const m of text.matchAll(/SIPS_ERR_[A-Z0-9_]*[A-Z0-9]/g)) {
      // `SIPS_ERR_SDP_${...}` builds codes from a table; the prefix itself is not a code.
      if (text[m.index + m[0].length] !== '_') inSrc.add(m[0]);
    }
  }
  const doc = readFileSync(join(process.cwd(), 'docs/errors.md'), 'utf8');
  const inDoc = new Set([...doc.matchAll(/`(SIPS_ERR_[A-Z0-9_]+)`/g)].map((m) => m[1]!));
  const missing = [...inSrc].filter((c) => !inDoc.has(c)).sort();
  const stale = [...inDoc].filter((c) => !inSrc.has(c)).sort();
  assert.deepEqual({ missing, stale }, { missing: [], stale: [] });
});
