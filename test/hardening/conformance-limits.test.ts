import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { EdgeProcess } from '../helpers/edge-process.js';
import { startEdge, statusOf, UdpClient, Upstream } from './conformance-wire.js';

/**
 * Issue 11 §2 and §10 on the wire: the Via limit is answered where it can be (a 483 before
 * forwarding, never the edge refusing the answers to its own forwarded request), and what the
 * edge forwards is written canonically (unfolded, `SIP/2.0`) both ways.
 */
let edge: EdgeProcess;
let upstream: Upstream;

before(async () => {
  upstream = await Upstream.start();
  edge = await startEdge(upstream);
});

after(async () => {
  upstream.close();
  await edge.stop();
});

function invite(id: string, port: number, vias: number): Buffer {
  const lower = Array.from({ length: vias - 1 }, (_, i) => `Via: SIP/2.0/UDP 10.1.${i >> 8}.${(i & 255) + 1}:5060;branch=z9hG4bK-hop${i}`);
  return Buffer.from([
    `INVITE sip:+4969123456789@edge.test.sips-edge.test SIP/2.0`,
    `Via: SIP/2.0/UDP 127.0.0.1:${port};branch=z9hG4bK-${id};rport`,
    ...lower,
    'Max-Forwards: 70',
    `From: <sip:201@127.0.0.1>;tag=f-${id}`,
    '<sip:+4969123456789@edge.test.sips-edge.test>'.replace(/^/, 'To: '),
    `Call-ID: ${id}@conformance`,
    'CSeq: 1 INVITE',
    'Content-Length: 0',
    '', '',
  ].join('\r\n'), 'latin1');
}

function viaCount(b: Buffer): number {
  return b.toString('latin1').split('\r\n\r\n')[0]!.split('\r\n').filter((l) => /^via:/i.test(l)).length;
}

async function send(id: string, vias: number): Promise<{ answer: Buffer | null; forwarded: Buffer[] }> {
  const c = await UdpClient.open(edge.port('inside', 'udp'));
  try {
    c.send(invite(id, c.port, vias));
    const answer = await c.final(`${id}@conformance`);
    return { answer, forwarded: upstream.got(`${id}@conformance`).filter((b) => b.toString('latin1').startsWith('INVITE ')) };
  } finally {
    c.close();
  }
}

test('an INVITE with 70 Vias (as many as Max-Forwards allows hops) is forwarded with 71 and its answer comes back', async () => {
  const { answer, forwarded } = await send('via70', 70);
  assert.equal(forwarded.length, 1);
  assert.equal(viaCount(forwarded[0]!), 71);
  assert.equal(statusOf(answer!), 486, 'the lb host\'s answer, not a 408 after refused responses');
  assert.equal(viaCount(answer!), 70);
});

test('99 Vias: forwarded with 100 (the default limit), and the response with 100 is accepted', async () => {
  const { answer, forwarded } = await send('via99', 99);
  assert.equal(viaCount(forwarded[0]!), 100);
  assert.equal(statusOf(answer!), 486);
});

test('100 Vias: refused with 483 before forwarding (the copy would carry 101); 101: 483 from the parser', async () => {
  const at = await send('via100', 100);
  assert.equal(statusOf(at.answer!), 483);
  assert.match(at.answer!.toString('latin1'), /Warning: 399 [^\r\n]*SIPS_ERR_PROXY_TOO_MANY_VIAS/);
  assert.equal(at.forwarded.length, 0);
  const over = await send('via101', 101);
  assert.equal(statusOf(over.answer!), 483);
  assert.match(over.answer!.toString('latin1'), /Warning: 399 [^\r\n]*SIPS_ERR_PARSE_TOO_MANY_VIAS/);
  assert.equal(over.forwarded.length, 0);
});

test('folded lines and lowercase sip/2.0 are forwarded canonically, requests and responses alike', async () => {
  upstream.rewrite = (b) => {
    // The lb host answers with a lowercase version and a folded Call-ID line.
    const t = b.toString('latin1').replace(/^SIP\/2\.0/, 'sip/2.0').replace(/\r\nCall-ID: /, '\r\nCall-ID:\r\n ');
    return Buffer.from(t, 'latin1');
  };
  const c = await UdpClient.open(edge.port('inside', 'udp'));
  try {
    // Folded as wsinv (RFC 4475 §3.1.1.1) is, its version written in lower case (wsinv itself
    // carries a To-tag: in-dialog without a Route, the edge answers it 404 and forwards nothing).
    const folded = invite('folded', c.port, 2).toString('latin1')
      .replace(' SIP/2.0\r\n', ' sip/2.0\r\n')
      .replace('\r\nMax-Forwards: 70', '\r\nNewFangledHeader:   newfangled value\r\n continued newfangled value\r\nMax-Forwards:\r\n  70')
      .replace('\r\nCSeq: 1 INVITE', '\r\ncseq: 0001\r\n  INVITE')
      .replace('\r\nContent-Length: 0', '\r\nContent-Length:\r\n 0');
    c.send(Buffer.from(folded, 'latin1'));
    const answer = await c.final('folded@conformance');
    const fwd = upstream.got('folded@conformance').find((b) => b.toString('latin1').startsWith('INVITE '));
    assert.ok(fwd !== undefined, `not forwarded: ${answer?.toString('latin1').slice(0, 400)}`);
    const head = fwd.toString('latin1').split('\r\n\r\n')[0]!;
    assert.match(head.split('\r\n')[0]!, / SIP\/2\.0$/);
    assert.ok(!/\r\n[ \t]/.test(head), `continuation line forwarded:\n${head}`);
    assert.match(head, /\r\nNewFangledHeader: newfangled value continued newfangled value\r\n/);
    assert.ok(answer !== null);
    const back = answer.toString('latin1').split('\r\n\r\n')[0]!;
    assert.ok(back.startsWith('SIP/2.0 486 '), back.split('\r\n')[0]);
    assert.ok(!/\r\n[ \t]/.test(back), `continuation line in the relayed response:\n${back}`);
  } finally {
    upstream.rewrite = (b) => b;
    c.close();
  }
});
