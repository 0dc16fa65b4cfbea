import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import net from 'node:net';
import tls from 'node:tls';
import { EdgeProcess } from '../helpers/edge-process.js';
import { byeThrough, callThrough, countingTcpServer, crlf, leafCert, parse, relayConfig, responseTo, token, UdpPeer, type Dialog } from './relay-sip.js';

/**
 * Issue 11 item 4: a response no client transaction matched is not reflected. Only a 2xx to
 * INVITE for a dialog the edge record-routed, from a source it accepts requests from, goes on,
 * and never over a new connection.
 */
const KEY = 'relay-stray-test-key-0123456789';
const STRANGER = '127.0.0.5'; // neither a vendor address nor a peer source
let edge: EdgeProcess;
let pbx: UdpPeer;
let far: UdpPeer;
let dir: string;
let inside: number;
let outside: number;
const closers: (() => unknown)[] = [];

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sips-edge-relay-'));
  const c = leafCert(dir, 'edge.test.sips-edge.test');
  pbx = await UdpPeer.open();
  far = await UdpPeer.open();
  // Strangers are refused at accept by default (issue 11 #6, connections.md); admitted here so the
  // SIP-level stray-response check is what is tested.
  edge = await EdgeProcess.start(relayConfig({ farPort: far.port, pbxPort: pbx.port, keys: [KEY], tls: c, extra: 'limits: { unknownSourceConnectionsPerListener: 10 }\n' }));
  inside = edge.port('inside', 'udp');
  outside = edge.port('outside', 'udp');
});

after(async () => {
  await edge?.stop();
  pbx?.close();
  far?.close();
  for (const c of closers) await c();
  rmSync(dir, { recursive: true, force: true });
});

/** A 200 that looks like a retransmission for `d`: the edge's Via on top (a branch no transaction has), then `secondVia`. */
function stray200(d: Dialog, secondVia: string, extra: readonly string[] = []): string {
  const sent = parse(d.okSent);
  const edgeVia = sent.values('via')[0]!.replace(/branch=[^;]+/, `branch=z9hG4bK${token()}`);
  return crlf([
    'SIP/2.0 200 OK',
    `Via: ${edgeVia}`,
    `Via: ${secondVia}`,
    `From: ${sent.get('from')!}`,
    `To: ${sent.get('to')!}`,
    `Call-ID: ${d.callId}`,
    'CSeq: 1 INVITE',
    ...sent.values('record-route').map((v) => `Record-Route: ${v}`),
    `Contact: <sip:far@127.0.0.1:${far.port};transport=udp>`,
    ...extra,
  ]);
}

function dropLine(reason: string, n = 1): Promise<unknown> {
  return edge.line(`${n} dropped line(s) for ${reason}`, () => edge.events('dropped').filter((l) => l['reason'] === reason).length >= n);
}

test('a legit call first: the far end answers, ACK and BYE follow the signed route set', async () => {
  const d = await callThrough(pbx, far, inside);
  assert.ok(d.routes.every((r) => /;sg=[A-Za-z0-9_-]{16}/.test(r)), `every edge entry is signed: ${d.routes.join(' | ')}`);
  await byeThrough(pbx, far, d, inside);
});

test('stray 200 from a stranger over UDP: not forwarded, no connection opened, nothing sent; a call still works', async () => {
  const d = await callThrough(pbx, far, inside);
  const tcp = await countingTcpServer();
  closers.push(tcp.close);
  const victim = await UdpPeer.open();
  closers.push(() => victim.close());
  const stranger = await UdpPeer.open(STRANGER);
  closers.push(() => stranger.close());
  // Looks genuine (the dialog's signed Record-Route), but comes from a source the edge takes no requests from.
  stranger.send(stray200(d, `SIP/2.0/TCP 127.0.0.1:${tcp.port};branch=z9hG4bK${token()};received=127.0.0.1;rport=${tcp.port}`), outside);
  stranger.send(stray200(d, `SIP/2.0/UDP 127.0.0.1:${victim.port};branch=z9hG4bK${token()}`), outside);
  stranger.send(stray200(d, `SIP/2.0/UDP 127.0.0.1:${victim.port};branch=z9hG4bK${token()}`), inside);
  await dropLine('stray-response-source', 3);
  const d2 = await callThrough(pbx, far, inside);
  await byeThrough(pbx, far, d2, inside);
  await byeThrough(pbx, far, d, inside);
  assert.equal(tcp.connections(), 0, 'no connection to the second Via');
  assert.equal(victim.received.length, 0, 'no datagram to the second Via');
});

test('stray 200 from a non-vendor TLS client: not forwarded, no connection opened', async () => {
  const d = await callThrough(pbx, far, inside);
  const tcp = await countingTcpServer();
  closers.push(tcp.close);
  const raw = net.connect({ host: '127.0.0.1', port: edge.port('outside', 'tls'), localAddress: STRANGER });
  const sock = tls.connect({ socket: raw, servername: 'edge.test.sips-edge.test', rejectUnauthorized: false });
  closers.push(() => sock.destroy());
  await new Promise<void>((resolve, reject) => { sock.once('secureConnect', () => resolve()); sock.once('error', reject); });
  sock.on('error', () => undefined);
  const before = edge.events('dropped').filter((l) => l['reason'] === 'stray-response-source').length;
  sock.write(stray200(d, `SIP/2.0/TCP 127.0.0.1:${tcp.port};branch=z9hG4bK${token()}`));
  sock.write(stray200(d, `SIP/2.0/TLS 127.0.0.1:${tcp.port};branch=z9hG4bK${token()}`));
  await dropLine('stray-response-source', before + 2);
  await byeThrough(pbx, far, d, inside);
  assert.equal(tcp.connections(), 0);
});

test('stray 200 from a vendor address toward an address nobody configured: no new connection, no datagram', async () => {
  const d = await callThrough(pbx, far, inside);
  const tcp = await countingTcpServer();
  closers.push(tcp.close);
  const victim = await UdpPeer.open('127.0.0.9'); // no peer's source, no vendor address
  closers.push(() => victim.close());
  // From the far end (a vendor address): admitted, but the next hop would need a new TCP connection...
  far.send(stray200(d, `SIP/2.0/TCP 127.0.0.1:${tcp.port};branch=z9hG4bK${token()}`), outside);
  await dropLine('stray-response-no-flow');
  // ... or a datagram to an unconfigured address.
  far.send(stray200(d, `SIP/2.0/UDP 127.0.0.9:${victim.port};branch=z9hG4bK${token()}`), outside);
  await dropLine('stray-response-destination');
  // A 2xx without the edge's signed Record-Route is no dialog the edge set up.
  const bare = stray200(d, `SIP/2.0/UDP 127.0.0.1:${pbx.port};branch=z9hG4bK${token()}`).replace(/^Record-Route:.*\r\n/gm, '');
  far.send(bare, outside);
  await dropLine('stray-response-unknown-dialog');
  // Non-2xx strays are never forwarded.
  far.send(stray200(d, `SIP/2.0/UDP 127.0.0.1:${pbx.port};branch=z9hG4bK${token()}`).replace('SIP/2.0 200 OK', 'SIP/2.0 486 Busy Here'), outside);
  await dropLine('stray-response-not-2xx-invite');
  await byeThrough(pbx, far, d, inside);
  assert.equal(tcp.connections(), 0);
  assert.equal(victim.received.length, 0);
  assert.equal(pbx.received.filter((r) => !r.msg.isRequest && r.msg.callId() === d.callId && r.msg.status === 486).length, 0);
});

test('a stray 2xx from the vendor for a dialog the edge set up still reaches the caller (§16.7, RFC 6026)', async () => {
  const d = await callThrough(pbx, far, inside);
  const pbxVia = parse(d.okSent).values('via')[1]!;
  far.send(stray200(d, pbxVia, ['X-Stray: 1']), outside);
  const got = await pbx.next('the stray 200', (r) => !r.msg.isRequest && r.msg.callId() === d.callId && r.msg.get('x-stray') === '1');
  assert.equal(got.msg.status, 200);
  assert.equal(got.msg.values('via').length, 1, 'the edge removed its own Via');
  await byeThrough(pbx, far, d, inside);
});

test('a stray 2xx from the inside peer toward the vendor goes back on the vendor\'s open TLS flow', async () => {
  const sock = tls.connect({ host: '127.0.0.1', port: edge.port('outside', 'tls'), servername: 'edge.test.sips-edge.test', rejectUnauthorized: false });
  closers.push(() => sock.destroy());
  await new Promise<void>((resolve, reject) => { sock.once('secureConnect', () => resolve()); sock.once('error', reject); });
  sock.on('error', () => undefined);
  let seen = '';
  const waiters: { re: RegExp; resolve: () => void }[] = [];
  sock.on('data', (b: Buffer) => {
    seen += b.toString('latin1');
    for (const w of waiters.splice(0)) if (w.re.test(seen)) w.resolve(); else waiters.push(w);
  });
  const arrives = (re: RegExp, what: string): Promise<void> => new Promise((resolve, reject) => {
    if (re.test(seen)) return resolve();
    const t = setTimeout(() => reject(new Error(`the vendor got no ${what}: ${seen.slice(-800)}`)), 5000);
    waiters.push({ re, resolve: () => { clearTimeout(t); resolve(); } });
  });
  // The vendor (127.0.0.1 is a vendor source) calls in over its own TLS connection.
  const callId = `${token()}@vendor.test`;
  sock.write(crlf([
    `INVITE sip:+4930123@edge.test.sips-edge.test:${edge.port('outside', 'tls')};transport=tls SIP/2.0`,
    `Via: SIP/2.0/TLS 127.0.0.1:${sock.localPort!};branch=z9hG4bK${token()}`,
    'Max-Forwards: 70', `From: <sip:+4969@vendor.test>;tag=${token()}`, 'To: <sip:+4930123@edge.test.sips-edge.test>',
    `Call-ID: ${callId}`, 'CSeq: 1 INVITE', `Contact: <sip:vendor@127.0.0.1:${sock.localPort!};transport=tls>`,
  ]));
  const inv = await pbx.next('INVITE from the vendor', (r) => r.msg.isRequest && r.msg.callId() === callId);
  const ok = responseTo(inv.msg, 200, 'OK', token(), [`Contact: <sip:pbx@127.0.0.1:${pbx.port}>`]);
  pbx.send(ok, inv.from.port, inv.from.address);
  await arrives(/SIP\/2\.0 200 OK/, '200');
  // A copy whose edge Via branch matches no transaction: stray, from a peer source, for a signed dialog.
  const stray = ok.replace(/(Via: [^\r]*?branch=)[^;\r]+/, `$1z9hG4bK${token()}`).replace('\r\n\r\n', '\r\nX-Stray: 1\r\n\r\n');
  const droppedBefore = edge.events('dropped').length;
  pbx.send(stray, inv.from.port, inv.from.address);
  await arrives(/X-Stray: 1/, 'stray 200 on its own connection');
  assert.equal(edge.events('dropped').length, droppedBefore);
});
