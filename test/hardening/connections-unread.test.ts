/**
 * Issue 11 #7: a peer that pipelines requests (or CRLF pings) and never reads the answers. The
 * edge stops reading it (back-pressure) and closes it when its write queue has not drained within
 * limits.writeStallSeconds; pongs owed count toward the queue. Real sockets against the edge process.
 */
import assert from 'node:assert/strict';
import type net from 'node:net';
import { after, describe, it } from 'node:test';
import { metric, optionsText, request, scrape, startConnEdge, tcpClient, tlsClient, type ConnEdge } from '../helpers/connections.js';

const sockets: net.Socket[] = [];
let e: ConnEdge | null = null;
after(async () => {
  for (const s of sockets) s.destroy();
  await e?.stop();
});

/**
 * Writes pipelined OPTIONS (100 per write, at most `max` writes) without ever reading, honouring
 * its own socket's back-pressure, until the edge closes the connection. Resolves with the writes made.
 */
function flood(s: net.Socket, text: (i: number) => string, max: number): Promise<number> {
  s.pause();
  return new Promise((resolve) => {
    let n = 0;
    let done = false;
    const finish = (): void => {
      if (done) return;
      done = true;
      resolve(n);
    };
    s.once('close', finish);
    const pump = (): void => {
      while (!done && n < max) {
        const batch = Array.from({ length: 100 }, (_, i) => text(n * 100 + i)).join('');
        n++;
        if (!s.write(batch)) {
          s.once('drain', pump);
          return;
        }
      }
    };
    pump();
  });
}

describe('unread connections', () => {
  it('a PBX connection pipelining OPTIONS that never reads is paused, then closed (write-stalled); a new connection is served', { timeout: 30_000 }, async () => {
    // The admission buckets are opened wide: this test is about answers the peer never reads, so every
    // pipelined OPTIONS must be answered (a spent bucket answers 200 503s/s and fills the queue slowly).
    e = await startConnEdge('maxWriteBuffer: 65536, writeStallSeconds: 1, maxWriteQueue: 1048576, knownSourceRequestRate: 1000000, knownSourceRequestBurst: 1000000');
    const s = await tcpClient(e.tcpPort);
    sockets.push(s);
    const writes = await flood(s, () => optionsText({ transport: 'TCP', local: '127.0.0.1', port: e!.tcpPort }), 2_000);
    assert.ok(writes < 2_000, `the edge closed the connection before the client ran out (${writes} writes)`);
    const line = await e.edge.line('a write-stalled close', (l) => l.event === 'flow-closed' && l['transport'] === 'tcp' && (l['reason'] === 'write-stalled' || l['reason'] === 'write-overflow'));
    assert.equal(line['reason'], 'write-stalled', 'reading was paused, so the queue never reached the hard limit');
    const fresh = await tcpClient(e.tcpPort);
    sockets.push(fresh);
    assert.match(await request(fresh, optionsText({ transport: 'TCP', local: '127.0.0.1', port: e.tcpPort })), /^SIP\/2\.0 200 /);
  });

  it('the same over TLS from the vendor address', { timeout: 30_000 }, async () => {
    const s = await tlsClient(e!.tlsPort);
    sockets.push(s);
    const writes = await flood(s, () => optionsText({ transport: 'TLS', local: '127.0.0.1', port: e!.tlsPort }), 2_000);
    assert.ok(writes < 2_000, `closed after ${writes} writes`);
    await e!.edge.line('a TLS write-stalled close', (l) => l.event === 'flow-closed' && l['transport'] === 'tls' && l['reason'] === 'write-stalled');
    const text = await scrape(e!.adminPort);
    assert.equal(metric(text, 'sips_edge_connections_closed_total{transport="tls",reason="write-stalled"}'), 1);
    assert.equal(metric(text, 'sips_edge_connections_closed_total{transport="tcp",reason="write-stalled"}'), 1);
    const fresh = await tlsClient(e!.tlsPort);
    sockets.push(fresh);
    assert.match(await request(fresh, optionsText({ transport: 'TLS', local: '127.0.0.1', port: e!.tlsPort })), /^SIP\/2\.0 200 /);
  });

  it('CRLF pings from a peer that does not read get one pong in flight, not one queued write per ping', { timeout: 30_000 }, async () => {
    const s = await tcpClient(e!.tcpPort);
    sockets.push(s);
    // One request first, so the first-message timeout does not apply.
    assert.match(await request(s, optionsText({ transport: 'TCP', local: '127.0.0.1', port: e!.tcpPort })), /^SIP\/2\.0 200 /);
    s.pause();
    const PINGS = 100_000;
    const chunk = '\r\n\r\n'.repeat(1_000);
    for (let i = 0; i < PINGS / 1_000; i++) {
      if (!s.write(chunk)) await new Promise((r) => s.once('drain', r));
    }
    // Then read: the pongs and the answer to one more OPTIONS (answered after every ping is taken in).
    let got = '';
    s.on('data', (d: Buffer) => { got += d.toString('latin1'); });
    s.resume();
    assert.match(await request(s, optionsText({ transport: 'TCP', local: '127.0.0.1', port: e!.tcpPort })), /^SIP\/2\.0 200 /);
    const pongs = (got.slice(0, got.indexOf('SIP/2.0')).match(/\r\n/g) ?? []).length;
    assert.ok(pongs >= 1, 'pings are answered');
    assert.ok(pongs <= PINGS / 100, `${pongs} pongs for ${PINGS} pings: at most one per read, while one is unflushed`);
    assert.equal(s.destroyed, false);
  });
});
