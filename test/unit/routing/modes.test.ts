import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { TrunkConfig } from '../../../src/config/schema.js';
import { parseUri } from '../../../src/message/uri.js';
import { buildRequestUri, modeHeaders, modeNotes, modeSettings } from '../../../src/routing/modes.js';
import { normalizeUriNumber } from '../../../src/routing/numbers.js';
import { regionTable } from '../../../src/routing/regions.js';

const euc1 = { code: 'euc1', name: 'Europe (Frankfurt)', hosts: ['lb01.voice.euc1.pure.cloud', 'lb02.voice.euc1.pure.cloud'], byocDomain: 'byoc.euc1.pure.cloud', roots: ['digicert-ev'] as const };
const regions = regionTable([{ ...euc1, roots: [...euc1.roots] }]);

function trunk(over: Partial<TrunkConfig>): TrunkConfig {
  return {
    name: 't', region: 'euc1', transport: 'tls', insecure: false, port: 5061, scheme: 'sip', mode: 'tgrp', tgrp: 'frankfurt-pbx',
    numbers: { countryCode: '49', nationalPrefix: '0', internationalPrefix: '00', plus: true }, strategy: 'round-robin', failover: 3,
    extraIdentities: [], srtp: 'required', health: { intervalSeconds: 30, downAfter: 2, upAfter: 2, enabled: true },
    ...over,
  } as TrunkConfig;
}

/** Realistic PBX Request-URIs -> the R-URI sent to lb01 (golden). */
function golden(t: TrunkConfig, ruri: string): string {
  const s = modeSettings(t, regions.get('euc1'));
  const n = normalizeUriNumber(parseUri(ruri), t.numbers);
  assert.ok(n);
  return buildRequestUri(s, n.output, 'lb01.voice.euc1.pure.cloud', 5061).toString();
}

const LB01_TGRP = 'sip:+49691234567;tgrp=frankfurt-pbx;trunk-context=byoc.euc1.pure.cloud@lb01.voice.euc1.pure.cloud:5061;transport=tls';

test('TGRP: tgrp + trunk-context in the user part (RFC 4904), transport in the host part (S-URI-2/3)', () => {
  const t = trunk({});
  for (const ruri of [
    'sip:069%201234567@edge.example.com;user=phone', // national, Asterisk with a space
    'sip:0691234567@10.20.0.1',
    'sip:+49691234567@edge.example.com;user=phone', // E.164 with +
    'sip:49691234567@edge.example.com', // E.164 without +
    'sip:0049691234567@edge.example.com:5060;transport=udp', // 00 international
    'tel:+49-69-1234567',
  ]) assert.equal(golden(t, ruri), LB01_TGRP, ruri);
});

test('TGRP: explicit trunkContext wins over the region default', () => {
  assert.equal(golden(trunk({ trunkContext: 'ns.example' }), 'sip:0691234567@pbx'), 'sip:+49691234567;tgrp=frankfurt-pbx;trunk-context=ns.example@lb01.voice.euc1.pure.cloud:5061;transport=tls');
});

test('DNIS: sip:<number>@<lbNN>:5061;transport=tls (S-URI-4)', () => {
  assert.equal(golden(trunk({ mode: 'dnis' }), 'sip:069 1234567@pbx'.replace(' ', '%20')), 'sip:+49691234567@lb01.voice.euc1.pure.cloud:5061;transport=tls');
  assert.equal(golden(trunk({ mode: 'dnis', numbers: { countryCode: '49', nationalPrefix: '0', internationalPrefix: '00', plus: false, stripPrefix: undefined, addPrefix: undefined } }), 'sip:0691234567@pbx'), 'sip:49691234567@lb01.voice.euc1.pure.cloud:5061;transport=tls');
});

test('DNIS with strip/add prefix (outside-line 0, area code added)', () => {
  const numbers = { countryCode: '49', nationalPrefix: '0', internationalPrefix: '00', plus: true, stripPrefix: '0', addPrefix: '' };
  assert.equal(golden(trunk({ mode: 'dnis', numbers }), 'sip:00691234567@pbx'), 'sip:+49691234567@lb01.voice.euc1.pure.cloud:5061;transport=tls');
  const add = { countryCode: '49', nationalPrefix: '0', internationalPrefix: '00', plus: true, stripPrefix: undefined, addPrefix: '069' };
  assert.equal(golden(trunk({ mode: 'dnis', numbers: add }), 'sip:1234567@pbx'), 'sip:+49691234567@lb01.voice.euc1.pure.cloud:5061;transport=tls');
});

test('FQDN: R-URI host <fqdn>.<byocDomain>, sent to lbNN; once-per-trunk note (S-URI-5)', () => {
  const t = trunk({ mode: 'fqdn', fqdn: 'acme' });
  assert.equal(golden(t, 'sip:0691234567@pbx'), 'sip:+49691234567@acme.byoc.euc1.pure.cloud:5061;transport=tls');
  const notes = modeNotes(modeSettings(t, regions.get('euc1')));
  assert.equal(notes.length, 1);
  assert.match(notes[0]!.message, /not expected to succeed \(S-URI-5\)/);
  // already qualified: not doubled
  assert.equal(golden(trunk({ mode: 'fqdn', fqdn: 'acme.byoc.euc1.pure.cloud' }), 'sip:0691234567@pbx'), 'sip:+49691234567@acme.byoc.euc1.pure.cloud:5061;transport=tls');
});

test('scheme sips: no transport=tls', () => {
  assert.equal(golden(trunk({ scheme: 'sips' }), 'sip:0691234567@pbx'), 'sips:+49691234567;tgrp=frankfurt-pbx;trunk-context=byoc.euc1.pure.cloud@lb01.voice.euc1.pure.cloud:5061');
  assert.equal(golden(trunk({ scheme: 'sips', mode: 'dnis' }), 'sip:0691234567@pbx'), 'sips:+49691234567@lb01.voice.euc1.pure.cloud:5061');
});

test('golden R-URIs parse back with the user-part parameters where RFC 4904 puts them', () => {
  const u = parseUri(LB01_TGRP);
  assert.ok('userParam' in u);
  assert.equal(u.userParam('tgrp'), 'frankfurt-pbx');
  assert.equal(u.userParam('trunk-context'), 'byoc.euc1.pure.cloud');
  assert.equal(u.param('transport'), 'tls');
  assert.equal(u.userNumber, '+49691234567');
});

test('Inbound SIP Termination Header -> addHeaders; TGRP without region needs trunkContext', () => {
  const s = modeSettings(trunk({ terminationHeader: { name: 'X-Inin-Trunk', value: 'byoc-frankfurt' } }), regions.get('euc1'));
  assert.deepEqual(modeHeaders(s), [['X-Inin-Trunk', 'byoc-frankfurt']]);
  assert.deepEqual(modeHeaders(modeSettings(trunk({}), regions.get('euc1'))), []);
  assert.throws(() => modeSettings(trunk({ region: undefined }), undefined), /trunkContext/);
});
