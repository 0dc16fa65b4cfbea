import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, statSync, existsSync } from 'node:fs';
import { join, relative, dirname, resolve } from 'node:path';

/**
 * Keeps the layer map of docs (architecture.md, style.md) true: dependencies point down only, and
 * the named libraries are imported by their one owning layer.
 */
const SRC = join(process.cwd(), 'src');

/** What each layer may import (besides itself, errors.ts, clock.ts, diagnostics.ts). */
const ALLOWED: Record<string, string[]> = {
  message: [],
  sdp: ['message'],
  config: ['message'],
  tls: ['config'],
  transport: ['message', 'config'],
  transaction: ['message', 'transport'],
  routing: ['message', 'config', 'tls', 'transaction'],
  media: ['message', 'sdp'],
  proxy: ['message', 'transaction', 'transport', 'routing', 'sdp', 'tls', 'config', 'media'],
  observability: ['message', 'config', 'sdp'],
  doctor: ['message', 'config', 'tls', 'routing'],
  lab: ['message', 'tls', 'sdp', 'config', 'transport', 'transaction', 'routing', 'proxy', 'observability'],
  cli: ['*'],
  '.': ['*'],
};

/** Libraries that only one layer may import. */
const OWNERS: Record<string, string[]> = {
  'sdp-transform': ['sdp'],
  'node-forge': ['tls'],
  pino: ['observability'],
  'prom-client': ['observability'],
};

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? files(p) : n.endsWith('.ts') ? [p] : [];
  });
}

function layerOf(file: string): string {
  const rel = relative(SRC, file);
  return rel.includes('/') ? rel.split('/')[0]! : '.';
}

test('src layers import only the layers below them', () => {
  const problems: string[] = [];
  for (const file of files(SRC)) {
    const layer = layerOf(file);
    const allowed = ALLOWED[layer];
    if (allowed === undefined) {
      problems.push(`${relative(SRC, file)}: layer "${layer}" is not in the map`);
      continue;
    }
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(/(?:^|\n)\s*(?:import|export)[^'"]*?from\s+['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g)) {
      const spec = m[1] ?? m[2]!;
      if (spec.startsWith('.')) {
        const target = resolve(dirname(file), spec.replace(/\.js$/, '.ts'));
        if (!existsSync(target)) continue;
        const tl = layerOf(target);
        if (tl === layer || tl === '.' && ['errors.ts', 'clock.ts', 'diagnostics.ts'].includes(relative(SRC, target))) continue;
        if (!allowed.includes('*') && !allowed.includes(tl)) problems.push(`${relative(SRC, file)} imports ${relative(SRC, target)} (${layer} -> ${tl})`);
      } else {
        const pkg = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]!;
        const owners = OWNERS[pkg];
        if (owners !== undefined && !owners.includes(layer)) problems.push(`${relative(SRC, file)} imports ${pkg}, owned by ${owners.join(', ')}`);
      }
    }
  }
  assert.deepEqual(problems, []);
});

test('no `any` in src', () => {
  const hits = files(SRC).flatMap((f) => readFileSync(f, 'utf8').split('\n').map((l, i) => [f, i + 1, l] as const))
    .filter(([, , l]) => /:\s*any\b|\bas any\b|<any>/.test(l))
    .map(([f, n]) => `${relative(SRC, f)}:${n}`);
  assert.deepEqual(hits, []);
});
