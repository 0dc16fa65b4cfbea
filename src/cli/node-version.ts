/**
 * The Node.js the edge needs, read from package.json `engines.node` (one place to change). Older
 * ones fail later and obscurely: Node 20 has no `reusePort`, so with `edge.workers` above 1 the
 * second worker's UDP bind fails with EADDRINUSE. The CLI says so up front instead.
 */

/** The lowest major version an `engines.node` range of the form ">=24" admits; null for any other form. */
export function minimumNodeMajor(engines: string | undefined): number | null {
  const m = /^\s*>=\s*v?(\d+)(?:\.\d+){0,2}\s*$/.exec(engines ?? '');
  return m === null ? null : Number(m[1]);
}

/** Null when `version` (as `process.version`, "v24.1.0") is `minMajor` or later, else what to tell the user. */
export function unsupportedNode(version: string, minMajor: number): string | null {
  const major = Number(/^v?(\d+)\./.exec(version)?.[1]);
  if (Number.isInteger(major) && major >= minMajor) return null;
  return `needs Node.js ${minMajor} or later and runs on ${version}: use the project's pinned Node ` +
    '(npm start / npm test, or node_modules/.bin/node after npm ci)';
}
