import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, statSync, existsSync } from 'node:fs';
import { join, relative, dirname, resolve } from 'node:path';

/**
 * The layer map, as the code has it: one row per folder of src/, bottom layer first. A layer may
 * import only the layers named in its row (and itself, and the shared leaves below); every name
 * in a row is an import the code makes, so the map is neither looser nor staler than the graph.
 * The README's "Layout" section carries the same table (checked below): change both together.
 */
const LAYERS: ReadonlyArray<readonly [layer: string, imports: readonly string[]]> = [
  ['message', []],
  ['sdp', []],
  ['media', []],
  ['config', ['message']],
  ['tls', []],
  ['transport', ['message']],
  ['transaction', ['message', 'transport']],
  ['routing', ['message', 'config', 'transaction']],
  ['proxy', ['message', 'sdp', 'media', 'config', 'transaction', 'routing']],
  ['observability', ['message', 'sdp']],
  ['lab', ['message', 'sdp', 'config', 'tls', 'transport', 'routing']],
  ['doctor', ['config', 'tls', 'routing']],
  ['cli', ['*']],
  // The composition root: sip-stack.ts (the SIP stack, built in one pass), edge-tls.ts (its TLS material, both
  // roles), edge-runtime.ts (the process around it), edge-cluster.ts and worker-routing.ts (edge.workers > 1), loopback-warmup.ts (a private stack before listening).
  ['.', ['*']],
];

/** Root modules every layer may import, which import nothing from src themselves. */
const SHARED_LEAVES = ['errors.ts', 'clock.ts', 'loop-load.ts', 'diagnostics.ts'];

/** Libraries that only one layer may import. */
const OWNERS: Record<string, string[]> = {
  'sdp-transform': ['sdp'],
  'node-forge': ['tls'],
  pino: ['observability'],
  'prom-client': ['observability'],
};

const SRC = join(process.cwd(), 'src');
const ALLOWED = new Map(LAYERS);

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

interface Import { readonly file: string; readonly layer: string; readonly target: string | null; readonly pkg: string | null }

function imports(): Import[] {
  const out: Import[] = [];
  for (const file of files(SRC)) {
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(/(?:^|\n)\s*(?:import|export)[^'"]*?from\s+['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g)) {
      const spec = m[1] ?? m[2]!;
      if (spec.startsWith('.')) {
        const target = resolve(dirname(file), spec.replace(/\.js$/, '.ts'));
        assert.ok(existsSync(target), `${relative(SRC, file)} imports ${spec}, which does not exist`);
        out.push({ file, layer: layerOf(file), target, pkg: null });
      } else {
        const pkg = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]!;
        out.push({ file, layer: layerOf(file), target: null, pkg });
      }
    }
  }
  return out;
}

function isSharedLeaf(target: string): boolean {
  return SHARED_LEAVES.includes(relative(SRC, target));
}

test('the map names every folder of src, and only those', () => {
  const dirs = readdirSync(SRC).filter((n) => statSync(join(SRC, n)).isDirectory()).sort();
  assert.deepEqual(LAYERS.map(([l]) => l).filter((l) => l !== '.').sort(), dirs);
});

test('src layers import only the layers their row names, and each lower than themselves', () => {
  const problems: string[] = [];
  for (const { file, layer, target, pkg } of imports()) {
    const allowed = ALLOWED.get(layer)!;
    if (target !== null) {
      const tl = layerOf(target);
      if (tl === layer) continue;
      if (isSharedLeaf(target)) continue;
      if (!allowed.includes('*') && !allowed.includes(tl)) problems.push(`${relative(SRC, file)} imports ${relative(SRC, target)} (${layer} -> ${tl})`);
    } else {
      const owners = OWNERS[pkg!];
      if (owners !== undefined && !owners.includes(layer)) problems.push(`${relative(SRC, file)} imports ${pkg}, owned by ${owners.join(', ')}`);
    }
  }
  assert.deepEqual(problems, []);
  // Bottom first: a row names only rows above it, so the graph has no cycle between layers.
  LAYERS.forEach(([layer, allowed], i) => {
    const above = LAYERS.slice(0, i).map(([l]) => l);
    for (const a of allowed) if (a !== '*') assert.ok(above.includes(a), `${layer} may import ${a}, which is not below it`);
  });
});

test('every import a row allows is one the code makes (the map is not a wish list)', () => {
  const used = new Set(imports().filter((i) => i.target !== null && !isSharedLeaf(i.target)).map((i) => `${i.layer}->${layerOf(i.target!)}`));
  const unused = LAYERS.flatMap(([layer, allowed]) => allowed.filter((a) => a !== '*' && !used.has(`${layer}->${a}`)).map((a) => `${layer} -> ${a}`));
  assert.deepEqual(unused, []);
});

test('errors.ts, clock.ts, loop-load.ts and diagnostics.ts are leaves: they import nothing from src', () => {
  const hits = imports().filter((i) => i.target !== null && isSharedLeaf(i.file)).map((i) => relative(SRC, i.file));
  assert.deepEqual(hits, []);
});

test('the README "Layout" table is this map, row for row', () => {
  const readme = readFileSync(join(process.cwd(), 'README.md'), 'utf8');
  const layout = readme.slice(readme.indexOf('\n## Layout'), readme.indexOf('\n## ', readme.indexOf('\n## Layout') + 1));
  const rows = [...layout.matchAll(/^\| `([^`]+)`[^|]* \| ([^|]+) \|$/gm)].map((m) => {
    const layer = m[1]!.replace(/\/$/, '');
    const cell = m[2]!.trim();
    const names = cell === '—' ? [] : cell === 'any layer' ? ['*'] : [...cell.matchAll(/`([^`]+)`/g)].map((n) => n[1]!);
    return [layer === 'sip-stack.ts' ? '.' : layer, names] as const;
  });
  assert.deepEqual(rows, LAYERS.map(([l, a]) => [l, [...a]]));
});

test('no `any` in src', () => {
  const hits = files(SRC).flatMap((f) => readFileSync(f, 'utf8').split('\n').map((l, i) => [f, i + 1, l] as const))
    .filter(([, , l]) => /:\s*any\b|\bas any\b|<any>/.test(l))
    .map(([f, n]) => `${relative(SRC, f)}:${n}`);
  assert.deepEqual(hits, []);
});
