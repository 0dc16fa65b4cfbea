import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { describe, test } from 'node:test';
import { makeLabCertificate } from '../../../src/tls/lab-pki.js';
import { assertHostNameTarget, matchPeerIdentity, sipUriHost } from '../../../src/tls/peer-identity.js';

const HOST = 'lb01.voice.euc1.pure.cloud';

type San = { dns?: string[]; uri?: string[]; ip?: string[] };
interface Row {
  readonly name: string;
  readonly cn?: string;
  readonly san?: San;
  readonly host?: string;
  readonly expect: 'ok' | 'name-mismatch' | 'wildcard' | 'ip-address';
  readonly cnFallback?: 'never' | 'always';
  readonly extraNames?: string[];
}

// RFC 5922 §7.1/§7.2, S-VAL-2/3/6
const rows: Row[] = [
  { name: 'DNS SAN exact', san: { dns: [HOST] }, expect: 'ok' },
  { name: 'DNS SAN differs only in case', san: { dns: ['LB01.Voice.EUC1.pure.cloud'] }, expect: 'ok' },
  { name: 'DNS SAN with trailing dot', san: { dns: [`${HOST}.`] }, expect: 'ok' },
  { name: 'one of several DNS SANs', san: { dns: ['lb02.voice.euc1.pure.cloud', HOST] }, expect: 'ok' },
  { name: 'DNS SAN suffix only', san: { dns: ['voice.euc1.pure.cloud'] }, expect: 'name-mismatch' },
  { name: 'DNS SAN longer name', san: { dns: [`x.${HOST}`] }, expect: 'name-mismatch' },
  { name: 'URI SAN sip:host', san: { uri: [`sip:${HOST}`] }, expect: 'ok' },
  { name: 'URI SAN sip:host:port;params', san: { uri: [`sip:${HOST}:5061;transport=tls`] }, expect: 'ok' },
  { name: 'URI SAN SIP: upper-case scheme', san: { uri: [`SIP:${HOST}`] }, expect: 'ok' },
  { name: 'URI SAN with user part does not count', san: { uri: [`sip:trunk@${HOST}`] }, expect: 'name-mismatch' },
  { name: 'URI SAN sips: does not count', san: { uri: [`sips:${HOST}`] }, expect: 'name-mismatch' },
  { name: 'URI SAN http: does not count', san: { uri: [`https://${HOST}/`] }, expect: 'name-mismatch' },
  { name: 'wildcard DNS only', san: { dns: ['*.voice.euc1.pure.cloud'] }, expect: 'wildcard' },
  { name: 'wildcard partial label', san: { dns: ['lb*.voice.euc1.pure.cloud'] }, expect: 'wildcard' },
  { name: 'wildcard plus exact name: exact wins', san: { dns: ['*.voice.euc1.pure.cloud', HOST] }, expect: 'ok' },
  { name: 'wildcard of another domain', san: { dns: ['*.voice.usw2.pure.cloud'] }, expect: 'name-mismatch' },
  { name: 'IP SAN only', san: { ip: ['127.0.0.1'] }, expect: 'ip-address' },
  { name: 'IPv6 SAN only', san: { ip: ['::1'] }, expect: 'ip-address' },
  { name: 'IP SAN plus matching DNS', san: { ip: ['127.0.0.1'], dns: [HOST] }, expect: 'ok' },
  { name: 'DNS SAN with the IP as text does not count', san: { dns: ['127.0.0.1'] }, host: HOST, expect: 'name-mismatch' },
  { name: 'CN only, no SAN extension', cn: HOST, expect: 'ok' },
  { name: 'CN only, different case', cn: HOST.toUpperCase(), expect: 'ok' },
  { name: 'CN matches but SAN present (RFC 5922: CN ignored)', cn: HOST, san: { dns: ['other.example.test'] }, expect: 'name-mismatch' },
  { name: 'CN matches, SAN present, cnFallback always', cn: HOST, san: { dns: ['other.example.test'] }, cnFallback: 'always', expect: 'ok' },
  { name: 'CN wildcard only, no SAN', cn: '*.voice.euc1.pure.cloud', expect: 'wildcard' },
  { name: 'CN other name, no SAN', cn: 'other.example.test', expect: 'name-mismatch' },
  { name: 'extra accepted name (SRV domain)', san: { dns: ['voice.euc1.pure.cloud'] }, extraNames: ['voice.euc1.pure.cloud'], expect: 'ok' },
  { name: 'extra names are exact, no wildcards', san: { dns: ['*.euc1.pure.cloud'] }, extraNames: ['voice.euc1.pure.cloud'], expect: 'wildcard' },
  { name: 'empty SAN extension (no usable names)', san: {}, cn: HOST, expect: 'name-mismatch' },
  { name: 'target is an IP address', san: { ip: ['127.0.0.1'] }, host: '127.0.0.1', expect: 'ip-address' },
];

describe('matchPeerIdentity (RFC 5922 §7.1)', () => {
  for (const r of rows) {
    test(r.name, () => {
      const pem = makeLabCertificate({ ...(r.cn !== undefined ? { cn: r.cn } : {}), ...(r.san ? { san: r.san } : {}) });
      const x = new X509Certificate(pem);
      const res = matchPeerIdentity(r.host ?? HOST, x, { ...(r.cnFallback ? { cnFallback: r.cnFallback } : {}), ...(r.extraNames ? { extraNames: r.extraNames } : {}) });
      assert.equal(res.ok ? 'ok' : res.reason, r.expect, JSON.stringify(res));
      // same answer from the other shapes Node hands out
      const again = matchPeerIdentity(r.host ?? HOST, x.raw, { ...(r.cnFallback ? { cnFallback: r.cnFallback } : {}), ...(r.extraNames ? { extraNames: r.extraNames } : {}) });
      assert.equal(again.ok ? 'ok' : again.reason, r.expect);
    });
  }
});

describe('sipUriHost', () => {
  test('host part of user-less sip URIs only', () => {
    assert.equal(sipUriHost('sip:Example.COM'), 'example.com');
    assert.equal(sipUriHost('sip:example.com:5061;transport=tls'), 'example.com');
    assert.equal(sipUriHost('sip:alice@example.com'), undefined);
    assert.equal(sipUriHost('sip:[2001:db8::1]:5061'), undefined);
    assert.equal(sipUriHost('sip:192.0.2.1'), undefined);
    assert.equal(sipUriHost('sips:example.com'), undefined);
  });
});

describe('assertHostNameTarget (S-VAL-3)', () => {
  for (const bad of ['192.0.2.10', '10.0.0.1', '::1', '2001:db8::5', '[2001:db8::5]', '', '*.voice.euc1.pure.cloud', 'bad host', 'under_score.example']) {
    test(`refuses ${JSON.stringify(bad)}`, () => {
      assert.throws(() => assertHostNameTarget(bad, 'trunks[0].hosts[1]'), (e: Error & { code?: string; path?: string }) => {
        assert.equal(e.code, 'SIPS_ERR_CONFIG_INVALID');
        assert.equal(e.path, 'trunks[0].hosts[1]');
        return true;
      });
    });
  }
  test('IP literal message names the rule', () => {
    assert.throws(() => assertHostNameTarget('192.0.2.10'), /IP addresses are not allowed/);
  });
  for (const good of [HOST, 'lb01.voice.use2.us-gov-pure.cloud', 'edge.lab.sips-edge.test', 'PBX-1.example.com.']) {
    test(`accepts ${good}`, () => assertHostNameTarget(good));
  }
});
