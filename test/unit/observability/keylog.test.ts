import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { createKeyLog } from '../../../src/observability/keylog.js';
import { makeSelfSignedCert } from '../../helpers/transport-certs.js';

test('off by default: no file, no warning', () => {
  const k = createKeyLog(undefined);
  assert.equal(k.enabled, false);
  assert.equal(k.warning, null);
  k.close();
});

test('keys of a real TLS 1.2 handshake land in the file, mode 0600, with a warning', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sips-edge-keylog-'));
  const file = join(dir, 'keys.log');
  writeFileSync(file, '# existing\n', { mode: 0o644 }); // an existing, too open file is tightened
  const cert = makeSelfSignedCert('edge.test');
  const keylog = createKeyLog(file);
  const server = tls.createServer({ key: cert.key, cert: cert.cert, minVersion: 'TLSv1.2', maxVersion: 'TLSv1.2' }, (s) => s.end());
  try {
    assert.equal(keylog.enabled, true);
    assert.match(keylog.warning ?? '', /key logging is ON/);
    assert.equal(statSync(file).mode & 0o777, 0o600);
    keylog.attach(server);
    keylog.attach(server); // idempotent
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const client = tls.connect({ host: '127.0.0.1', port: (server.address() as AddressInfo).port, ca: cert.cert, servername: 'edge.test' });
    keylog.attach(client);
    await once(client, 'secureConnect');
    client.end();
    await once(client, 'close');
    const lines = readFileSync(file, 'utf8').split('\n').filter((l) => l !== '');
    assert.equal(lines[0], '# existing');
    const secrets = lines.slice(1);
    // TLS 1.2: one CLIENT_RANDOM line per side, identical (same session).
    assert.equal(secrets.length, 2);
    for (const l of secrets) assert.match(l, /^CLIENT_RANDOM [0-9a-f]{64} [0-9a-f]{96}$/);
    assert.equal(secrets[0], secrets[1]);
    assert.equal(keylog.lines, 2);
  } finally {
    keylog.close();
    server.close();
    cert.cleanup();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a new key log file is created with mode 0600', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sips-edge-keylog-'));
  const file = join(dir, 'new.log');
  const k = createKeyLog(file);
  try {
    assert.equal(statSync(file).mode & 0o777, 0o600);
  } finally {
    k.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
