import { readFileSync } from 'node:fs';
import type { EdgeConfig } from '../config/schema.js';
import type { EdgeSecrets } from '../config/secrets.js';
import { MIN_KEY_LENGTH, RouteSigner } from './route-signature.js';

/**
 * The Record-Route signing keys from config (`edge.routeKeys`): env keys first (their value read by
 * the CLI and passed in as `secrets.routeKeys`), then the file's,
 * then inline ones; the first of all signs. Without any, a random key for this process.
 * Throws (start fails) on a short key, an unset variable or an unreadable file; never logs keys.
 */
export function loadRouteSigner(config: EdgeConfig, secrets: Pick<EdgeSecrets, 'routeKeys'> = {}): RouteSigner {
  const rk = config.edge.routeKeys;
  if (rk === undefined) return RouteSigner.random();
  const keys: string[] = [];
  if (rk.env !== undefined) {
    const v = secrets.routeKeys;
    if (v === undefined) throw new Error(`edge.routeKeys.env: environment variable ${rk.env} is not set`);
    keys.push(...v.split(',').map((k) => k.trim()).filter((k) => k !== ''));
  }
  if (rk.file !== undefined) {
    const text = readFileSync(rk.file, 'utf8');
    keys.push(...text.split(/\r?\n/).map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#')));
  }
  keys.push(...(rk.keys ?? []));
  if (keys.length === 0) throw new Error('edge.routeKeys: no keys found');
  keys.forEach((k, i) => {
    if (k.length < MIN_KEY_LENGTH) throw new Error(`edge.routeKeys: key ${i + 1} is shorter than ${MIN_KEY_LENGTH} characters`);
  });
  return new RouteSigner(keys);
}
