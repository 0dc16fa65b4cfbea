import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { EdgeProcess } from '../helpers/edge-process.js';
import { freeUdpPort } from '../helpers/sipp.js';
import { PBX2, STRANGER, UdpSender, callsDuring, internalErrors, metricSum, options, overloadConfig, scrape } from '../helpers/overload.js';

/**
 * Issue 11 item 9: parser fuzz on the wire. Random and mutated SIP (a fixed seed: every run sends
 * the same bytes) over UDP and TCP, from a stranger and from a configured peer, bounded in count,
 * while real SIPp calls complete. The edge must stay up, log no internal error, never answer 500,
 * and still answer a plain OPTIONS afterwards.
 */
const edges: EdgeProcess[] = [];
const sockets: UdpSender[] = [];
after(async () => {
  for (const s of sockets) await s.close();
  for (const e of edges) await e.stop();
});

/** mulberry32: a small seeded PRNG. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const SDP = 'v=0\r\no=- 1 1 IN IP4 127.0.0.2\r\ns=-\r\nc=IN IP4 127.0.0.2\r\nt=0 0\r\nm=audio 4000 RTP/SAVP 0\r\na=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz\r\n';

function base(kind: number, host: string, port: number, n: number): string {
  const via = `Via: SIP/2.0/UDP ${host}:${port};branch=z9hG4bKfz${n};rport`;
  const common = [`From: <sip:fuzz@${host}>;tag=fz${n}`, `Call-ID: fuzz-${n}@${host}`, 'Max-Forwards: 70'];
  switch (kind % 5) {
    case 0: return [`INVITE sip:999${n}@127.0.0.1 SIP/2.0`, via, ...common, `To: <sip:999${n}@127.0.0.1>`, 'CSeq: 1 INVITE', `Contact: <sip:fuzz@${host}:${port}>`, 'Content-Type: application/sdp', `Content-Length: ${SDP.length}`, '', SDP].join('\r\n');
    case 1: return ['OPTIONS sip:127.0.0.1 SIP/2.0', via, ...common, 'To: <sip:127.0.0.1>', 'CSeq: 7 OPTIONS', 'Content-Length: 0', '', ''].join('\r\n');
    case 2: return [`BYE sip:fuzz@127.0.0.1 SIP/2.0`, via, ...common, `To: <sip:x@127.0.0.1>;tag=t${n}`, 'Route: <sip:127.0.0.1;lr>', 'CSeq: 2 BYE', 'Content-Length: 0', '', ''].join('\r\n');
    case 3: return ['SIP/2.0 200 OK', via, ...common, `To: <sip:x@127.0.0.1>;tag=t${n}`, 'CSeq: 1 INVITE', 'Content-Length: 0', '', ''].join('\r\n');
    default: return [`CANCEL sip:999${n}@127.0.0.1 SIP/2.0`, via, ...common, `To: <sip:999${n}@127.0.0.1>`, 'CSeq: 1 CANCEL', 'Content-Length: 0', '', ''].join('\r\n');
  }
}

/** One fuzz case: a valid message put through one or more mutations, or plain noise. */
function mutate(rand: () => number, msg: string): Buffer {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
  let s = msg;
  const rounds = 1 + Math.floor(rand() * 3);
  for (let r = 0; r < rounds; r++) {
    const lines = s.split('\r\n');
    const at = Math.floor(rand() * lines.length);
    switch (Math.floor(rand() * 16)) {
      case 0: { // byte flips
        const b = Buffer.from(s, 'latin1');
        for (let i = 0, k = 1 + Math.floor(rand() * 8); i < k && b.length > 0; i++) b[Math.floor(rand() * b.length)] = Math.floor(rand() * 256);
        s = b.toString('latin1');
        break;
      }
      case 1: s = s.slice(0, Math.floor(rand() * s.length)); break; // truncated
      case 2: lines.splice(at, 0, ...Array<string>(1 + Math.floor(rand() * 200)).fill(lines[Math.max(1, at)] ?? 'Via: x')); s = lines.join('\r\n'); break;
      case 3: lines.splice(at, 0, `X-Long: ${'a'.repeat(5000 + Math.floor(rand() * 10_000))}`); s = lines.join('\r\n'); break;
      case 4: s = s.replace(/Content-Length: \d+/i, `Content-Length: ${pick(['-1', '99999999999', 'abc', '1e3', '0x10', '', ' 5 5', '4294967296', String(Math.floor(rand() * 3000))])}`); break;
      case 5: lines.splice(at, 1); s = lines.join('\r\n'); break; // a header gone
      case 6: lines[0] = pick(['INVITE  sip:x SIP/2.0', 'INVITE sip:x SIP/3.0', 'INV\u0000ITE sip:x SIP/2.0', 'SIP/2.0 999 Odd', 'SIP/2.0 20 OK', ' sip:x SIP/2.0', 'INVITE <sip:x> SIP/2.0', 'INVITE sip:[::1 SIP/2.0', 'INVITE tel:+49;phone-context SIP/2.0', 'X'.repeat(9000)]); s = lines.join('\r\n'); break;
      case 7: s = s.replace(/Via: [^\r]*/, pick(['Via: SIP/2.0/UDP [::1;branch=z9hG4bK1', 'Via: SIP/2.0/UDP', 'Via: SIP/2.0/UDP 127.0.0.2:99999;rport=abc', 'Via: SIP/2.0/XYZ h;maddr=10.0.0.1;received=;branch=', 'Via: ,,,', `Via: ${'SIP/2.0/UDP a;branch=z9hG4bKv,'.repeat(40)}`])); break;
      case 8: s = s.replace(/CSeq: [^\r]*/, pick(['CSeq: 4294967296 INVITE', 'CSeq: INVITE', 'CSeq: 1 BYE', 'CSeq: -1 INVITE', 'CSeq: 1'])); break;
      case 9: s = s.replace(/(From|To): [^\r]*/, (m, h: string) => `${h}: ${pick(['<sip:', '"unterminated <sip:a@b>', '<sip:a@b>;tag=', '<<sip:a@b>>', 'sip:a@b;tag=1;tag=2', '\u0000'])}`); break;
      case 10: lines.splice(at, 0, ' folded continuation', '\tanother'); s = lines.join('\r\n'); break;
      case 11: s = s.replace(/\r\n/g, pick(['\n', '\r', '\r\n\r\n'])); break;
      case 12: s = s + s; break; // two messages in one datagram / segment
      case 13: lines.sort(() => rand() - 0.5); s = lines.join('\r\n'); break;
      case 14: s = s.replace(/Call-ID: [^\r]*/, pick(['Call-ID:', 'Call-ID: a b c', 'Call-ID: \u00ff\u00fe', 'i: short@x', 'Call-ID: x\r\nCall-ID: y'])); break;
      default: { // noise
        const b = Buffer.alloc(Math.floor(rand() * 1400));
        for (let i = 0; i < b.length; i++) b[i] = Math.floor(rand() * 256);
        return rand() < 0.5 ? b : Buffer.concat([Buffer.from('INVITE sip:x SIP/2.0\r\n'), b]);
      }
    }
  }
  return Buffer.from(s, 'latin1');
}

/** Writes `chunks` on one TCP connection from `localAddress`; collects what comes back; ends. */
function tcpCase(port: number, localAddress: string, chunks: readonly Buffer[]): Promise<string> {
  return new Promise((resolve) => {
    let got = '';
    const sock: Socket = connect({ host: '127.0.0.1', port, localAddress });
    const finish = (): void => { clearTimeout(timer); sock.destroy(); resolve(got); };
    const timer = setTimeout(finish, 2000);
    sock.on('data', (d) => { got += d.toString('latin1'); });
    sock.on('error', finish);
    sock.on('close', finish);
    sock.on('connect', () => {
      for (const c of chunks) sock.write(c);
      // Half-close: the edge sees the end of the stream and answers what it could frame.
      setTimeout(() => sock.end(), 100);
    });
  });
}

test('parser fuzz over UDP and TCP from a stranger and a peer: calls complete, no crash, no 500, no internal error', async () => {
  const far = await freeUdpPort();
  const sink = await UdpSender.bind('127.0.0.1');
  sockets.push(sink);
  const edge = await EdgeProcess.start(overloadConfig({ farPort: far, sinkPort: sink.port }));
  edges.push(edge);
  const udpSenders = [await UdpSender.bind(STRANGER), await UdpSender.bind(PBX2)];
  sockets.push(...udpSenders);
  const udpPort = edge.port('inside', 'udp');
  const tcpPort = edge.port('inside', 'tcp');
  const rand = prng(0x5eed11);
  const tcpAnswers: string[] = [];
  let n = 0;
  const r = await callsDuring(edge, far, async (started, until) => {
    let stop = false;
    void until.then(() => { stop = true; }, () => { stop = true; });
    let sent = 0;
    // Bounded: at most 4,000 datagrams and 80 connections (5 messages each), in rounds.
    for (let round = 0; round < 80 && !stop; round++) {
      const udp: Promise<void>[] = [];
      for (let i = 0; i < 50; i++, sent++) {
        const s = udpSenders[sent % 2]!;
        udp.push(s.send(mutate(rand, base(++n, s.address, s.port, n)), udpPort));
      }
      await Promise.all(udp);
      const from = round % 2 === 0 ? STRANGER : PBX2;
      const chunks = Array.from({ length: 5 }, () => mutate(rand, base(++n, from, 5060, n)));
      const tcp = tcpCase(tcpPort, from, chunks).then((a) => { tcpAnswers.push(a); });
      if (round === 2) started();
      if (round % 4 === 3) await tcp;
      await new Promise((res) => setTimeout(res, 10));
    }
    return { sent };
  });
  assert.ok(r.sent >= 150, `fuzz datagrams sent: ${r.sent}`);
  assert.equal(edge.proc.exitCode, null, 'the edge is still running');

  const answers = [...udpSenders.flatMap((s) => s.received), ...tcpAnswers.flatMap((a) => a.split(/(?=SIP\/2\.0 \d{3} )/))];
  const statuses = answers.map((a) => /^SIP\/2\.0 (\d{3}) /.exec(a)?.[1]).filter((x): x is string => x !== undefined).map(Number);
  if (process.env['FUZZ_DEBUG']) console.log(JSON.stringify({ sent: r.sent, tcp: tcpAnswers.length, statuses: statuses.reduce<Record<number, number>>((a, s) => ({ ...a, [s]: (a[s] ?? 0) + 1 }), {}) }));
  assert.ok(statuses.length > 0, 'some fuzz cases were answered (400s, 200 to OPTIONS, ...)');
  assert.deepEqual(statuses.filter((s) => s >= 500 && s !== 503 && s !== 505 && s !== 513), [], 'no 500 from the edge\'s own code');
  assert.deepEqual(internalErrors(edge), []);

  // Still serving: a plain OPTIONS from the peer is answered 200.
  const probe = await UdpSender.bind(PBX2);
  sockets.push(probe);
  await probe.send(options(probe, udpPort), udpPort);
  for (let i = 0; i < 250 && probe.statuses().length === 0; i++) await new Promise((res) => setTimeout(res, 20));
  assert.deepEqual(probe.statuses(), [200]);
  const metrics = await scrape(edge);
  assert.ok(metricSum(metrics, 'sips_edge_transactions_active') >= 0);
});
