/**
 * A one-pass scan of an SDP body (RFC 4566 §5) that keeps only what the SRTP policy reads: each m=
 * line, its a=crypto values and its a=fingerprint values (plus session-level fingerprints). Every
 * other line is only checked to have the `<type>=` shape. This is the hot path; `describeSdp` in
 * srtp-policy.ts is the full (slow) parse for diagnostics.
 *
 * Lines end in CRLF; a bare LF is accepted too (RFC 4566 §5: "parsers SHOULD be tolerant").
 */

export interface ScannedMedia {
  readonly index: number;
  /** media type as written (`audio`, `video`, `image`, ...) */
  readonly media: string;
  readonly port: number;
  /** transport protocol as written (`RTP/SAVP`, `UDP/TLS/RTP/SAVPF`, `udptl`, ...) */
  readonly proto: string;
  /** the text after `a=crypto:` of each crypto attribute on this media line */
  readonly crypto: string[];
  /** the text after `a=fingerprint:` of each fingerprint attribute on this media line */
  readonly fingerprints: string[];
}

export interface ScannedSdp {
  readonly media: ScannedMedia[];
  readonly sessionFingerprints: string[];
  /** a=crypto lines above the first m= line: RFC 4568 defines none there, so they protect nothing */
  readonly sessionCrypto: number;
}

export type ScanResult =
  | { readonly ok: true; readonly sdp: ScannedSdp }
  | { readonly ok: false; readonly what: string; readonly mediaIndex: number | null };

function startsWithAttr(text: string, pos: number, end: number, name: string): boolean {
  // `name` is lower-case and ends with ':'; attribute names are matched case-insensitively.
  const n = name.length;
  if (end - pos < n) return false;
  for (let i = 0; i < n; i++) {
    const want = name.charCodeAt(i);
    const c = text.charCodeAt(pos + i);
    if (c !== want && !(want >= 97 && want <= 122 && (c | 0x20) === want)) return false;
  }
  return true;
}

export function scanSdp(text: string): ScanResult {
  const media: ScannedMedia[] = [];
  const sessionFingerprints: string[] = [];
  let sessionCrypto = 0;
  let current: ScannedMedia | null = null;
  const len = text.length;
  let pos = 0;
  let lineNo = 0;
  while (pos < len) {
    let eol = text.indexOf('\n', pos);
    if (eol === -1) eol = len;
    let end = eol;
    if (end > pos && text.charCodeAt(end - 1) === 13) end--;
    const start = pos;
    pos = eol + 1;
    if (end === start) continue; // blank line (e.g. the trailing CRLF)
    lineNo++;
    const type = text.charCodeAt(start);
    if (text.charCodeAt(start + 1) !== 61 /* = */ || type < 97 || type > 122) {
      return { ok: false, what: `line ${lineNo} is not <type>=<value>`, mediaIndex: current?.index ?? null };
    }
    if (lineNo === 1) {
      if (type !== 118 /* v */ || end - start !== 3 || text.charCodeAt(start + 2) !== 48) {
        return { ok: false, what: 'the first line is not v=0', mediaIndex: null };
      }
      continue;
    }
    if (type === 109 /* m */) {
      const m = parseMediaLine(text.slice(start + 2, end), media.length);
      if (typeof m === 'string') return { ok: false, what: m, mediaIndex: media.length };
      media.push(m);
      current = m;
    } else if (type === 97 /* a */) {
      const a = start + 2;
      if (startsWithAttr(text, a, end, 'crypto:')) {
        if (current === null) sessionCrypto++;
        else current.crypto.push(text.slice(a + 7, end));
      } else if (startsWithAttr(text, a, end, 'fingerprint:')) {
        const value = text.slice(a + 12, end);
        if (current === null) sessionFingerprints.push(value);
        else current.fingerprints.push(value);
      }
    }
  }
  if (lineNo === 0) return { ok: false, what: 'the body is empty', mediaIndex: null };
  return { ok: true, sdp: { media, sessionFingerprints, sessionCrypto } };
}

/** m=<media> <port>[/<number of ports>] <proto> <fmt> ... (RFC 4566 §5.14) */
function parseMediaLine(value: string, index: number): ScannedMedia | string {
  const parts = value.split(' ');
  const mediaType = parts[0] ?? '';
  const port = parts[1] ?? '';
  const proto = parts[2] ?? '';
  const where = `m= line #${index}`;
  if (parts.length < 4 || mediaType === '' || proto === '' || (parts[3] ?? '') === '') {
    return `${where} is not "m=<media> <port> <proto> <fmt> ..."`;
  }
  const slash = port.indexOf('/');
  const portText = slash === -1 ? port : port.slice(0, slash);
  if (portText.length === 0 || portText.length > 5 || !/^[0-9]+$/.test(portText)) return `${where} has no valid port`;
  const portNumber = Number(portText);
  if (portNumber > 65535) return `${where} has no valid port`;
  if (slash !== -1 && !/^[0-9]{1,5}$/.test(port.slice(slash + 1))) return `${where} has a bad port count`;
  return { index, media: mediaType, port: portNumber, proto, crypto: [], fingerprints: [] };
}
