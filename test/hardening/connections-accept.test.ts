/**
 * Issue 11 #6 and #9: stream connections from strangers. The edge runs as its own process; clients
 * bind to loopback addresses: 127.0.0.1 is the vendor (routing.vendorSources) and the PBX (the
 * peer's sources), 127.0.0.2.. are strangers. Caps are small so exhaustion needs few sockets.
 */
import assert from 'node:assert/strict';
import type net from 'node:net';
import { after, describe, it } from 'node:test';
import {
  closed, inviteText, metric, optionsText, refused, request, scrape, startConnEdge, tally, tcpClient, tlsClient, type ConnEdge,
} from '../helpers/connections.js';

const sockets: net.Socket[] = [];
const edges: ConnEdge[] = [];
after(async () => {
  for (const s of sockets) s.destroy();
  for (const e of edges) await e.stop();
});
const keep = <T extends net.Socket>(s: T): T => {
  sockets.push(s);
  return s;
};
const stranger = (i: number): string => `127.0.0.${2 + (i % 8)}`;

describe('at accept: strangers refused before TLS (default: unknownSourceConnectionsPerListener 0)', () => {
  it('a flood of TLS handshakes and bare connects from strangers is refused; the vendor\'s OPTIONS and INVITE are answered meanwhile', { timeout: 30_000 }, async () => {
    const e = await startConnEdge('maxConnectionsPerListener: 50, maxOutsideConnections: 50, maxInsideConnections: 50, reservedConnections: 5');
    edges.push(e);
    // Item 9: 80 TLS handshakes and 80 bare TCP connects (never a byte) from eight stranger addresses,
    // all started at once; the vendor connects in the middle of it.
    const handshakes = tally(Array.from({ length: 80 }, (_, i) => tlsClient(e.tlsPort, stranger(i)).then(keep)));
    const bare = Array.from({ length: 80 }, (_, i) => tcpClient(e.tlsPort, stranger(i + 3)).then((s) => closed(keep(s))));
    const vendor = keep(await tlsClient(e.tlsPort, '127.0.0.1'));
    assert.match(await request(vendor, optionsText({ transport: 'TLS', local: '127.0.0.1', port: e.tlsPort })), /^SIP\/2\.0 200 /);
    // An INVITE from the vendor is taken in (100 Trying) and answered (no PBX listens on 5099).
    const invite = inviteText(e.tlsPort);
    const status = await request(vendor, invite);
    assert.match(status, /^SIP\/2\.0 (100|[3-6]\d\d) /);

    const tlsResult = await handshakes;
    assert.equal(tlsResult.ok.length, 0, 'no stranger completed a TLS handshake');
    assert.equal(tlsResult.failed, 80);
    // The bare connects are closed by the edge without a byte (nothing was read, no TLS began).
    const bareBytes = await Promise.all(bare);
    assert.deepEqual(bareBytes.map((b) => b.length), new Array(80).fill(0));

    const text = await scrape(e.adminPort);
    assert.equal(metric(text, refused('outside-tls', 'outside', 'tls', 'unknown-source')), 160);
    assert.equal(metric(text, 'sips_edge_tls_handshakes_total{role="server",result="failed",reason="handshake-timeout",cipher="none",resumed="false"}'), 0, 'no stranger reached the handshake');
    const logged = await e.edge.line('a connection-rejected line', (l) => l.event === 'connection-rejected');
    assert.equal(logged['reason'], 'unknown-source');
    assert.equal(logged['listener'], 'outside-tls');
    // Still answered after the flood.
    assert.match(await request(vendor, optionsText({ transport: 'TLS', local: '127.0.0.1', port: e.tlsPort })), /^SIP\/2\.0 200 /);
  });

  it('inside: a stranger\'s TCP connection is refused at accept, the PBX\'s is served', { timeout: 20_000 }, async () => {
    const e = edges[0]!;
    const s = keep(await tcpClient(e.tcpPort, '127.0.0.9'));
    assert.equal((await closed(s)).length, 0);
    const pbx = keep(await tcpClient(e.tcpPort, '127.0.0.1'));
    assert.match(await request(pbx, optionsText({ transport: 'TCP', local: '127.0.0.1', port: e.tcpPort })), /^SIP\/2\.0 200 /);
    const text = await scrape(e.adminPort);
    assert.equal(metric(text, refused('inside-tcp', 'inside', 'tcp', 'unknown-source')), 1);
  });
});

describe('caps per listener and side, with a reserve strangers cannot take (strangers admitted by config)', () => {
  it('60 idle stranger TLS connections fill only the stranger share; the vendor\'s next TLS connection and the PBX\'s TCP connection still work', { timeout: 30_000 }, async () => {
    const e = await startConnEdge('maxConnectionsPerListener: 50, maxOutsideConnections: 50, maxInsideConnections: 50, reservedConnections: 5, unknownSourceConnectionsPerListener: 1000, maxConnections: 200');
    edges.push(e);
    // The attack, scaled down: idle TLS connections from several addresses until the cap.
    const strangers = await tally(Array.from({ length: 60 }, (_, i) => tlsClient(e.tlsPort, stranger(i)).then(keep)));
    assert.equal(strangers.ok.length, 45, 'strangers get the listener cap minus the reserve');
    assert.equal(strangers.failed, 15);
    let text = await scrape(e.adminPort);
    assert.equal(metric(text, refused('outside-tls', 'outside', 'tls', 'reserved')), 15);

    // The vendor's next connections fit in the reserve, and its requests are answered.
    const vendors = await Promise.all(Array.from({ length: 5 }, () => tlsClient(e.tlsPort, '127.0.0.1').then(keep)));
    for (const v of vendors) assert.match(await request(v, optionsText({ transport: 'TLS', local: '127.0.0.1', port: e.tlsPort })), /^SIP\/2\.0 200 /);
    // Listener cap reached: even the vendor's 51st is refused, and counted.
    await assert.rejects(tlsClient(e.tlsPort, '127.0.0.1'));
    // The inside listener has its own cap: the PBX's TCP call path is untouched.
    const pbx = keep(await tcpClient(e.tcpPort, '127.0.0.1'));
    assert.match(await request(pbx, optionsText({ transport: 'TCP', local: '127.0.0.1', port: e.tcpPort })), /^SIP\/2\.0 200 /);
    text = await scrape(e.adminPort);
    assert.ok(metric(text, refused('outside-tls', 'outside', 'tls', 'max-per-side')) + metric(text, refused('outside-tls', 'outside', 'tls', 'max-per-listener')) >= 1);
    // A stranger admitted by config still gets 403 at SIP level (the access rule did not move).
    assert.match(await request(strangers.ok[0]!, optionsText({ transport: 'TLS', local: '127.0.0.2', port: e.tlsPort })), /^SIP\/2\.0 403 /);
  });
});

describe('first-message timeout', () => {
  it('closes an accepted connection that sends no complete SIP message (CRLF pings do not count); one that did stays', { timeout: 20_000 }, async () => {
    const e = await startConnEdge('firstMessageTimeoutSeconds: 1');
    edges.push(e);
    const talker = keep(await tlsClient(e.tlsPort));
    assert.match(await request(talker, optionsText({ transport: 'TLS', local: '127.0.0.1', port: e.tlsPort })), /^SIP\/2\.0 200 /);
    const silent = keep(await tlsClient(e.tlsPort));
    const pinger = keep(await tcpClient(e.tcpPort));
    const pingerClosed = closed(pinger);
    pinger.write('\r\n\r\n');
    const silentClosed = closed(silent);
    const [silentBytes, pingerBytes] = await Promise.all([silentClosed, pingerClosed]);
    assert.equal(silentBytes.length, 0);
    assert.equal(pingerBytes.toString('latin1'), '\r\n', 'the ping got its pong, then the connection was closed');
    await e.edge.line('a first-message-timeout close', (l) => l.event === 'flow-closed' && l['reason'] === 'first-message-timeout');
    // The connection that had sent a message was opened first and is still open.
    assert.equal(talker.destroyed, false);
    assert.match(await request(talker, optionsText({ transport: 'TLS', local: '127.0.0.1', port: e.tlsPort })), /^SIP\/2\.0 200 /);
    const text = await scrape(e.adminPort);
    assert.equal(metric(text, 'sips_edge_connections_closed_total{transport="tls",reason="first-message-timeout"}'), 1);
    assert.equal(metric(text, 'sips_edge_connections_closed_total{transport="tcp",reason="first-message-timeout"}'), 1);
  });
});
