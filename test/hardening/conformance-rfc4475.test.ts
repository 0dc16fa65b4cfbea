import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { EdgeProcess } from '../helpers/edge-process.js';
import { RFC4475, tortureBytes, type TortureCase } from '../helpers/rfc4475.js';
import { aimTopVia, keyOf, selfPing, startEdge, statusOf, TcpClient, UdpClient, Upstream } from './conformance-wire.js';

/**
 * Issue 11: every RFC 4475 message on the wire, over UDP and TCP, against the running edge (as a
 * proxy between a PBX and an lb host stand-in): what the RFC expects of a proxy (test/helpers/rfc4475.ts).
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

function warningOf(b: Buffer): string {
  return /\r\nWarning:[^\r\n]*/i.exec(b.toString('latin1'))?.[0] ?? '';
}

function checkAnswer(c: TortureCase, transport: string, answer: Buffer | null, expected: { kind: string; status?: number }): void {
  const where = `${c.name} (RFC 4475 §${c.section}) over ${transport}`;
  assert.ok(answer !== null, `${where}: no final answer`);
  const status = statusOf(answer);
  if (expected.kind === 'refused') {
    assert.equal(status, expected.status, `${where}: ${answer.toString('latin1').split('\r\n')[0]} ${warningOf(answer)}`);
    assert.match(warningOf(answer), /SIPS_ERR_[A-Z_]+: /, `${where}: the refusal names its reason`);
    // A well-formed answer even to a malformed request: unfolded, one of each singleton (multi01 has two).
    const head = answer.toString('latin1').split('\r\n\r\n')[0]!;
    assert.ok(!/\r\n[ \t]/.test(head), `${where}: continuation line in the answer`);
    for (const [long, compact] of [['from', 'f'], ['to', 't'], ['call-id', 'i'], ['cseq', '']] as const) {
      const n = head.split('\r\n').filter((l) => new RegExp(`^(${long}${compact ? '|' + compact : ''})[ \\t]*:`, 'i').test(l)).length;
      assert.ok(n <= 1, `${where}: ${n} ${long} lines in the answer`);
    }
  } else {
    assert.ok(status !== 400 && status !== 505, `${where} was refused: ${answer.toString('latin1').split('\r\n')[0]} ${warningOf(answer)}`);
    if (expected.status !== undefined) assert.equal(status, expected.status, where);
    assert.doesNotMatch(warningOf(answer), /SIPS_ERR_PARSE_/, where);
  }
}

describe('RFC 4475 over UDP', () => {
  for (const c of RFC4475) {
    test(`§${c.section} ${c.name}: ${c.udp.kind}${'status' in c.udp && c.udp.status ? ' ' + c.udp.status : ''}`, async () => {
      // A socket (so a sent-by) per message: several RFC messages share a branch, and from one
      // sent-by they would rightly be one transaction (RFC 3261 §17.2.3).
      const udp = await UdpClient.open(edge.port('inside', 'udp'));
      try {
        const data = aimTopVia(tortureBytes(c.name), udp.port);
        const key = keyOf(data);
        const forwardedBefore = upstream.got(key).length;
        udp.send(data);
        if (c.udp.kind === 'dropped') {
          const id = `udp-${c.name}`;
          udp.send(selfPing(id, udp, 'UDP', edge.port('inside', 'udp')));
          assert.equal(statusOf((await udp.final(`ping-${id}`))!), 200);
          assert.equal(udp.got.filter((b) => b.includes(key)).length, 0, `${c.name}: a dropped response got an answer`);
          assert.equal(upstream.got(key).length, forwardedBefore, `${c.name}: a dropped response was forwarded`);
          return;
        }
        const answer = await udp.final(key);
        checkAnswer(c, 'UDP', answer, c.udp);
        if (c.udp.kind === 'refused') assert.equal(upstream.got(key).length, forwardedBefore, `${c.name}: refused but forwarded`);
      } finally {
        udp.close();
      }
    });
  }
});

describe('RFC 4475 over TCP', () => {
  for (const c of RFC4475) {
    test(`§${c.section} ${c.name}: ${c.tcp.kind}${'status' in c.tcp && c.tcp.status ? ' ' + c.tcp.status : ''}`, async () => {
      const conn = await TcpClient.open(edge.port('inside', 'tcp'));
      try {
        let data = aimTopVia(tortureBytes(c.name), conn.localPort);
        if (c.streamSuffix !== undefined) data = Buffer.concat([data, Buffer.from(c.streamSuffix, 'latin1')]);
        const key = keyOf(data);
        const forwardedBefore = upstream.got(key).length;
        conn.send(data);
        switch (c.tcp.kind) {
          case 'closed':
            assert.ok(await conn.whenClosed(), `${c.name}: framing lost but the connection stayed open`);
            assert.equal(upstream.got(key).length, forwardedBefore);
            return;
          case 'dropped': {
            const id = `tcp-${c.name}`;
            conn.send(selfPing(id, { port: conn.localPort }, 'TCP', edge.port('inside', 'tcp')));
            assert.equal(statusOf((await conn.final(`ping-${id}`))!), 200);
            assert.equal(conn.messages().filter((b) => b.includes(key)).length, 0);
            assert.equal(upstream.got(key).length, forwardedBefore);
            return;
          }
          case 'waits': {
            // Nothing is answered while the body is incomplete (a ping on another connection is,
            // so the edge has read these bytes by then); sending the rest completes the message.
            const other = await TcpClient.open(edge.port('inside', 'tcp'));
            try {
              other.send(selfPing(`tcp-${c.name}`, { port: other.localPort }, 'TCP', edge.port('inside', 'tcp')));
              assert.equal(statusOf((await other.final(`ping-tcp-${c.name}`))!), 200);
            } finally {
              other.close();
            }
            assert.equal(conn.messages().length, 0, `${c.name}: answered before the body was complete`);
            assert.equal(conn.closed, false);
            const cl = Number(/Content-Length: (\d+)/i.exec(data.toString('latin1'))![1]);
            const have = data.length - data.indexOf('\r\n\r\n') - 4;
            conn.send(Buffer.alloc(cl - have, 'a'));
            assert.ok(await conn.final(key), `${c.name}: the completed message was not handled`);
            return;
          }
          default:
            checkAnswer(c, 'TCP', await conn.final(key), c.tcp);
            if (c.tcp.kind === 'refused') assert.equal(upstream.got(key).length, forwardedBefore, `${c.name}: refused but forwarded`);
        }
      } finally {
        conn.close();
      }
    });
  }
});
