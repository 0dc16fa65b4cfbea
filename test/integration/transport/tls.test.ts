import assert from 'node:assert/strict';
import type net from 'node:net';
import tls from 'node:tls';
import { after, before, describe, it } from 'node:test';
import { TransportError } from '../../../src/transport/transport-error.js';
import { Transport } from '../../../src/transport/transport.js';
import type { PeerAddress, VerifyResult } from '../../../src/transport/types.js';
import { makeSelfSignedCert } from '../../helpers/transport-certs.js';
import type { TestCert } from '../../helpers/transport-certs.js';
import { ByteSink, Inbox, connectTcp, nextEvent, sipRequest, sipResponse, tagOf, tcpPeer } from '../../helpers/transport-util.js';

/** Stands in for tls/'s RFC 5922 check: the SAN must name the target. */
function verifySan(socket: tls.TLSSocket, target: PeerAddress): VerifyResult {
  const san = socket.getPeerCertificate().subjectaltname ?? '';
  const want = target.servername ?? target.address;
  return san.split(', ').includes(`DNS:${want}`) ? { ok: true } : { ok: false, reason: 'name-mismatch', detail: `${want} not in ${san}` };
}

describe('TLS listener and outbound TLS pool', () => {
  let cert: TestCert;
  let server: Transport;
  let serverInbox: Inbox;
  let tlsPort: number;
  let client: Transport;
  let clientInbox: Inbox;
  const target = (servername = 'test.local'): PeerAddress => ({ transport: 'tls', address: '127.0.0.1', port: tlsPort, servername });
  /** A TLS client of the server's listener, and the server's view of the first request it sent (tagged `tag`). */
  const clientWithRequest = async (tag: string): Promise<{ socket: tls.TLSSocket; sink: ByteSink; m: Awaited<ReturnType<Inbox['next']>> }> => {
    const socket = tls.connect({ host: '127.0.0.1', port: tlsPort, servername: 'test.local', rejectUnauthorized: false });
    await new Promise<void>((r) => socket.once('secureConnect', () => r()));
    const sink = new ByteSink(socket);
    socket.write(sipRequest(tag));
    return { socket, sink, m: await serverInbox.next() };
  };

  before(async () => {
    cert = makeSelfSignedCert('test.local');
    server = new Transport({ tls: [{ host: '127.0.0.1', port: 0 }], tlsServerOptions: { key: cert.key, cert: cert.cert, minVersion: 'TLSv1.2', maxVersion: 'TLSv1.2' } });
    serverInbox = new Inbox(server);
    tlsPort = (await server.start()).tls[0]!.port;
    client = new Transport({ connectOptions: () => ({ rejectUnauthorized: false }), verifyPeer: verifySan });
    clientInbox = new Inbox(client);
    await client.start();
  });
  after(async () => {
    await client.stop();
    await server.stop();
    cert.cleanup();
  });

  it('connects once, verifies the peer, reuses the flow, and carries responses back by flow id', async () => {
    const serverUp = nextEvent(server, 'tlsEstablished');
    const clientUp = nextEvent(client, 'tlsEstablished');
    const f1 = await client.send(target(), sipRequest('t1'));
    const f2 = await client.send(target(), sipRequest('t2'));
    assert.equal(f1?.id, f2?.id);
    assert.equal(f1?.tls?.protocol, 'TLSv1.2');
    assert.equal(f1?.tls?.servername, 'test.local');
    assert.match(f1?.tls?.peerSan ?? '', /DNS:test\.local/);
    const [s, c] = await Promise.all([serverUp, clientUp]);
    assert.deepEqual([s.role, c.role, s.servername, s.protocol], ['server', 'client', 'test.local', 'TLSv1.2']);
    const [a, b] = await serverInbox.take(2);
    assert.deepEqual([tagOf(a!.data), tagOf(b!.data)], ['t1', 't2']);
    assert.equal(a!.transport, 'tls');
    assert.equal(a!.flow?.tls?.servername, 'test.local');
    assert.equal(a!.flow?.tls?.peerSubject, null); // S-CON-2: no client certificate
    await server.send(a!.flow!.id, sipResponse('t1'));
    const r = await clientInbox.next();
    assert.equal(r.flow?.id, f1?.id);
    assert.deepEqual(r.data, sipResponse('t1'));
    assert.equal(server.stats().flows.inbound.tls, 1);
  });

  it('fails queued sends with the verifyPeer reason and destroys the socket', async () => {
    const serverSawClose = nextEvent(server, 'flowClosed');
    const failure = nextEvent(client, 'tlsFailure');
    const results = await Promise.allSettled([client.send(target('other.local'), sipRequest('v1')), client.send(target('other.local'), sipRequest('v2'))]);
    for (const r of results) {
      assert.equal(r.status, 'rejected');
      const err = (r as PromiseRejectedResult).reason as unknown;
      assert.ok(err instanceof TransportError);
      assert.deepEqual([err.code, err.reason], ['SIPS_ERR_TRANSPORT_TLS_HANDSHAKE', 'name-mismatch']);
    }
    const f = await failure;
    assert.deepEqual([f.role, f.reason, f.servername], ['client', 'name-mismatch', 'other.local']);
    assert.match(f.detail, /other\.local not in DNS:test\.local/);
    await serverSawClose; // the server's side of the verified-then-rejected connection goes away
    assert.equal(client.stats().flows.outbound.tls, 1); // only the good pooled flow remains
  });

  it('closes a TLS flow on a framing error', async () => {
    const socket = tls.connect({ host: '127.0.0.1', port: tlsPort, servername: 'test.local', rejectUnauthorized: false });
    await new Promise<void>((r) => socket.once('secureConnect', () => r()));
    const sink = new ByteSink(socket);
    const framing = nextEvent(server, 'framingError');
    socket.write('OPTIONS sip:edge SIP/2.0\r\nCall-ID: y\r\n\r\n');
    assert.equal((await framing).error.code, 'SIPS_ERR_PARSE_NO_CONTENT_LENGTH');
    await sink.waitClosed();
  });

  it('sends a 10 KB message as one write, so the peer decrypts it from one TLS record', async () => {
    const { socket, sink, m } = await clientWithRequest('big');
    const big = sipRequest('big-answer', 10_000);
    await server.send(m.flow!.id, big);
    const got = await sink.waitFor((b) => b.length >= big.length);
    assert.deepEqual(got, big);
    // A TLS socket hands up each record's plaintext as it is decrypted: one chunk = one record.
    assert.equal(sink.chunks.length, 1);
    socket.destroy();
  });

  it('sends the messages of one loop turn in one TLS record, and never more than 16,000 bytes in one', async () => {
    const { socket, sink, m } = await clientWithRequest('turn');
    // Two small answers in one turn: one record holding both, whole and in order.
    const small = [sipRequest('one'), sipRequest('two')];
    await Promise.all(small.map((x) => server.send(m.flow!.id, x)));
    const both = Buffer.concat(small);
    assert.deepEqual(await sink.waitFor((b) => b.length >= both.length), both);
    assert.equal(sink.chunks.length, 1);
    // Two of 10 KB in one turn: over one record's worth, so each goes in a record of its own.
    const big = [sipRequest('big-one', 10_000), sipRequest('big-two', 10_000)];
    await Promise.all(big.map((x) => server.send(m.flow!.id, x)));
    const all = Buffer.concat([both, ...big]);
    assert.deepEqual(await sink.waitFor((b) => b.length >= all.length), all);
    assert.deepEqual(sink.chunks.slice(1).map((c) => c.length), big.map((x) => x.length));
    // Fifty in one turn (60 KB): several records, each at most 16,000 bytes and ending where a message ends.
    const many = Array.from({ length: 50 }, (_, i) => sipRequest(`many-${i}`, 1_000));
    await Promise.all(many.map((x) => server.send(m.flow!.id, x)));
    const before = all.length;
    const expected = Buffer.concat([all, ...many]);
    assert.deepEqual(await sink.waitFor((b) => b.length >= expected.length), expected);
    const ends = new Set<number>();
    let at = before;
    for (const x of many) ends.add((at += x.length));
    at = before;
    for (const c of sink.chunks.slice(3)) {
      assert.ok(c.length <= 16_000, `a record of ${c.length} bytes`);
      assert.ok(ends.has((at += c.length)), 'a record ends inside a message');
    }
    socket.destroy();
  });

  it('drops a client that connects to the TLS port and never starts the handshake (S-TLS-6)', async () => {
    const failure = nextEvent(server, 'tlsFailure');
    const socket: net.Socket = await connectTcp(tlsPort);
    const localPort = socket.localPort;
    const sink = new ByteSink(socket);
    await sink.waitClosed(); // the server closed it: we never close it ourselves
    const f = await failure;
    assert.deepEqual([f.role, f.reason], ['server', 'handshake-timeout']);
    assert.equal(f.remote.port, localPort);
  });

  it('fails an outbound TLS connect to a server that never answers with handshake-timeout', async () => {
    const silent = await tcpPeer();
    const failure = nextEvent(client, 'tlsFailure');
    await assert.rejects(client.send({ transport: 'tls', address: '127.0.0.1', port: silent.port, servername: 'test.local' }, sipRequest('hs')), {
      code: 'SIPS_ERR_TRANSPORT_TLS_HANDSHAKE',
      reason: 'handshake-timeout',
    });
    assert.equal((await failure).reason, 'handshake-timeout');
    await silent.close();
  });

  it('fails a handshake at once when the client sends FIN before it completes (no slot held until the timer)', async () => {
    // A handshake timer far longer than the test: were the FIN not seen, the only failure would be
    // handshake-timeout, 10 s later.
    const slow = new Transport({ tls: [{ host: '127.0.0.1', port: 0 }], handshakeTimeoutMs: 10_000, tlsServerOptions: { key: cert.key, cert: cert.cert, minVersion: 'TLSv1.2', maxVersion: 'TLSv1.2' } });
    const port = (await slow.start()).tls[0]!.port;
    try {
      // The first 11 bytes of a TLS 1.2 ClientHello record (record header and handshake header), then FIN;
      // then a connection that sends nothing before its FIN.
      for (const bytes of [Buffer.from('16030100c8010000c40303', 'hex'), Buffer.alloc(0)]) {
        const failure = nextEvent(slow, 'tlsFailure');
        const socket = await connectTcp(port);
        const sink = new ByteSink(socket);
        socket.end(bytes);
        await sink.waitClosed();
        const f = await failure;
        assert.deepEqual([f.role, f.reason], ['server', 'handshake-aborted'], f.detail);
        assert.equal(sink.bytes.length, 0, 'nothing was sent back');
        assert.equal(slow.stats().handshaking, 0, 'no handshake left pending');
      }
    } finally {
      await slow.stop();
    }
  });

  it('fails an outbound TLS connect with handshake-aborted when the server closes or resets it mid-handshake', async () => {
    // The server reads the ClientHello, then ends the connection: with FIN, then with RST.
    for (const end of ['fin', 'rst'] as const) {
      const peer = await tcpPeer((s) => s.once('data', () => (end === 'fin' ? s.end() : s.resetAndDestroy())));
      try {
        const failure = nextEvent(client, 'tlsFailure');
        await assert.rejects(client.send({ transport: 'tls', address: '127.0.0.1', port: peer.port, servername: 'test.local' }, sipRequest(`hs-${end}`)), {
          code: 'SIPS_ERR_TRANSPORT_TLS_HANDSHAKE',
          reason: 'handshake-aborted',
        });
        const f = await failure;
        assert.deepEqual([f.role, f.reason], ['client', 'handshake-aborted'], `${end}: ${f.detail}`);
      } finally {
        await peer.close();
      }
    }
  });

  it('reports a handshake error through classifyTlsError', async () => {
    const strict = new Transport({ connectOptions: () => ({ rejectUnauthorized: true }), classifyTlsError: (e) => `classified:${(e as { code?: string }).code ?? '?'}` });
    await strict.start();
    await assert.rejects(strict.send(target(), sipRequest('untrusted')), (err: unknown) => {
      assert.ok(err instanceof TransportError);
      assert.equal(err.code, 'SIPS_ERR_TRANSPORT_TLS_HANDSHAKE');
      assert.equal(err.reason, 'classified:DEPTH_ZERO_SELF_SIGNED_CERT');
      return true;
    });
    await strict.stop();
  });
});
