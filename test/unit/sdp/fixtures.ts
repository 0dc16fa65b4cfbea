/** SDP fixtures (test/fixtures/sdp, CRLF, byte-exact) and small builders for table-driven cases. */
import { readFileSync } from 'node:fs';

// .test-build/test/unit/sdp/ -> repository root
const FIXTURES = new URL('../../../../test/fixtures/sdp/', import.meta.url);

export function fixture(name: string): string {
  return readFileSync(new URL(name, FIXTURES), 'latin1');
}

export function fixtureBytes(name: string): Buffer {
  return readFileSync(new URL(name, FIXTURES));
}

/** base64 of n bytes (distinct per `fill` so keys in one SDP differ). */
export function key(n: number, fill = 1): string {
  return Buffer.alloc(n, fill).toString('base64');
}

/** A session with the given media-level (and optionally session-level) lines, CRLF-terminated. */
export function sdp(...lines: string[]): string {
  return ['v=0', 'o=- 20518 0 IN IP4 192.0.2.10', 's=-', 'c=IN IP4 192.0.2.10', 't=0 0', ...lines].join('\r\n') + '\r\n';
}

export function crypto(tag: number | string, suite = 'AES_CM_128_HMAC_SHA1_80', params = `inline:${key(30)}`): string {
  return `a=crypto:${tag} ${suite} ${params}`;
}

export const AUDIO = 'm=audio 49170 RTP/SAVP 0 101';
export const VIDEO = 'm=video 51372 RTP/SAVP 99';

/** Every inline key in `text` (to check that messages never echo one). */
export function inlineKeys(text: string): string[] {
  return [...text.matchAll(/inline\s*:\s*([^|;\s]+)/gi)].map((m) => m[1] ?? '').filter((k) => k.length >= 4);
}
