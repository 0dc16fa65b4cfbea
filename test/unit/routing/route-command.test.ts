import { test } from 'node:test';
import assert from 'node:assert/strict';
import { routeCommand } from '../../../src/cli/commands/route.js';
import type { Explanation } from '../../../src/routing/explain.js';
import { EDGE_YAML } from './helpers.js';

async function run(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await routeCommand(argv, { out: (t) => { out += t + '\n'; }, err: (t) => { err += t + '\n'; } });
  return { code, out, err };
}

test('route --explain: trunk, rule, rewritten R-URI per target, addresses, identities; unresolved shown, no crash', async () => {
  const r = await run('--explain', 'sip:069%201234567@edge.example.com;user=phone', '--from', 'pbx-frankfurt', '--config', EDGE_YAML, '--offline');
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /route\s+trunk byoc-euc1 by peers\[pbx-frankfurt\]\.trunk/);
  assert.match(r.out, /number\s+069%201234567 -> \+49691234567 \(national\)/);
  assert.match(r.out, /1\. lb01\.voice\.euc1\.pure\.cloud  127\.0\.0\.1:5061  tls/);
  assert.match(r.out, /R-URI     sip:\+49691234567;tgrp=frankfurt-pbx;trunk-context=byoc\.euc1\.pure\.cloud@lb01\.voice\.euc1\.pure\.cloud:5061;transport=tls/);
  assert.match(r.out, /identity  lb01\.voice\.euc1\.pure\.cloud \| voice\.euc1\.pure\.cloud/);
  assert.match(r.out, /4\. lb04\.voice\.euc1\.pure\.cloud  UNRESOLVED/);
});

test('route --explain --json: machine-readable, FQDN note included', async () => {
  const r = await run('--explain', 'tel:+1-317-555-0100', '--config', EDGE_YAML, '--offline', '--json');
  assert.equal(r.code, 0, r.err);
  const e = JSON.parse(r.out) as Explanation;
  assert.equal(e.trunk?.name, 'byoc-usw2');
  assert.equal(e.rule, 'routing.outbound[0] prefix "+1"');
  assert.deepEqual(e.targets.map((t) => [t.servername, t.address, t.state]), [
    ['lb01.voice.usw2.pure.cloud', '127.0.1.1', 'ok'], ['lb02.voice.usw2.pure.cloud', '127.0.1.2', 'ok'],
    ['lb03.voice.usw2.pure.cloud', '127.0.1.3', 'ok'], ['lb04.voice.usw2.pure.cloud', '::1', 'ok'],
  ]);
  assert.equal(e.targets[0]!.requestUri, 'sip:+13175550100@acme.byoc.usw2.pure.cloud:5061;transport=tls');
  assert.match(e.notes[0] ?? '', /S-URI-5/);
});

test('route --explain --side outside: the inside peer and its R-URI', async () => {
  const r = await run('--explain', 'sip:+4930123456@edge.example.com', '--side', 'outside', '--config', EDGE_YAML, '--offline', '--json');
  const e = JSON.parse(r.out) as Explanation;
  assert.equal(e.peer, 'carrier');
  assert.equal(e.targets[0]!.requestUri, 'sip:+4930123456@carrier.example.net:5060;transport=tcp');
});

test('route: refusal exits 1, usage and config problems exit 2 with a message', async () => {
  const trunkless = await run('--explain', 'urn:service:sos', '--config', EDGE_YAML, '--offline');
  assert.equal(trunkless.code, 1);
  assert.match(trunkless.out, /reject 416 SIPS_ERR_ROUTE_UNSUPPORTED_URI/);
  assert.equal((await run('--help')).code, 0);
  assert.match((await run('--help')).out, /--explain/);
  await assert.rejects(run('--config', EDGE_YAML), /--explain <request-uri> is required/);
  const bad = await run('--explain', 'sip:1@x', '--from', 'nobody', '--config', EDGE_YAML);
  assert.equal(bad.code, 2);
  assert.match(bad.err, /no such peer \(pbx-frankfurt, carrier\)/);
  const missing = await run('--explain', 'sip:1@x', '--config', '/nonexistent/edge.yaml');
  assert.equal(missing.code, 2);
  assert.match(missing.err, /cannot read/);
});
