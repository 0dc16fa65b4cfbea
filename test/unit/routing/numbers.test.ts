import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseUri } from '../../../src/message/uri.js';
import { normalizeNumber, normalizeUriNumber, type NumberRules } from '../../../src/routing/numbers.js';

const DE: NumberRules = { countryCode: '49', nationalPrefix: '0', internationalPrefix: '00', plus: true };

test('national number with visual separators -> E.164 with country code', () => {
  assert.deepEqual(normalizeNumber('069 1234567', DE), { e164: '49691234567', output: '+49691234567', kind: 'national' });
  assert.equal(normalizeNumber('(069) 123-45.67', DE).output, '+49691234567');
});

test('E.164 with and without +, and 00 international', () => {
  assert.equal(normalizeNumber('+49 69 1234567', DE).output, '+49691234567');
  assert.equal(normalizeNumber('+49 69 1234567', DE).kind, 'global');
  assert.deepEqual(normalizeNumber('49691234567', DE), { e164: '49691234567', output: '+49691234567', kind: 'assumed-e164' });
  assert.deepEqual(normalizeNumber('0014155550100', DE), { e164: '14155550100', output: '+14155550100', kind: 'international' });
});

test('plus: false writes E.164 without +', () => {
  assert.equal(normalizeNumber('069 1234567', { ...DE, plus: false }).output, '49691234567');
});

test('stripPrefix (outside-line 0) then addPrefix', () => {
  const r: NumberRules = { ...DE, stripPrefix: '0' };
  assert.equal(normalizeNumber('0069 1234567', r).output, '+49691234567');
  assert.equal(normalizeNumber('00014155550100', r).output, '+14155550100');
  assert.equal(normalizeNumber('1234567', { ...DE, addPrefix: '069' }).output, '+49691234567');
  assert.equal(normalizeNumber('1234567', { ...DE, addPrefix: '+4969' }).output, '+49691234567');
});

test('NANP rules: 1 national prefix, 011 international', () => {
  const us: NumberRules = { countryCode: '1', nationalPrefix: '1', internationalPrefix: '011', plus: true };
  assert.equal(normalizeNumber('1 (317) 555-0100', us).output, '+13175550100');
  assert.equal(normalizeNumber('011 49 69 1234567', us).output, '+49691234567');
});

test('no country code configured: national numbers stay as dialled', () => {
  const r = normalizeNumber('069 1234567', { nationalPrefix: '0', internationalPrefix: '00', plus: true });
  assert.deepEqual(r, { e164: null, output: '0691234567', kind: 'national-unknown-country' });
});

test('service codes and names are left alone', () => {
  assert.equal(normalizeNumber('*97', DE).kind, 'not-a-number');
  assert.equal(normalizeNumber('*97', DE).output, '*97');
  assert.equal(normalizeNumber('alice', DE).output, 'alice');
});

test('from sip: user parts (user=phone, %-escapes, RFC 4904 params) and tel: URIs', () => {
  assert.equal(normalizeUriNumber(parseUri('sip:+4969123456789@edge.example.com;user=phone'), DE)?.output, '+4969123456789');
  assert.equal(normalizeUriNumber(parseUri('sip:069%201234567@edge.example.com;user=phone'), DE)?.output, '+49691234567');
  assert.equal(normalizeUriNumber(parseUri('sip:069-123-4567;isub=1@edge.example.com;user=phone'), DE)?.output, '+49691234567');
  assert.equal(normalizeUriNumber(parseUri('tel:+1-317-555-0100;phone-context=+1'), DE)?.output, '+13175550100');
  // local tel: number; phone-context lends the country code when none is configured
  assert.equal(normalizeUriNumber(parseUri('tel:069-1234567;phone-context=+49'), { nationalPrefix: '0', internationalPrefix: '00', plus: true })?.output, '+49691234567');
  assert.equal(normalizeUriNumber(parseUri('sip:edge.example.com'), DE), undefined);
});
