#!/usr/bin/env node
// Runs every compiled test file under .test-build/test with Node's built-in runner.
// Node 20's `--test` takes no globs, so the list is built here. Unit tests run first
// (cheap, parallel); integration tests, which start processes and peers, run one file at a time.
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';

function collect(dir) {
  let out = [];
  let entries;
  try { entries = readdirSync(dir); } catch { return out; }
  for (const name of entries.sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out = out.concat(collect(p));
    else if (name.endsWith('.test.js')) out.push(p);
  }
  return out;
}

const root = '.test-build/test';
const all = collect(root);
const only = process.argv.slice(2);
const files = only.length ? all.filter((f) => only.some((o) => f.includes(o))) : all;
if (files.length === 0) {
  console.error('no test files found under ' + root);
  process.exit(1);
}
const r = spawnSync(process.execPath, ['--test', '--test-concurrency=1', ...files], { stdio: 'inherit' });
process.exit(r.status ?? 1);
