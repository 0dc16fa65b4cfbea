import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TestCert {
  readonly key: Buffer;
  readonly cert: Buffer;
  /** Removes the temp directory. */
  cleanup(): void;
}

/** A throwaway self-signed RSA certificate for `name` (CN and DNS SAN), made with openssl. */
export function makeSelfSignedCert(name = 'test.local'): TestCert {
  const dir = mkdtempSync(join(tmpdir(), 'sips-edge-transport-'));
  const keyPath = join(dir, 'key.pem');
  const certPath = join(dir, 'cert.pem');
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'rsa:2048', '-nodes',
    '-subj', `/CN=${name}`, '-addext', `subjectAltName=DNS:${name}`, '-days', '2',
    '-keyout', keyPath, '-out', certPath,
  ], { stdio: 'ignore' });
  const key = readFileSync(keyPath);
  const cert = readFileSync(certPath);
  return { key, cert, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}
