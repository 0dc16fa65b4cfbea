import assert from 'node:assert/strict';
import { test } from 'node:test';
import { resolveTlsPolicy } from '../../../src/tls/policy.js';
import { ClientSessionCache } from '../../../src/tls/session-cache.js';
import { deriveTicketKey, msUntilNextPeriod, ticketContext, ticketPeriod, TICKET_KEY_LENGTH } from '../../../src/tls/ticket-keys.js';

const secret = Buffer.alloc(32, 7);

test('ticket key: 48 bytes, the same for the same secret, period and policy (every worker agrees)', () => {
  const a = deriveTicketKey(secret, 100, 'TLSv1.2|X');
  assert.equal(a.length, TICKET_KEY_LENGTH);
  assert.deepEqual(deriveTicketKey(Buffer.from(secret), 100, 'TLSv1.2|X'), a);
});

test('ticket key differs by period, by secret and by policy context', () => {
  const a = deriveTicketKey(secret, 100, 'c');
  assert.notDeepEqual(deriveTicketKey(secret, 101, 'c'), a);
  assert.notDeepEqual(deriveTicketKey(Buffer.alloc(32, 8), 100, 'c'), a);
  assert.notDeepEqual(deriveTicketKey(secret, 100, ticketContext('TLSv1.2', ['AES256-SHA'])), deriveTicketKey(secret, 100, ticketContext('TLSv1.2', ['AES256-SHA', 'AES256-SHA256'])));
});

test('a secret shorter than 32 bytes is refused', () => {
  assert.throws(() => deriveTicketKey(Buffer.alloc(31), 1), { code: 'SIPS_ERR_TLS_TICKET_SECRET' });
});

test('periods are aligned on the epoch; the next boundary is where the period changes', () => {
  assert.equal(ticketPeriod(3_599_999, 3600), 0);
  assert.equal(ticketPeriod(3_600_000, 3600), 1);
  const now = 3_600_000 * 5 + 1234;
  const wait = msUntilNextPeriod(now, 3600);
  assert.equal(ticketPeriod(now + wait, 3600), ticketPeriod(now, 3600) + 1);
  assert.equal(ticketPeriod(now + wait - 1, 3600), ticketPeriod(now, 3600));
});

const policy = resolveTlsPolicy({});
const entry = (host: string, port: number, cipher = 'ECDHE-RSA-AES256-GCM-SHA384') => ({ host, port, session: Buffer.from(host), chain: [], protocol: 'TLSv1.2', cipher });

test('client session cache: a session is offered only to the (name, port) it was verified for', () => {
  const c = new ClientSessionCache(10);
  c.store(entry('lb01.voice.euc1.pure.cloud', 5061));
  assert.equal(c.offer('LB01.voice.euc1.pure.cloud', 5061, policy)?.host, 'lb01.voice.euc1.pure.cloud');
  assert.equal(c.offer('lb02.voice.euc1.pure.cloud', 5061, policy), undefined);
  assert.equal(c.offer('lb01.voice.euc1.pure.cloud', 5062, policy), undefined);
});

test('client session cache: bounded, least recently used dropped first', () => {
  const c = new ClientSessionCache(2);
  c.store(entry('a.test', 1));
  c.store(entry('b.test', 1));
  assert.ok(c.offer('a.test', 1, policy)); // a is now the most recent
  c.store(entry('c.test', 1));
  assert.equal(c.size, 2);
  assert.equal(c.offer('b.test', 1, policy), undefined);
  assert.ok(c.offer('a.test', 1, policy));
  assert.ok(c.offer('c.test', 1, policy));
});

test('client session cache: a session whose cipher the policy does not allow is not offered', () => {
  const c = new ClientSessionCache(10);
  c.store(entry('a.test', 1, 'AES256-SHA256'));
  assert.equal(c.offer('a.test', 1, resolveTlsPolicy({ deprecatedCiphers: 'deny' })), undefined);
  assert.equal(c.size, 0);
  c.store(entry('a.test', 1));
  c.drop('a.test', 1);
  assert.equal(c.offer('a.test', 1, policy), undefined);
});
