import assert from 'node:assert/strict';
import type net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { Transport } from '../../../src/transport/transport.js';
import { ByteSink, Inbox, connectTcp, nextEvent, sipRequest, sipResponse, tagOf } from '../../helpers/transport-util.js';

describe('TCP listener (RFC 3261 §18.3 framing on a stream)', () => {
  let edge: Transport;
  let inbox: Inbox;
  let port: number;
  const clients: net.Socket[] = [];
  const client = async (): Promise<{ socket: net.Socket; sink: ByteSink }> => {
    const socket = await connectTcp(port);
    clients.push(socket);
    return { socket, sink: new ByteSink(socket) };
  };

  before(async () => {
    edge = new Transport({ tcp: [{ host: '127.0.0.1', port: 0 }], limits: { maxConnectionsPerAddress: 3 } });
    inbox = new Inbox(edge);
    const bound = await edge.start();
    port = bound.tcp[0]!.port;
    assert.ok(port > 0);
  });
  after(async () => {
    for (const s of clients) s.destroy();
    await edge.stop();
  });

  it('delivers two messages sent in one write as two messages, with flow and addresses', async () => {
    const { socket } = await client();
    socket.write(Buffer.concat([sipRequest('one', 30), sipRequest('two')]));
    const [a, b] = await inbox.take(2);
    assert.deepEqual([tagOf(a!.data), tagOf(b!.data)], ['one', 'two']);
    assert.deepEqual(a!.data, sipRequest('one', 30));
    assert.equal(a!.transport, 'tcp');
    assert.equal(a!.flow?.direction, 'inbound');
    assert.equal(a!.flow?.id, b!.flow?.id);
    assert.equal(a!.remote.port, socket.localPort);
    assert.equal(a!.local.port, port);
    socket.destroy();
  });

  it('reassembles one message written a few bytes at a time', async () => {
    const { socket } = await client();
    const msg = sipRequest('split', 200);
    for (let i = 0; i < msg.length; i += 5) {
      await new Promise<void>((r) => socket.write(msg.subarray(i, i + 5), () => r()));
    }
    const m = await inbox.next();
    assert.deepEqual(m.data, msg);
    socket.destroy();
  });

  it('answers a CRLFCRLF ping with a single CRLF', async () => {
    const { socket, sink } = await client();
    socket.write('\r\n\r\n');
    assert.equal((await sink.waitFor((b) => b.length >= 2)).toString('latin1'), '\r\n');
    socket.destroy();
  });

  it('sends a response by flow id back on the connection the peer opened', async () => {
    const { socket, sink } = await client();
    socket.write(sipRequest('req'));
    const m = await inbox.next();
    const used = await edge.send(m.flow!.id, sipResponse('req'));
    assert.equal(used?.id, m.flow!.id);
    const got = await sink.waitFor((b) => b.length >= sipResponse('req').length);
    assert.deepEqual(got, sipResponse('req'));
    socket.destroy();
  });

  it('rejects a send to an unknown flow id with SIPS_ERR_TRANSPORT_NO_FLOW', async () => {
    await assert.rejects(edge.send('tcp-999999', sipResponse('x')), { code: 'SIPS_ERR_TRANSPORT_NO_FLOW', reason: 'no-flow' });
  });

  it('closes the connection on a message without Content-Length and reports framingError', async () => {
    const { socket, sink } = await client();
    const framing = nextEvent(edge, 'framingError');
    const closed = nextEvent(edge, 'flowClosed', (e) => e.reason === 'framing-error');
    socket.write('OPTIONS sip:edge SIP/2.0\r\nVia: SIP/2.0/TCP h;branch=z9hG4bK1\r\nCall-ID: x\r\n\r\n');
    const e = await framing;
    assert.equal(e.error.code, 'SIPS_ERR_PARSE_NO_CONTENT_LENGTH');
    assert.equal(e.flow.remote.port, socket.localPort);
    await sink.waitClosed();
    await closed;
  });

  it('destroys connections over the per-address cap and emits connectionRejected', async () => {
    for (const s of clients) s.destroy();
    // Wait until the edge has seen every earlier client go.
    while (edge.stats().connections > 0) await nextEvent(edge, 'flowClosed');
    const opened: Promise<unknown>[] = [];
    for (let i = 0; i < 3; i++) opened.push(nextEvent(edge, 'flowOpened'));
    const held = [await client(), await client(), await client()];
    await Promise.all(opened);
    const rejected = nextEvent(edge, 'connectionRejected');
    const extra = await client();
    const e = await rejected;
    assert.equal(e.reason, 'max-per-address');
    assert.equal(e.remote.address, '127.0.0.1');
    await extra.sink.waitClosed();
    assert.equal(edge.stats().rejected.maxPerAddress, 1);
    assert.equal(edge.stats().flows.inbound.tcp, 3);
    // The held ones still work.
    held[0]!.socket.write(sipRequest('still'));
    assert.equal(tagOf((await inbox.next()).data), 'still');
    for (const h of held) h.socket.destroy();
  });
});
