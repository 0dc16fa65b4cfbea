import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { TransportError } from '../../../src/transport/transport-error.js';
import { Transport } from '../../../src/transport/transport.js';
import { ByteSink, Inbox, closedPort, nextEvent, sipRequest, sipResponse, tagOf, tcpPeer } from '../../helpers/transport-util.js';

describe('outbound TCP pool', () => {
  let edge: Transport;
  let peer: Transport;
  let peerInbox: Inbox;
  let edgeInbox: Inbox;
  let peerPort: number;

  before(async () => {
    peer = new Transport({ tcp: [{ host: '127.0.0.1', port: 0 }] });
    peerInbox = new Inbox(peer);
    peerPort = (await peer.start()).tcp[0]!.port;
    edge = new Transport({});
    edgeInbox = new Inbox(edge);
    await edge.start();
  });
  after(async () => {
    await edge.stop();
    await peer.stop();
  });

  it('reuses one connection for two sends to the same target', async () => {
    const target = { transport: 'tcp', address: '127.0.0.1', port: peerPort } as const;
    const f1 = await edge.send(target, sipRequest('p1'));
    const f2 = await edge.send(target, sipRequest('p2'));
    assert.equal(f1?.id, f2?.id);
    assert.equal(f1?.direction, 'outbound');
    const [a, b] = await peerInbox.take(2);
    assert.deepEqual([tagOf(a!.data), tagOf(b!.data)], ['p1', 'p2']);
    assert.equal(a!.flow?.id, b!.flow?.id);
    assert.equal(peer.stats().flows.inbound.tcp, 1);
    assert.equal(edge.stats().pooled, 1);
    // The peer answers on the flow the edge opened; the edge receives it on its pooled flow.
    await peer.send(a!.flow!.id, sipResponse('p1'));
    const r = await edgeInbox.next();
    assert.equal(r.flow?.id, f1?.id);
    assert.equal(tagOf(r.data), 'p1');
  });

  it('preconnect opens the pooled connection with a CRLFCRLF ping (RFC 5626 §3.5.1) and the next send reuses it', async () => {
    const sinks: ByteSink[] = [];
    const server = await tcpPeer((s) => { sinks.push(new ByteSink(s)); });
    const target = { transport: 'tcp', address: '127.0.0.1', port: server.port } as const;
    const opened = await edge.preconnect(target);
    assert.equal(opened?.direction, 'outbound');
    const sent = await edge.send(target, sipRequest('after-ping'));
    assert.equal(sent?.id, opened?.id, 'the message went on the preconnected flow');
    const bytes = await sinks[0]!.waitFor((b) => b.includes('after-ping'));
    assert.ok(bytes.toString('latin1').startsWith('\r\n\r\n'), 'the ping came first');
    assert.equal(sinks.length, 1, 'one connection');
    await server.close();
  });

  it('queues sends made while connecting and delivers them all, in order, on one connection', async () => {
    const other = new Transport({ tcp: [{ host: '127.0.0.1', port: 0 }] });
    const inbox = new Inbox(other);
    const port = (await other.start()).tcp[0]!.port;
    const target = { transport: 'tcp', address: '127.0.0.1', port } as const;
    const tags = Array.from({ length: 20 }, (_, i) => `q${i}`);
    const flows = await Promise.all(tags.map((t) => edge.send(target, sipRequest(t, 100))));
    assert.equal(new Set(flows.map((f) => f?.id)).size, 1);
    const got = await inbox.take(tags.length);
    assert.deepEqual(got.map((m) => tagOf(m.data)), tags);
    assert.equal(other.stats().flows.inbound.tcp, 1);
    await other.stop();
  });

  it('rejects every queued send with connect-refused when the target refuses', async () => {
    const port = await closedPort();
    const target = { transport: 'tcp', address: '127.0.0.1', port } as const;
    const results = await Promise.allSettled([1, 2, 3].map((i) => edge.send(target, sipRequest(`r${i}`))));
    for (const r of results) {
      assert.equal(r.status, 'rejected');
      const err = (r as PromiseRejectedResult).reason as unknown;
      assert.ok(err instanceof TransportError);
      assert.equal(err.code, 'SIPS_ERR_TRANSPORT_CONNECT');
      assert.equal(err.reason, 'connect-refused');
    }
    assert.equal(edge.stats().connecting, 0);
  });

  it('reconnects after the pooled flow closes', async () => {
    const target = { transport: 'tcp', address: '127.0.0.1', port: peerPort } as const;
    const first = await edge.send(target, sipRequest('before'));
    await peerInbox.next();
    const closed = nextEvent(edge, 'flowClosed', (e) => e.flow.id === first?.id);
    edge.closeFlow(first!.id);
    assert.equal((await closed).reason, 'local-close');
    const second = await edge.send(target, sipRequest('after'));
    assert.notEqual(second?.id, first?.id);
    assert.equal(tagOf((await peerInbox.next()).data), 'after');
  });
});

describe('RFC 5626 keep-alive on outbound flows (real sockets, short intervals)', () => {
  it('pings an idle flow, keeps it while the peer pongs, closes it when pongs stop', async () => {
    let answer = true;
    const pings: ByteSink[] = [];
    const server = await tcpPeer((s) => {
      const sink = new ByteSink(s);
      pings.push(sink);
      s.on('data', (c: Buffer) => {
        if (c.toString('latin1').endsWith('\r\n\r\n') && answer) s.write('\r\n');
      });
    });
    const edge = new Transport({ limits: { keepAliveIntervalMs: 20, keepAlivePongTimeoutMs: 1_000 } });
    await edge.start();
    const flow = await edge.send({ transport: 'tcp', address: '127.0.0.1', port: server.port }, sipRequest('ka'));
    const sink = pings[0]!;
    const msgLen = sipRequest('ka').length;
    // Two pings answered: the flow stays.
    const pingBytes = await sink.waitFor((b) => b.length >= msgLen + 8);
    assert.match(pingBytes.subarray(msgLen).toString('latin1'), /^(\r\n\r\n)+$/);
    assert.equal(edge.getFlow(flow!.id)?.id, flow!.id);
    answer = false;
    const closed = await nextEvent(edge, 'flowClosed', (e) => e.flow.id === flow!.id);
    assert.equal(closed.reason, 'keepalive-timeout');
    await sink.waitClosed();
    await edge.stop();
    await server.close();
  });
});
