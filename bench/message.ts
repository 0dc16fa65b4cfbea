/**
 * SIP message layer throughput (issue 2). Prints JSON; not a test.
 *   parseSerialize  parse + serialize unchanged, ~1 KB INVITE with SDP
 *   proxyEdit       parse + R-URI rewrite + Via + Record-Route + Max-Forwards-1 + serialize
 *   framing         StreamFramer over a 1 MB stream of mixed messages, chunked at 1,400 bytes
 * Targets: >= 150,000/s and >= 80,000/s on one core.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseMessage } from '../src/message/parse-message.js';
import { StreamFramer } from '../src/message/stream-framer.js';
import { parseSipUriOrThrow } from '../src/message/uri.js';
import { conditions, opsPerSecond } from './lib.js';

const fixtures = join(process.cwd(), 'test/fixtures/sip/valid');
const invite = readFileSync(join(fixtures, 'invite-pbx-srtp.sip'));
const ms = Number(process.env.BENCH_MS ?? 2000);

let sink = 0;
const parseSerialize = opsPerSecond(() => {
  const r = parseMessage(invite);
  if (!r.ok) throw r.error;
  sink += r.value.serialize().length;
}, ms);

const target = parseSipUriOrThrow('sip:lb01.voice.euc1.pure.cloud:5061;transport=tls');
let n = 0;
const proxyEdit = opsPerSecond(() => {
  const r = parseMessage(invite);
  if (!r.ok) throw r.error;
  const m = r.value;
  const ruri = m.requestUri();
  if (ruri.scheme !== 'sip') throw new Error('fixture');
  m.setRequestUri(target.with({ user: `${(ruri as typeof target).userNumber ?? ''};tgrp=frankfurt-pbx;trunk-context=byoc.euc1.pure.cloud` }));
  m.prepend('via', `SIP/2.0/TLS edge.example.com:5061;branch=z9hG4bK-se-${(n++).toString(36)}`);
  m.prepend('record-route', '<sip:edge.example.com:5061;transport=tls;lr;r2=on>', m.indexAfter('via'));
  m.prepend('record-route', '<sip:10.20.0.1;lr;r2=on>');
  m.set('max-forwards', String((m.maxForwards() ?? 70) - 1));
  sink += m.serialize().length;
}, ms);

// 1 MB of mixed messages with keep-alives in between.
const names = ['invite-pbx-srtp.sip', '100-trying.sip', '180-ringing.sip', '200-ok-invite.sip', 'ack.sip', 'bye.sip', 'options-vendor-ping.sip'];
const parts: Buffer[] = [];
let size = 0;
let count = 0;
while (size < 1_000_000) {
  const b = readFileSync(join(fixtures, names[count % names.length]!));
  parts.push(b);
  if (count % 10 === 9) parts.push(Buffer.from('\r\n\r\n'));
  size += b.length;
  count++;
}
const stream = Buffer.concat(parts);
const chunks: Buffer[] = [];
for (let i = 0; i < stream.length; i += 1400) chunks.push(stream.subarray(i, i + 1400));
let framed = 0;
const t0 = performance.now();
let rounds = 0;
while (performance.now() - t0 < ms) {
  const f = new StreamFramer({ onMessage: () => { framed++; }, onKeepAlive: () => undefined, onError: (e) => { throw e; } });
  for (const c of chunks) f.push(c);
  rounds++;
}
const secs = (performance.now() - t0) / 1000;

console.log(JSON.stringify({
  bench: 'message',
  ...conditions(),
  inviteBytes: invite.length,
  parseSerializePerSec: parseSerialize,
  proxyEditPerSec: proxyEdit,
  framing: { streamBytes: stream.length, messagesPerSec: Math.round(framed / secs), mbPerSec: +((rounds * stream.length) / secs / 1e6).toFixed(1) },
  targets: { parseSerializePerSec: 150_000, proxyEditPerSec: 80_000 },
  sink: sink > 0,
}, null, 2));
