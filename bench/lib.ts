import { cpus } from 'node:os';
import { execFileSync } from 'node:child_process';

/** Conditions every benchmark prints with its figures (style.md habit 10). */
export function conditions(): Record<string, unknown> {
  let commit = 'unknown';
  try {
    commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim();
  } catch { /* not a checkout */ }
  return { node: process.version, cpu: cpus()[0]?.model ?? 'unknown', cores: cpus().length, commit, date: new Date().toISOString() };
}

/** Runs `fn` repeatedly for about `ms` milliseconds (after a warm-up) and returns operations per second. */
export function opsPerSecond(fn: () => void, ms = 2000, batch = 1000): number {
  const warmEnd = performance.now() + Math.min(500, ms / 4);
  while (performance.now() < warmEnd) for (let i = 0; i < batch; i++) fn();
  let ops = 0;
  const start = performance.now();
  let now = start;
  while (now - start < ms) {
    for (let i = 0; i < batch; i++) fn();
    ops += batch;
    now = performance.now();
  }
  return Math.round((ops * 1000) / (now - start));
}
