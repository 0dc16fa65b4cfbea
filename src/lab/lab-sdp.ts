/**
 * SDP for the lab's simulated endpoints: offers with or without SDES-SRTP (RFC 4568), and answers
 * that accept one offered crypto line with a fresh key of that suite's length. No media flows in the
 * lab; the ports are placeholders (RFC 3264 needs one, nothing listens on it).
 */
import { randomBytes, randomInt } from 'node:crypto';
import { CRYPTO_SUITES, isCryptoSuite } from '../sdp/crypto-attribute.js';

const CRLF = '\r\n';

/** An inline key for a suite: master key + salt, base64 (RFC 4568 §6.1). */
export function inlineKey(suite: keyof typeof CRYPTO_SUITES): string {
  return randomBytes(CRYPTO_SUITES[suite]).toString('base64');
}

function session(user: string, address: string): string[] {
  const id = randomInt(1, 2 ** 31);
  return ['v=0', `o=${user} ${id} ${id} IN IP4 ${address}`, 's=sips-edge lab', `c=IN IP4 ${address}`, 't=0 0'];
}

/** One audio line, PCMU/PCMA/telephone-event; SRTP with two crypto lines (AES_CM_128 first) or plain RTP/AVP. */
export function makeOffer(opts: { readonly user: string; readonly address: string; readonly srtp: boolean }): string {
  const port = 20_000 + 2 * randomInt(0, 5000);
  const lines = session(opts.user, opts.address);
  lines.push(`m=audio ${port} ${opts.srtp ? 'RTP/SAVP' : 'RTP/AVP'} 0 8 101`);
  if (opts.srtp) {
    lines.push(`a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:${inlineKey('AES_CM_128_HMAC_SHA1_80')}`);
    lines.push(`a=crypto:2 AES_256_CM_HMAC_SHA1_80 inline:${inlineKey('AES_256_CM_HMAC_SHA1_80')}`);
  }
  lines.push('a=rtpmap:0 PCMU/8000', 'a=rtpmap:8 PCMA/8000', 'a=rtpmap:101 telephone-event/8000', 'a=fmtp:101 0-16', 'a=ptime:20', 'a=sendrecv');
  return lines.join(CRLF) + CRLF;
}

export interface Answer {
  readonly sdp: string;
  /** `<tag> <suite>` of the accepted crypto line per SRTP m= line, or 'RTP' for plain lines. */
  readonly chosen: readonly string[];
}

/**
 * Answers every m= line of `offer` (RFC 3264 §6: same count, same order): same proto and first
 * payload type; for RTP/SAVP lines the first offered crypto line whose suite we know, with a fresh
 * key (RFC 4568 §7.1.2: exactly one a=crypto, the offered tag). Lines with port 0 stay rejected.
 * Assumes the offer passed checkOffer.
 */
export function makeAnswer(offer: string, opts: { readonly user: string; readonly address: string }): Answer {
  const lines = session(opts.user, opts.address);
  const chosen: string[] = [];
  const blocks = offer.split(/\r?\n(?=m=)/).slice(1);
  for (const block of blocks) {
    const rows = block.split(/\r?\n/).filter((r) => r !== '');
    const m = /^m=(\S+) (\d+) (\S+) (.*)$/.exec(rows[0] ?? '');
    if (m === null) continue;
    const [, media, portText, proto, fmts] = m as unknown as [string, string, string, string, string];
    const firstFmt = fmts.split(' ')[0] ?? '0';
    if (portText === '0') {
      lines.push(`m=${media} 0 ${proto} ${firstFmt}`);
      continue;
    }
    lines.push(`m=${media} ${20_000 + 2 * randomInt(0, 5000)} ${proto} ${firstFmt}`);
    if (/SAVP/i.test(proto)) {
      for (const r of rows) {
        const c = /^a=crypto:(\d+) (\S+) /.exec(r);
        if (c === null) continue;
        const [, tag, suite] = c as unknown as [string, string, string];
        if (!isCryptoSuite(suite)) continue;
        lines.push(`a=crypto:${tag} ${suite} inline:${inlineKey(suite)}`);
        chosen.push(`${tag} ${suite}`);
        break;
      }
    } else {
      chosen.push('RTP');
    }
    const rtpmap = rows.find((r) => r.startsWith(`a=rtpmap:${firstFmt} `));
    if (rtpmap !== undefined) lines.push(rtpmap);
    lines.push('a=sendrecv');
  }
  return { sdp: lines.join(CRLF) + CRLF, chosen };
}
