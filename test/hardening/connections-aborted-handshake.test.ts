/**
 * A TLS handshake the client gives up on (FIN before it completes) is failed at once, so it holds
 * neither a handshake slot nor the source's connection cap until the handshake timer (S-TLS-6).
 * Before, the half-open listener saw no event for it: a scanner that sent a ClientHello fragment and
 * closed kept the vendor's address at its cap for handshakeTimeoutMs.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, it } from 'node:test';
import { closed, metric, optionsText, request, scrape, startConnEdge, tlsClient, type ConnEdge } from '../helpers/connections.js';

let e: ConnEdge | null = null;
const sockets: net.Socket[] = [];
after(async () => {
  for (const s of sockets) s.destroy();
  await e?.stop();
});

/** Connects, writes `bytes` and FIN; resolves with what the edge sent before it closed. */
function abortedHandshake(port: number, bytes: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: '127.0.0.1', port }, () => { s.end(bytes); resolve(closed(s)); });
    sockets.push(s);
    s.once('error', reject);
  });
}

it('aborted handshakes from the vendor\'s address free its cap at once; its next TLS connection is served', { timeout: 30_000 }, async () => {
  // A cap of 3 per address and a handshake timer longer than the test: were the aborted handshakes
  // held until the timer, the 4th would be refused at accept and the edge would close none of them.
  e = await startConnEdge('maxConnectionsPerAddress: 3', '', 'handshakeTimeoutMs: 10000');
  const hello = Buffer.from('16030100c8010000c40303', 'hex'); // a ClientHello's record and handshake headers
  for (let i = 0; i < 12; i++) {
    assert.equal((await abortedHandshake(e.tlsPort, i % 2 === 0 ? hello : Buffer.alloc(0))).length, 0, 'nothing sent back');
  }
  const vendor = await tlsClient(e.tlsPort, '127.0.0.1');
  sockets.push(vendor);
  assert.match(await request(vendor, optionsText({ transport: 'TLS', local: '127.0.0.1', port: e.tlsPort })), /^SIP\/2\.0 200 /);
  const text = await scrape(e.adminPort);
  const failed = (reason: string): number => metric(text, `sips_edge_tls_handshakes_total{role="server",result="failed",reason="${reason}",cipher="none",resumed="false"}`);
  assert.equal(failed('handshake-aborted'), 12);
  assert.equal(failed('handshake-timeout'), 0);
  assert.equal(metric(text, 'sips_edge_tls_handshakes_total{role="server",result="ok",reason="none",cipher="ECDHE-RSA-AES256-GCM-SHA384",resumed="false"}'), 1);
});
