import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cidrContains, ipKey, isIpLiteral, parseCidr } from '../../../src/routing/ip.js';
import { rig, src } from './helpers.js';

test('CIDR matching, IPv4 and IPv6, including v4-mapped addresses', () => {
  assert.equal(cidrContains(parseCidr('192.0.2.0/24'), '192.0.2.77'), true);
  assert.equal(cidrContains(parseCidr('192.0.2.0/24'), '192.0.3.1'), false);
  assert.equal(cidrContains(parseCidr('192.0.2.0/24'), '::ffff:192.0.2.9'), true);
  assert.equal(cidrContains(parseCidr('10.0.0.0/9'), '10.127.255.255'), true);
  assert.equal(cidrContains(parseCidr('10.0.0.0/9'), '10.128.0.0'), false);
  assert.equal(cidrContains(parseCidr('2001:db8:1::/48'), '2001:db8:1:ffff::1'), true);
  assert.equal(cidrContains(parseCidr('2001:db8:1::/48'), '2001:db8:2::1'), false);
  assert.equal(cidrContains(parseCidr('2001:db8::/32'), '192.0.2.1'), false);
  assert.equal(cidrContains(parseCidr('0.0.0.0/0'), '203.0.113.5'), true);
  assert.equal(cidrContains(parseCidr('::1'), '0:0:0:0:0:0:0:1'), true);
  assert.throws(() => parseCidr('10.0.0.0/33'), /out of range/);
  assert.throws(() => parseCidr('lb01.example'), /not an IP/);
  assert.equal(ipKey('2001:DB8::1'), '2001:db8:0:0:0:0:0:1');
  assert.equal(isIpLiteral('[::1]'), true);
  assert.equal(isIpLiteral('1.2.3.256'), false);
  assert.equal(isIpLiteral('lb01.voice.euc1.pure.cloud'), false);
});

test('outside: resolved lb hosts and vendorSources are admitted; others 403 on TLS, silent on UDP', async () => {
  const { router } = await rig();
  assert.equal(router.admit(src('127.0.0.2', 'tls'), 'outside'), null, 'lb02.voice.euc1 (override)');
  assert.equal(router.admit(src('::1', 'tls'), 'outside'), null, 'lb04.voice.usw2 over IPv6');
  assert.equal(router.admit(src('203.0.113.14', 'tls'), 'outside'), null, 'vendorSources CIDR');
  assert.deepEqual(router.admit(src('198.51.100.7', 'tls'), 'outside'), { kind: 'reject', status: 403, reason: 'Forbidden', code: 'SIPS_ERR_ROUTE_FORBIDDEN' });
  assert.equal(router.admit(src('198.51.100.7', 'tcp'), 'outside')?.status, 403);
  assert.equal(router.admit(src('198.51.100.7', 'udp'), 'outside')?.silent, true);
  assert.equal(router.admit(src('203.0.113.16', 'tls'), 'outside')?.status, 403, 'just outside the /28');
  // an inside peer is not a vendor
  assert.equal(router.admit(src('10.20.0.15', 'tls'), 'outside')?.status, 403);
});

test('inside: a source is identified as a peer by its sources CIDRs (IPv4, IPv6) or its host', async () => {
  const { router } = await rig();
  assert.equal(router.peerFor('10.20.0.15')?.name, 'pbx-frankfurt');
  assert.equal(router.peerFor('192.0.2.200')?.name, 'carrier');
  assert.equal(router.peerFor('2001:db8:1:2::10')?.name, 'carrier');
  assert.equal(router.peerFor('10.20.0.16'), undefined);
  assert.equal(router.admit(src('10.20.0.15'), 'inside'), null);
  assert.equal(router.admit(src('2001:db8:1::5', 'tcp'), 'inside'), null);
  assert.equal(router.admit(src('10.99.0.1'), 'inside')?.silent, true);
  assert.equal(router.admit(src('10.99.0.1', 'tcp'), 'inside')?.status, 403);
});

test('inside: the longest matching prefix names the peer; peer host names resolve for access', async () => {
  const { router } = await rig((c) => {
    c.peers.push({ name: 'branch', host: 'branch.example.net', port: 5060, transport: 'udp', sources: ['192.0.2.128/25'], srtp: 'off', media: 'passthrough', trunk: undefined, servername: undefined, trustFiles: undefined });
    c.peers.push({ name: 'named', host: 'carrier.example.net', port: 5060, transport: 'udp', sources: [], srtp: 'off', media: 'passthrough', trunk: undefined, servername: undefined, trustFiles: undefined });
  });
  assert.equal(router.peerFor('192.0.2.130')?.name, 'branch');
  assert.equal(router.peerFor('192.0.2.1')?.name, 'carrier');
  assert.equal(router.peerFor('192.0.2.10')?.name, 'named', 'resolved host = a /32');
});
