/**
 * The Node.js the edge needs (package.json `engines`). Older ones fail later and obscurely: Node 20
 * has no `reusePort`, so with `edge.workers` above 1 the second worker's UDP bind fails with
 * EADDRINUSE. The CLI says so up front instead.
 */
export const MIN_NODE_MAJOR = 24;

/** Null when `version` (as `process.version`, "v24.1.0") is new enough, else what to tell the user. */
export function unsupportedNode(version: string): string | null {
  const major = Number(/^v?(\d+)\./.exec(version)?.[1]);
  if (Number.isInteger(major) && major >= MIN_NODE_MAJOR) return null;
  return `needs Node.js ${MIN_NODE_MAJOR} or later and runs on ${version}: use the project's pinned Node ` +
    '(npm start / npm test, or node_modules/.bin/node after npm ci)';
}
