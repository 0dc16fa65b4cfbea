import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { EdgeProcess } from '../helpers/edge-process.js';
import { byeThrough, callThrough, countingTcpServer, crlf, inDialog, leafCert, parse, relayConfig, request, token, UdpPeer, type Dialog } from './relay-sip.js';
import type { SipMessage } from '../../src/message/message.js';

/**
 * Issue 11 item 5: the edge follows only Route entries it wrote (signed `sg=`), never a forged
 * `se=i|o`, never its own entries replayed back into the side they came from, and never toward a
 * next hop nobody configured. A second instance with the same key routes the dialog.
 */
const KEY = 'relay-route-test-key-A-0123456789';
let pbx: UdpPeer;
let far: UdpPeer;
let victim: UdpPeer;
let dir: string;
const edges: EdgeProcess[] = [];
const closers: (() => unknown)[] = [];

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sips-edge-relay-route-'));
  pbx = await UdpPeer.open();
  far = await UdpPeer.open();
  victim = await UdpPeer.open('127.0.0.9'); // an address nobody configured
});

after(async () => {
  for (const e of edges) await e.stop();
  pbx?.close();
  far?.close();
  victim?.close();
  for (const c of closers) await c();
  rmSync(dir, { recursive: true, force: true });
});

async function start(yaml: string): Promise<EdgeProcess> {
  const e = await EdgeProcess.start(yaml);
  edges.push(e);
  return e;
}

async function finalFor(callId: string, method: string): Promise<SipMessage> {
  return (await pbx.next(`final response to ${method}`, (r) => !r.msg.isRequest && r.msg.status >= 200 && r.msg.callId() === callId && r.msg.cseq().method === method)).msg;
}

function warningCode(m: SipMessage): string | undefined {
  return /"(SIPS_ERR_[A-Z_]+)/.exec(m.get('warning') ?? '')?.[1];
}

function byeWith(edgeInside: number, routes: readonly string[], ruri: string, d?: Dialog): string {
  const callId = d?.callId ?? `${token()}@relay.test`;
  return request({
    method: 'BYE', ruri, routes, via: `SIP/2.0/UDP 127.0.0.1:${pbx.port};branch=z9hG4bK${token()};rport`,
    from: d?.from ?? `<sip:201@127.0.0.1:${pbx.port}>;tag=${token()}`, to: d?.to ?? `<sip:x@127.0.0.1:${edgeInside}>;tag=${token()}`, callId, cseq: 5,
  });
}

test('forged edge Routes (se=i, se=o, no or bad signature) from an inside peer: 403, counted, nothing reaches the target', async () => {
  const edge = await start(relayConfig({ farPort: far.port, keys: [KEY] }));
  const inside = edge.port('inside', 'udp');
  const outside = edge.port('outside', 'udp');
  const tcp = await countingTcpServer('127.0.0.9');
  closers.push(tcp.close);
  const cases: { routes: string[]; ruri: string }[] = [
    { routes: [`<sip:127.0.0.1:${inside};transport=udp;lr;r2=on;se=i>`, `<sip:127.0.0.1:${outside};transport=udp;lr;r2=on;se=o>`], ruri: `sip:v@127.0.0.9:${victim.port};transport=udp` },
    { routes: [`<sip:127.0.0.1:${inside};transport=udp;lr;se=i>`], ruri: `sip:v@127.0.0.9:${victim.port};transport=udp` },
    { routes: [`<sip:127.0.0.1:${outside};transport=udp;lr;se=o;t=far1.lab.test>`], ruri: `sip:v@127.0.0.9:${tcp.port};transport=tcp` },
    { routes: [`<sip:127.0.0.1:${inside};transport=udp;lr;se=i;sg=AAAAAAAAAAAAAAAA>`], ruri: `sip:v@127.0.0.9:${victim.port};transport=udp` },
  ];
  for (const c of cases) {
    const msg = byeWith(inside, c.routes, c.ruri);
    pbx.send(msg, inside);
    const r = await finalFor(parse(msg).callId(), 'BYE');
    assert.equal(r.status, 403, c.routes.join(', '));
    assert.equal(warningCode(r), 'SIPS_ERR_PROXY_ROUTE_FORGED');
  }
  // An initial INVITE with a forged edge Route is refused the same way.
  const callId = `${token()}@relay.test`;
  pbx.send(request({
    method: 'INVITE', ruri: `sip:v@127.0.0.9:${victim.port};transport=udp`, routes: [`<sip:127.0.0.1:${inside};transport=udp;lr;se=o>`],
    via: `SIP/2.0/UDP 127.0.0.1:${pbx.port};branch=z9hG4bK${token()};rport`, from: `<sip:201@127.0.0.1>;tag=${token()}`, to: '<sip:v@127.0.0.9>', callId, cseq: 1,
  }), inside);
  assert.equal((await finalFor(callId, 'INVITE')).status, 403);
  // Each refusal is logged and counted under its code (the line may follow the response out).
  await edge.line('a local-reply line per refusal', () => edge.events('local-reply').filter((l) => l['code'] === 'SIPS_ERR_PROXY_ROUTE_FORGED').length === cases.length + 1);
  // An ACK (no response to refuse with) is dropped and counted.
  const ack = byeWith(inside, cases[0]!.routes, cases[0]!.ruri).replace(/^BYE /, 'ACK ').replace('CSeq: 5 BYE', 'CSeq: 5 ACK');
  pbx.send(ack, inside);
  await edge.line('the forged ACK dropped', (l) => l.event === 'dropped' && l['reason'] === 'ack-route-forged');
  assert.equal(victim.received.length, 0);
  assert.equal(tcp.connections(), 0);
  assert.equal(far.received.filter((r) => r.msg.isRequest && (r.msg.method === 'BYE' || r.msg.method === 'ACK')).length, 0);
  await edge.stop();
});

test('a genuine call: BYE along the signed route set routes; a tampered signature, a replay back inside or toward an unconfigured next hop is refused', async () => {
  const edge = await start(relayConfig({ farPort: far.port, keys: [KEY] }));
  const inside = edge.port('inside', 'udp');
  const d = await callThrough(pbx, far, inside);
  assert.equal(d.routes.length, 2, 'double Record-Route (RFC 5658)');
  assert.match(d.routes[0]!, /;se=i;sg=[A-Za-z0-9_-]{16}>/);
  assert.match(d.routes[1]!, /;se=o;t=far1.lab.test;sg=[A-Za-z0-9_-]{16}>/);

  // One character of the signature changed.
  const tampered = d.routes.map((r, i) => (i === 1 ? r.replace(/sg=(.)/, (_m, c: string) => `sg=${c === 'A' ? 'B' : 'A'}`) : r));
  pbx.send(inDialog(pbx, d, 'BYE', 2, tampered), inside);
  let r = await finalFor(d.callId, 'BYE');
  assert.equal(r.status, 403);
  assert.equal(warningCode(r), 'SIPS_ERR_PROXY_ROUTE_FORGED');
  // A parameter added under a valid signature (pe= steers the SRTP setting, f= the flow).
  pbx.received.length = 0;
  pbx.send(inDialog(pbx, d, 'BYE', 3, [d.routes[0]!, d.routes[1]!.replace(';se=o', ';se=o;f=stolen')]), inside);
  r = await finalFor(d.callId, 'BYE');
  assert.equal(warningCode(r), 'SIPS_ERR_PROXY_ROUTE_FORGED');
  // Genuine entries, reordered so the request would leave by the inside leg toward the victim.
  pbx.received.length = 0;
  pbx.send(inDialog(pbx, d, 'BYE', 4, [d.routes[1]!, d.routes[0]!], `sip:v@127.0.0.9:${victim.port};transport=udp`), inside);
  r = await finalFor(d.callId, 'BYE');
  assert.equal(r.status, 403);
  assert.equal(warningCode(r), 'SIPS_ERR_PROXY_ROUTE_FORGED');
  // Genuine entries in order, but the remote target is an address no trunk or peer has.
  pbx.received.length = 0;
  pbx.send(inDialog(pbx, d, 'BYE', 5, d.routes, `sip:v@127.0.0.9:${victim.port};transport=udp`), inside);
  r = await finalFor(d.callId, 'BYE');
  assert.equal(r.status, 403);
  assert.equal(warningCode(r), 'SIPS_ERR_PROXY_UNKNOWN_NEXT_HOP');
  assert.equal(victim.received.length, 0);

  // The genuine BYE still routes.
  pbx.received.length = 0;
  const ok = await byeThrough(pbx, far, d, inside, 6);
  assert.equal(ok.status, 200);
  await edge.stop();
});

test('the signed route set survives a restart with the same key and is refused by an instance with another key', async () => {
  const a = await start(relayConfig({ farPort: far.port, keys: [KEY] }));
  const inside = a.port('inside', 'udp');
  const outside = a.port('outside', 'udp');
  const d = await callThrough(pbx, far, inside);
  await a.stop();

  // Same ports, another key: the entries are the edge's by name and port but not by signature.
  const other = await start(relayConfig({ farPort: far.port, keys: ['relay-route-test-key-B-0123456789'], insidePort: inside, outsidePort: outside }));
  pbx.received.length = 0;
  pbx.send(inDialog(pbx, d, 'BYE', 2), inside);
  assert.equal((await finalFor(d.callId, 'BYE')).status, 403);
  await other.stop();

  // Same key (rotated: a new first key signs, the old one still verifies): the BYE routes.
  const b = await start(relayConfig({ farPort: far.port, keys: ['relay-route-test-key-C-0123456789', KEY], insidePort: inside, outsidePort: outside }));
  pbx.received.length = 0;
  const ok = await byeThrough(pbx, far, d, inside, 3);
  assert.equal(ok.status, 200);
  await b.line('the BYE transaction, routed by the dialog', (l) => l.event === 'transaction' && l['method'] === 'BYE' && l['route'] === 'dialog');
  // New dialogs are signed with the new first key: an instance with only the old key refuses them.
  const d2 = await callThrough(pbx, far, inside);
  await b.stop();
  const old = await start(relayConfig({ farPort: far.port, keys: [KEY], insidePort: inside, outsidePort: outside }));
  pbx.received.length = 0;
  pbx.send(inDialog(pbx, d2, 'BYE', 2), inside);
  assert.equal((await finalFor(d2.callId, 'BYE')).status, 403);
  await old.stop();
});

test('foreign Route on an initial request from inside: stripped by default, refused with routing.foreignRoutes: refuse; no key configured warns', async () => {
  const strip = await start(relayConfig({ farPort: far.port, keys: [KEY] }));
  let inside = strip.port('inside', 'udp');
  let callId = `${token()}@relay.test`;
  const invite = (to: number): string => request({
    method: 'INVITE', ruri: `sip:+4969123456@127.0.0.1:${to}`, routes: [`<sip:127.0.0.9:${victim.port};lr>`],
    via: `SIP/2.0/UDP 127.0.0.1:${pbx.port};branch=z9hG4bK${token()};rport`, from: `<sip:201@127.0.0.1>;tag=${token()}`, to: `<sip:+4969123456@127.0.0.1:${to}>`, callId, cseq: 1,
  }, [`Contact: <sip:201@127.0.0.1:${pbx.port}>`]);
  pbx.send(invite(inside), inside);
  const inv = await far.next('INVITE', (r) => r.msg.isRequest && r.msg.callId() === callId);
  assert.equal(inv.msg.values('route').length, 0, 'the Route set is not passed to the trunk');
  far.send(crlf([
    'SIP/2.0 486 Busy Here', ...inv.msg.values('via').map((v) => `Via: ${v}`), `From: ${inv.msg.get('from')!}`, `To: ${inv.msg.get('to')!};tag=x`,
    `Call-ID: ${callId}`, 'CSeq: 1 INVITE',
  ]), inv.from.port, inv.from.address);
  assert.equal((await finalFor(callId, 'INVITE')).status, 486);
  await strip.stop();

  const refuse = await start(relayConfig({ farPort: far.port, routing: '  foreignRoutes: refuse\n' }));
  await refuse.line('route-keys warning', (l) => l.event === 'route-keys' && /will not survive a restart/.test(l.msg));
  inside = refuse.port('inside', 'udp');
  callId = `${token()}@relay.test`;
  pbx.send(invite(inside), inside);
  const r = await finalFor(callId, 'INVITE');
  assert.equal(r.status, 403);
  assert.equal(warningCode(r), 'SIPS_ERR_PROXY_FOREIGN_ROUTE');
  assert.equal(victim.received.length, 0);
  await refuse.stop();
});

test('the inside TLS Record-Route names the inside certificate, not the bound address', async () => {
  const outsideId = leafCert(dir, 'edge.test.sips-edge.test');
  const insideId = leafCert(dir, 'inside.test.sips-edge.test');
  const edge = await start(relayConfig({
    farPort: far.port, keys: [KEY],
    tls: { ...outsideId, insideName: 'inside.test.sips-edge.test', insideCert: insideId.cert, insideKey: insideId.key },
  }));
  const port = edge.port('inside', 'tls');
  const sock = tls.connect({ host: '127.0.0.1', port, servername: 'inside.test.sips-edge.test', rejectUnauthorized: false });
  closers.push(() => sock.destroy());
  await new Promise<void>((resolve, reject) => { sock.once('secureConnect', () => resolve()); sock.once('error', reject); });
  sock.on('error', () => undefined);
  const callId = `${token()}@relay.test`;
  sock.write(request({
    method: 'INVITE', ruri: `sip:+4969123456@inside.test.sips-edge.test:${port};transport=tls`, routes: [],
    via: `SIP/2.0/TLS 127.0.0.1:${sock.localPort};branch=z9hG4bK${token()}`, from: `<sip:201@127.0.0.1>;tag=${token()}`, to: '<sip:+4969123456@inside.test.sips-edge.test>', callId, cseq: 1,
  }, ['Contact: <sip:201@127.0.0.1;transport=tls>']));
  const inv = await far.next('INVITE over the inside TLS leg', (r) => r.msg.isRequest && r.msg.callId() === callId);
  const rr = inv.msg.values('record-route');
  assert.ok(rr.some((v) => v.startsWith(`<sip:inside.test.sips-edge.test:${port};transport=tls;`) && v.includes(';se=i')), rr.join(' | '));
  assert.ok(!rr.some((v) => v.includes(`127.0.0.1:${port}`)), 'the bound address is not written');
  await edge.stop();
});
