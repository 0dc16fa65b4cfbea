/**
 * SRTP policy on the call path: checks per second on one core for a typical two-line offer (audio +
 * video, two a=crypto lines each, Asterisk-style), the matching answer, log redaction of the offer,
 * and, for comparison, the sdp-transform-based diagnostic parse.
 *
 *   npx tsc -p tsconfig.test.json && node .test-build/bench/sdp-check.js
 *
 * Prints one JSON object per scenario: { name, opsPerSec, node, cpu, ... }. Not a test.
 */
import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import { redactSdpKeys } from '../src/sdp/redact-sdp-keys.js';
import { checkAnswer, checkOffer, describeSdp } from '../src/sdp/srtp-policy.js';

const fixtures = new URL('../../test/fixtures/sdp/', import.meta.url);
const offer = readFileSync(new URL('offer-asterisk-audio-video.sdp', fixtures), 'latin1');
const answer = readFileSync(new URL('answer-asterisk-audio-video.sdp', fixtures), 'latin1');

interface Result {
  readonly name: string;
  readonly opsPerSec: number;
  readonly node: string;
  readonly cpu: string;
  readonly bytes: number;
  readonly durationMs: number;
}

function measure(name: string, bytes: number, ms: number, fn: () => unknown): Result {
  let sink = 0;
  const warmUntil = performance.now() + Math.min(200, ms / 4);
  while (performance.now() < warmUntil) for (let i = 0; i < 1000; i++) if (fn()) sink++;
  let ops = 0;
  const start = performance.now();
  let now = start;
  while (now - start < ms) {
    for (let i = 0; i < 1000; i++) if (fn()) sink++;
    ops += 1000;
    now = performance.now();
  }
  if (sink < 0) console.log(sink); // keep the results alive
  return {
    name,
    opsPerSec: Math.round((ops * 1000) / (now - start)),
    node: process.version,
    cpu: cpus()[0]?.model ?? 'unknown',
    bytes,
    durationMs: Math.round(now - start),
  };
}

export function run(): Result[] {
  const results = [
    measure('sdp.checkOffer audio+video 2x2 crypto', offer.length, 1000, () => checkOffer(offer).ok),
    measure('sdp.checkAnswer audio+video', offer.length + answer.length, 400, () => checkAnswer(offer, answer).ok),
    measure('sdp.redactSdpKeys offer', offer.length, 300, () => redactSdpKeys(offer).length > 0),
    measure('sdp.describeSdp (sdp-transform) offer', offer.length, 300, () => describeSdp(offer).ok),
  ];
  for (const r of results) console.log(JSON.stringify(r));
  return results;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) run();
