/**
 * ng round trips against a real local rtpengine (userspace, test/helpers/rtpengine.ts): for N
 * calls, offer + answer through createRtpengineAnchor (SDP rewritten toward an srtp outside leg and
 * back), one call at a time and with 50 calls in flight, then delete. Prints JSON; prints a skip
 * message (JSON, exit 0) when /usr/bin/rtpengine is absent. Not in the default bench run.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createRtpengineAnchor } from '../src/media/rtpengine-anchor.js';
import { Rtpengine, rtpengineInstalled } from '../test/helpers/rtpengine.js';
import { conditions } from './lib.js';

const N = Number(process.env.CALLS ?? 500);
const IN_FLIGHT = 50;
const fixture = (n: string): string => readFileSync(join(process.cwd(), 'test/fixtures/media', n), 'utf8');
const OFFER = fixture('offer-inside-rtp.sdp');
const ANSWER = fixture('answer-outside-srtp.sdp');

function stats(ms: number[]): { p50: number; p99: number; max: number } {
  const s = [...ms].sort((a, b) => a - b);
  const at = (q: number): number => +(s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? 0).toFixed(3);
  return { p50: at(0.5), p99: at(0.99), max: +(s.at(-1) ?? 0).toFixed(3) };
}

if (!rtpengineInstalled()) {
  console.log(JSON.stringify({ bench: 'rtpengine-ng', skipped: 'rtpengine not installed (/usr/bin/rtpengine): bash scripts/install-peers.sh', ...conditions() }));
  process.exit(0);
}

const rtp = await Rtpengine.start();
const anchor = createRtpengineAnchor({ instances: [{ name: 'bench', address: '127.0.0.1', port: rtp.ngPort }], timeoutMs: 5000, retries: 4 });
try {
  await anchor.ready();
  const call = async (id: string, offerAnswer: number[]): Promise<void> => {
    const t0 = performance.now();
    await anchor.offer({ callId: id, fromTag: 'f', sdp: OFFER, from: 'inside', to: 'outside', toMedia: 'srtp' });
    await anchor.answer({ callId: id, fromTag: 'f', toTag: 't', sdp: ANSWER, from: 'outside', to: 'inside', toMedia: 'rtp' });
    offerAnswer.push(performance.now() - t0);
  };
  const del = async (id: string, out: number[]): Promise<void> => {
    const t0 = performance.now();
    await anchor.delete(id);
    out.push(performance.now() - t0);
  };
  const ids = (tag: string) => Array.from({ length: N }, (_, i) => `bench-${tag}-${process.pid}-${i}@pbx.example`);

  // Warm-up (the daemon's first calls allocate its port pools).
  for (const id of ids('warm').slice(0, 20)) { await call(id, []); await anchor.delete(id); }

  const seqOA: number[] = [];
  const seqDel: number[] = [];
  const seqIds = ids('seq');
  let t = performance.now();
  for (const id of seqIds) await call(id, seqOA);
  const seqWall = performance.now() - t;
  for (const id of seqIds) await del(id, seqDel);

  const parOA: number[] = [];
  const parDel: number[] = [];
  const parIds = ids('par');
  const pool = async (list: string[], fn: (id: string) => Promise<void>): Promise<void> => {
    let next = 0;
    await Promise.all(Array.from({ length: IN_FLIGHT }, async () => { while (next < list.length) await fn(list[next++]!); }));
  };
  t = performance.now();
  await pool(parIds, (id) => call(id, parOA));
  const parWall = performance.now() - t;
  await pool(parIds, (id) => del(id, parDel));

  console.log(JSON.stringify({
    bench: 'rtpengine-ng',
    ...conditions(),
    rtpengine: '10.5 userspace, --num-threads=2, loopback',
    calls: N,
    sequential: { offerAnswerMs: stats(seqOA), deleteMs: stats(seqDel), callsPerSecond: Math.round((N * 1000) / seqWall) },
    inFlight50: { offerAnswerMs: stats(parOA), deleteMs: stats(parDel), callsPerSecond: Math.round((N * 1000) / parWall) },
  }, null, 2));
} finally {
  await anchor.close();
  await rtp.stop();
}
