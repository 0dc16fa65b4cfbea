/**
 * Issue 11 #14: a request followed by FIN (half-close) is answered on the half-closed connection,
 * then the edge ends its side. TCP from the PBX and TLS from the vendor, against the edge process.
 */
import assert from 'node:assert/strict';
import type net from 'node:net';
import { after, describe, it } from 'node:test';
import { closed, inviteText, optionsText, startConnEdge, tcpClient, tlsClient, type ConnEdge } from '../helpers/connections.js';

const sockets: net.Socket[] = [];
let e: ConnEdge | null = null;
after(async () => {
  for (const s of sockets) s.destroy();
  await e?.stop();
});

/** Writes `text` and FIN; resolves with everything received until the edge's own FIN. */
function requestThenFin(s: net.Socket, text: string): Promise<{ bytes: string; ended: boolean }> {
  let ended = false;
  s.once('end', () => { ended = true; });
  const all = closed(s);
  s.end(text);
  return all.then((b) => ({ bytes: b.toString('latin1'), ended }));
}

describe('half-close', () => {
  it('TCP: OPTIONS then FIN gets its 200, then the edge closes its side', { timeout: 20_000 }, async () => {
    // The 100 Trying at once (timers.trying 0): the INVITE below is then answered twice on its
    // half-closed flow, the 100 and later the final.
    e = await startConnEdge('halfClosedLingerSeconds: 32', 'timers: { trying: 0 }');
    const s = await tcpClient(e.tcpPort);
    sockets.push(s);
    const r = await requestThenFin(s, optionsText({ transport: 'TCP', local: '127.0.0.1', port: e.tcpPort }));
    assert.match(r.bytes, /^SIP\/2\.0 200 /);
    // Answered before or after the FIN was seen (peer-closed / half-closed): either way the 200 came first.
    assert.equal(r.ended, true, 'the edge sent FIN after the answer');
  });

  it('TLS: two pipelined OPTIONS then close_notify + FIN get both answers', { timeout: 20_000 }, async () => {
    const s = await tlsClient(e!.tlsPort);
    sockets.push(s);
    const two = optionsText({ transport: 'TLS', local: '127.0.0.1', port: e!.tlsPort }) + optionsText({ transport: 'TLS', local: '127.0.0.1', port: e!.tlsPort });
    const r = await requestThenFin(s, two);
    assert.equal((r.bytes.match(/^SIP\/2\.0 200 /gm) ?? []).length, 2, r.bytes);
    assert.equal(r.ended, true);
  });

  it('TLS: an INVITE then FIN gets 100 Trying and, later, its final response (the PBX is down), then FIN', { timeout: 20_000 }, async () => {
    const s = await tlsClient(e!.tlsPort);
    sockets.push(s);
    const r = await requestThenFin(s, inviteText(e!.tlsPort));
    const statuses = [...r.bytes.matchAll(/^SIP\/2\.0 (\d{3}) /gm)].map((m) => Number(m[1]));
    assert.equal(statuses[0], 100, r.bytes);
    assert.ok(statuses.some((st) => st >= 300), `a final response on the half-closed flow: ${statuses.join(',')}`);
    assert.equal(r.ended, true);
  });

  it('FIN without a request: the edge closes at once (nothing is owed)', { timeout: 20_000 }, async () => {
    const s = await tcpClient(e!.tcpPort);
    sockets.push(s);
    const r = await requestThenFin(s, '');
    assert.equal(r.bytes, '');
    assert.equal(r.ended, true);
  });
});
