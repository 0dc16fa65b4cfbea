import { test } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { HEP_CHUNK, createHepSender, decodeHep3, encodeHep3, ipv6Bytes } from '../../../src/observability/hep.js';
import { CALL_ID, SRTP_KEY, invite } from './sip-samples.js';

const AT = new Date(Date.UTC(2025, 2, 24, 10, 0, 0, 123));

/** Walks the packet by hand, straight from the HEP3 layout (not through decodeHep3). */
function chunksByHand(buf: Buffer): Map<number, { vendor: number; len: number; value: Buffer }> {
  const out = new Map<number, { vendor: number; len: number; value: Buffer }>();
  let at = 6;
  while (at < buf.length) {
    const vendor = buf.readUInt16BE(at);
    const type = buf.readUInt16BE(at + 2);
    const len = buf.readUInt16BE(at + 4);
    out.set(type, { vendor, len, value: buf.subarray(at + 6, at + len) });
    at += len;
  }
  assert.equal(at, buf.length, 'chunks end exactly at the packet end');
  return out;
}

test('HEP3 over IPv4: header and every chunk, field by field', () => {
  const payload = invite();
  const buf = encodeHep3({ ipProtocol: 6, src: { address: '192.0.2.10', port: 40112 }, dst: { address: '198.51.100.1', port: 5061 }, at: AT, captureId: 2001, payload, correlationId: CALL_ID });
  assert.equal(buf.toString('latin1', 0, 4), 'HEP3');
  assert.equal(buf.readUInt16BE(4), buf.length);
  const c = chunksByHand(buf);
  for (const v of c.values()) assert.equal(v.vendor, 0x0000);
  const get = (t: number): Buffer => { const v = c.get(t); assert.ok(v, `chunk ${t}`); assert.equal(v.len, 6 + v.value.length); return v.value; };
  assert.deepEqual([...get(0x0001)], [2]); // AF_INET
  assert.deepEqual([...get(0x0002)], [6]); // TCP (TLS too)
  assert.deepEqual([...get(0x0003)], [192, 0, 2, 10]);
  assert.deepEqual([...get(0x0004)], [198, 51, 100, 1]);
  assert.equal(get(0x0007).readUInt16BE(0), 40112);
  assert.equal(get(0x0007).length, 2);
  assert.equal(get(0x0008).readUInt16BE(0), 5061);
  assert.equal(get(0x0009).readUInt32BE(0), Math.floor(AT.getTime() / 1000));
  assert.equal(get(0x0009).length, 4);
  assert.equal(get(0x000a).readUInt32BE(0), 123_000);
  assert.deepEqual([...get(0x000b)], [1]); // SIP
  assert.equal(get(0x000c).readUInt32BE(0), 2001);
  assert.equal(get(0x000c).length, 4);
  assert.ok(get(0x000f).equals(payload));
  assert.equal(get(0x0011).toString('utf8'), CALL_ID);
  assert.equal(c.has(0x0005) || c.has(0x0006), false);
  assert.deepEqual([...c.keys()], [1, 2, 3, 4, 7, 8, 9, 10, 11, 12, 15, 17]);
});

test('HEP3 over IPv6 and mixed families (IPv4 mapped), UDP protocol id', () => {
  const buf = encodeHep3({ ipProtocol: 17, src: { address: '2001:db8::10', port: 5060 }, dst: { address: '::ffff:198.51.100.1', port: 5060 }, at: AT, captureId: 7, payload: Buffer.from('OPTIONS sip:x SIP/2.0\r\n\r\n') });
  const c = decodeHep3(buf);
  assert.ok(c);
  const v = (t: number): Buffer => c.find((x) => x.type === t)?.value ?? Buffer.alloc(0);
  assert.deepEqual([...v(HEP_CHUNK.ipFamily)], [10]);
  assert.deepEqual([...v(HEP_CHUNK.ipProtocol)], [17]);
  assert.equal(v(HEP_CHUNK.ipv6Src).toString('hex'), '20010db8000000000000000000000010');
  assert.equal(v(HEP_CHUNK.ipv6Dst).toString('hex'), '00000000000000000000ffffc6336401');
  assert.equal(c.some((x) => x.type === HEP_CHUNK.ipv4Src), false);
  // Both sides dual-stack-mapped IPv4: plain IPv4 chunks.
  const mapped = decodeHep3(encodeHep3({ ipProtocol: 6, src: { address: '::ffff:192.0.2.10', port: 1 }, dst: { address: '::ffff:198.51.100.1', port: 2 }, at: AT, captureId: 1, payload: Buffer.from('x') }));
  assert.deepEqual([...(mapped?.find((x) => x.type === HEP_CHUNK.ipv4Src)?.value ?? [])], [192, 0, 2, 10]);
});

test('ipv6Bytes handles the RFC 4291 text forms', () => {
  assert.equal(ipv6Bytes('::1').toString('hex'), '00000000000000000000000000000001');
  assert.equal(ipv6Bytes('::').toString('hex'), '0'.repeat(32));
  assert.equal(ipv6Bytes('fe80::1%eth0').toString('hex'), 'fe800000000000000000000000000001');
  assert.equal(ipv6Bytes('2001:db8:1:2:3:4:5:6').toString('hex'), '20010db8000100020003000400050006');
  assert.equal(ipv6Bytes('[2001:db8::]').toString('hex'), '20010db8000000000000000000000000');
  assert.equal(ipv6Bytes('64:ff9b::192.0.2.33').toString('hex'), '0064ff9b0000000000000000c0000221');
});

test('decodeHep3 rejects truncated or foreign packets', () => {
  const good = encodeHep3({ ipProtocol: 6, src: { address: '192.0.2.1', port: 1 }, dst: { address: '192.0.2.2', port: 2 }, at: AT, captureId: 1, payload: Buffer.from('x') });
  assert.ok(decodeHep3(good));
  assert.equal(decodeHep3(good.subarray(0, good.length - 1)), null);
  assert.equal(decodeHep3(Buffer.from('HEP2xxxxxx')), null);
  const bad = Buffer.from(good);
  bad.writeUInt16BE(3, 10); // first chunk length below its own header
  assert.equal(decodeHep3(bad), null);
});

async function collector(): Promise<{ port: number; next(): Promise<Buffer>; close(): void }> {
  const sock = dgram.createSocket('udp4');
  sock.bind(0, '127.0.0.1');
  await once(sock, 'listening');
  return {
    port: (sock.address() as AddressInfo).port,
    next: async () => ((await once(sock, 'message')) as [Buffer])[0],
    close: () => sock.close(),
  };
}

test('the sender mirrors a received message: remote -> local, keys redacted by default', async () => {
  const c = await collector();
  const results: string[] = [];
  const hep = createHepSender({ address: '127.0.0.1', port: c.port, captureId: 2001 }, (r) => results.push(r));
  try {
    const got = c.next();
    hep.capture('in', 'tls', { address: '198.51.100.1', port: 5061 }, { address: '192.0.2.10', port: 40112 }, invite(), AT);
    const chunks = decodeHep3(await got);
    assert.ok(chunks);
    const v = (t: number): Buffer => chunks.find((x) => x.type === t)?.value ?? Buffer.alloc(0);
    assert.deepEqual([...v(HEP_CHUNK.ipv4Src)], [192, 0, 2, 10]);
    assert.equal(v(HEP_CHUNK.dstPort).readUInt16BE(0), 5061);
    const text = v(HEP_CHUNK.payload).toString('utf8');
    assert.ok(text.startsWith('INVITE sip:+4930123456@edge.example.com'));
    assert.ok(!text.includes(SRTP_KEY));
    assert.ok(text.includes('inline:[redacted]'));
  } finally {
    await hep.close();
    c.close();
  }
  assert.deepEqual(results, ['sent']);
});

test('redactKeys: false sends the message byte for byte; sent messages go local -> remote', async () => {
  const c = await collector();
  const hep = createHepSender({ address: '127.0.0.1', port: c.port, captureId: 9, redactKeys: false });
  try {
    const got = c.next();
    hep.capture('out', 'udp', { address: '198.51.100.1', port: 5060 }, { address: '192.0.2.10', port: 5062 }, invite(), AT);
    const chunks = decodeHep3(await got) ?? [];
    const v = (t: number): Buffer => chunks.find((x) => x.type === t)?.value ?? Buffer.alloc(0);
    assert.ok(v(HEP_CHUNK.payload).equals(invite()));
    assert.deepEqual([...v(HEP_CHUNK.ipv4Src)], [198, 51, 100, 1]);
    assert.deepEqual([...v(HEP_CHUNK.ipProtocol)], [17]);
  } finally {
    await hep.close();
    c.close();
  }
});

test('off by default: no config gives a no-op sender', async () => {
  const hep = createHepSender(undefined);
  assert.equal(hep.enabled, false);
  hep.capture('in', 'tls', { address: '127.0.0.1', port: 1 }, { address: '127.0.0.1', port: 2 }, invite(), AT);
  await hep.close();
});

test('an oversized message is counted, not sent', async () => {
  const results: string[] = [];
  const hep = createHepSender({ address: '127.0.0.1', port: 9, captureId: 1 }, (r) => results.push(r));
  hep.capture('in', 'tcp', { address: '127.0.0.1', port: 1 }, { address: '127.0.0.1', port: 2 }, Buffer.alloc(70_000, 0x41), AT);
  await hep.close();
  assert.deepEqual(results, ['too-large']);
});
