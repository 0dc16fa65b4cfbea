/**
 * Issue 11 item 3, pure logic: the RevocationChecker bounds every fetch in total (also an injected
 * fetcher that never settles), shares one fetch between concurrent checks, and reports it.
 */
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { CrlFetchTimeout, RevocationChecker, type RevocationEvent } from '../../src/tls/revocation.js';
import { makeLab } from '../helpers/tls-lab.js';

let lab: ReturnType<typeof makeLab>;
let leaf: X509Certificate;
let issuer: X509Certificate;

before(() => {
  lab = makeLab();
  const host = Object.keys(lab.pki.vendor).find((h) => lab.pki.vendor[h]!.root === 'ev')!;
  const pems = readFileSync(lab.pki.vendor[host]!.chain, 'utf8').split(/(?=-----BEGIN CERTIFICATE-----)/);
  leaf = new X509Certificate(pems[0]!);
  issuer = new X509Certificate(pems[1]!);
});
after(() => lab.cleanup());

describe('RevocationChecker fetch deadline and sharing', () => {
  it('a fetcher that never settles ends at the total deadline: unavailable, fetch-failed timedOut, one call for concurrent checks', async () => {
    let calls = 0;
    const events: RevocationEvent[] = [];
    const checker = new RevocationChecker({
      mode: 'soft',
      fetchTimeoutMs: 50,
      fetch: () => { calls++; return new Promise<Buffer>(() => undefined); },
      onEvent: (e) => events.push(e),
    });
    const results = await Promise.all([1, 2, 3, 4, 5].map(() => checker.check(leaf, issuer)));
    for (const r of results) assert.equal(r.status, 'unavailable');
    assert.equal(calls, 1);
    const failed = events.filter((e) => e.kind === 'fetch-failed');
    assert.equal(failed.length, 1);
    assert.equal(failed[0]!.timedOut, true);
    assert.match(failed[0]!.detail, /total deadline/);
    // Backing off: the next check answers at once, without a new fetch.
    assert.equal((await checker.check(leaf, issuer)).status, 'unavailable');
    assert.equal(calls, 1);
  });

  it('a served CRL: one fetch for concurrent checks, a fetched event, then the cache', async () => {
    let calls = 0;
    const events: RevocationEvent[] = [];
    const der = readFileSync(lab.pki.crls.ev.der);
    const checker = new RevocationChecker({
      mode: 'hard',
      fetch: () => { calls++; return new Promise<Buffer>((r) => setImmediate(() => r(der))); },
      onEvent: (e) => events.push(e),
    });
    const results = await Promise.all([1, 2, 3].map(() => checker.check(leaf, issuer)));
    for (const r of results) assert.equal(r.status, 'good');
    await checker.check(leaf, issuer);
    assert.equal(calls, 1);
    assert.deepEqual(events.map((e) => e.kind), ['fetched']);
    assert.equal(typeof events[0]!.durationMs, 'number');
  });

  it('CrlFetchTimeout names the config key', () => {
    assert.match(new CrlFetchTimeout(2000).message, /2000 ms.*tls\.crlFetchTimeoutMs/);
  });
});
