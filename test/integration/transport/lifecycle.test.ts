import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TransportError } from '../../../src/transport/transport-error.js';
import { Transport } from '../../../src/transport/transport.js';
import { makeSelfSignedCert } from '../../helpers/transport-certs.js';
import { Inbox, nextEvent, sipRequest, tcpPeer } from '../../helpers/transport-util.js';

describe('Transport lifecycle', () => {
  it('start() rejects with SIPS_ERR_TRANSPORT_LISTEN when an address is taken', async () => {
    const first = new Transport({ tcp: [{ host: '127.0.0.1', port: 0 }] });
    const port = (await first.start()).tcp[0]!.port;
    const second = new Transport({ udp: [{ host: '127.0.0.1', port: 0 }], tcp: [{ host: '127.0.0.1', port }] });
    await assert.rejects(second.start(), { code: 'SIPS_ERR_TRANSPORT_LISTEN', reason: 'bind-failed' });
    assert.equal(second.stats().udpSockets, 0); // what had bound was closed again
    await first.stop();
  });

  it('counts TLS connections against the caps until they close, and stop() ends every flow', async () => {
    const cert = makeSelfSignedCert('life.local');
    const server = new Transport({ tcp: [{ host: '127.0.0.1', port: 0 }], tls: [{ host: '127.0.0.1', port: 0 }], tlsServerOptions: { key: cert.key, cert: cert.cert } });
    const serverInbox = new Inbox(server);
    const bound = await server.start();
    const client = new Transport({ connectOptions: () => ({ rejectUnauthorized: false }) });
    await client.start();
    try {
      const viaTls = await client.send({ transport: 'tls', address: '127.0.0.1', port: bound.tls[0]!.port, servername: 'life.local' }, sipRequest('l1'));
      await client.send({ transport: 'tcp', address: '127.0.0.1', port: bound.tcp[0]!.port }, sipRequest('l2'));
      await serverInbox.take(2);
      assert.deepEqual(server.stats().flows, { total: 2, inbound: { tcp: 1, tls: 1 }, outbound: { tcp: 0, tls: 0 } });
      assert.equal(server.stats().connections, 2);
      assert.deepEqual(client.stats().flows.outbound, { tcp: 1, tls: 1 });

      const serverClosed = nextEvent(server, 'flowClosed', (e) => e.flow.transport === 'tls');
      client.closeFlow(viaTls!.id);
      assert.equal((await serverClosed).reason, 'peer-closed');
      assert.equal(server.stats().connections, 1); // the TLS slot was given back

      const clientSawEnd = nextEvent(client, 'flowClosed');
      await server.stop();
      assert.equal((await clientSawEnd).reason, 'peer-closed');
      assert.equal(server.stats().flows.total, 0);
      assert.equal(server.stats().connections, 0);
      await assert.rejects(server.send('tcp-1', sipRequest('late')), { code: 'SIPS_ERR_TRANSPORT_CLOSED' });
    } finally {
      await client.stop();
      await server.stop();
      cert.cleanup();
    }
  });

  it('stop() fails sends still waiting for a connection with reason shutdown', async () => {
    const silent = await tcpPeer();
    const client = new Transport({ handshakeTimeoutMs: 60_000 });
    await client.start();
    const opened = new Promise<void>((r) => silent.server.once('connection', () => r()));
    const pending = client.send({ transport: 'tls', address: '127.0.0.1', port: silent.port }, sipRequest('s'));
    const outcome = pending.then(() => null, (e: unknown) => e);
    await opened;
    assert.equal(client.stats().connecting, 1);
    try {
      await client.stop();
      const err = await outcome;
      assert.ok(err instanceof TransportError);
      assert.deepEqual([err.code, err.reason], ['SIPS_ERR_TRANSPORT_CLOSED', 'shutdown']);
      assert.equal(client.stats().connections, 0);
    } finally {
      await silent.close();
    }
  });
});
