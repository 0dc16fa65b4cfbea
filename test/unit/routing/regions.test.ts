import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { ConfigLoadError } from '../../../src/config/load-config.js';
import { loadRegionsFile, parseRegions } from '../../../src/routing/regions.js';
import { planTrunk } from '../../../src/routing/targets.js';
import { fixtureConfig } from './helpers.js';

test('the shipped regions.yaml loads: 15 regions, lb01..04 each, roots per S-TRUST-2', () => {
  const t = loadRegionsFile(join(process.cwd(), 'config/regions.yaml'));
  assert.equal(t.codes().length, 15);
  const euc1 = t.get('euc1');
  assert.deepEqual(euc1?.hosts, ['lb01.voice.euc1.pure.cloud', 'lb02.voice.euc1.pure.cloud', 'lb03.voice.euc1.pure.cloud', 'lb04.voice.euc1.pure.cloud']);
  assert.equal(euc1?.byocDomain, 'byoc.euc1.pure.cloud');
  assert.deepEqual(t.get('mec1')?.roots, ['digicert-g2', 'digicert-g3']);
  assert.equal(t.get('apne2')?.hosts[0], 'lb01.voice.apne2.pure.cloud', 'pattern, not the page copy error');
  assert.equal(t.get('xx1'), undefined);
});

test('a broken regions file reports every problem with its key path', () => {
  const text = 'regions:\n  euc1:\n    name: F\n    hosts: [52.28.1.1, "bad host"]\n    byocDomain: byoc.euc1.pure.cloud\n    roots: [digicert-g4]\n  usw2: 3\n';
  try {
    parseRegions(text, 'r.yaml');
    assert.fail('should throw');
  } catch (e) {
    assert.ok(e instanceof ConfigLoadError);
    assert.deepEqual(e.issues.map((i) => i.path), ['regions.euc1.hosts[0]', 'regions.euc1.hosts[1]', 'regions.euc1.roots[0]', 'regions.usw2']);
    assert.match(e.issues[0]!.message, /S-VAL-3/);
  }
  assert.throws(() => parseRegions('zones: {}', 'r.yaml'), /regions: expected a mapping/);
});

test('S-VAL-3 runtime guard: a trunk host given as an IP address is refused with the reason', () => {
  const c = fixtureConfig();
  const t = { ...c.trunks[0]!, hosts: [{ host: '52.28.11.201', port: undefined, priority: undefined }] };
  const regions = loadRegionsFile(c.regionsFile ?? '');
  assert.throws(() => planTrunk(t, regions), /IP address cannot be validated against a certificate \(S-VAL-3/);
  assert.throws(() => planTrunk({ ...c.trunks[0]!, region: 'xx9' }, regions), /expected one of/);
});
