/**
 * IP literals and CIDR matching for access control (IPv4 and IPv6, no dependency).
 * An IPv4-mapped IPv6 address (`::ffff:192.0.2.1`, what a dual-stack socket reports) is treated as
 * the IPv4 address, so a v4 CIDR matches it.
 */

/** Bytes of an address: 4 for IPv4, 16 for IPv6; undefined when `text` is not an IP literal. */
/**
 * Source addresses repeat on every request from the same peer: parsed bytes are cached (bounded;
 * cleared when full). Callers must not mutate the returned bytes.
 */
const parsed = new Map<string, Uint8Array | undefined>();

export function parseIp(text: string): Uint8Array | undefined {
  if (parsed.has(text)) return parsed.get(text);
  const bytes = parseIpUncached(text);
  if (parsed.size >= 4096) parsed.clear();
  parsed.set(text, bytes);
  return bytes;
}

function parseIpUncached(text: string): Uint8Array | undefined {
  let s = text.trim();
  if (s.startsWith('[') && s.endsWith(']')) s = s.slice(1, -1);
  const zone = s.indexOf('%');
  if (zone >= 0) s = s.slice(0, zone);
  const v4 = parseIpv4(s);
  if (v4 !== undefined) return v4;
  const v6 = parseIpv6(s);
  if (v6 === undefined) return undefined;
  // ::ffff:a.b.c.d -> a.b.c.d (RFC 4291 §2.5.5.2)
  if (v6.slice(0, 10).every((b) => b === 0) && v6[10] === 0xff && v6[11] === 0xff) return v6.slice(12);
  return v6;
}

/** S-VAL-3 guard: is this host an IPv4 or IPv6 literal (brackets allowed)? */
export function isIpLiteral(host: string): boolean {
  return parseIp(host) !== undefined;
}

/** Canonical text of an address (IPv4 dotted; IPv6 lower-case, uncompressed groups), for set keys. */
export function ipKey(text: string): string | undefined {
  const b = parseIp(text);
  if (b === undefined) return undefined;
  if (b.length === 4) return b.join('.');
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((b[i]! << 8) | b[i + 1]!).toString(16));
  return groups.join(':');
}

function parseIpv4(s: string): Uint8Array | undefined {
  const parts = s.split('.');
  if (parts.length !== 4) return undefined;
  const out = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    const p = parts[i]!;
    if (!/^\d{1,3}$/.test(p)) return undefined;
    const n = Number(p);
    if (n > 255) return undefined;
    out[i] = n;
  }
  return out;
}

function parseIpv6(s: string): Uint8Array | undefined {
  if (!s.includes(':') || !/^[0-9A-Fa-f:.]+$/.test(s)) return undefined;
  const dbl = s.indexOf('::');
  if (dbl >= 0 && s.indexOf('::', dbl + 1) >= 0) return undefined;
  const head = dbl >= 0 ? s.slice(0, dbl) : s;
  const tail = dbl >= 0 ? s.slice(dbl + 2) : '';
  const words = (part: string): number[] | undefined => {
    if (part === '') return [];
    const out: number[] = [];
    const pieces = part.split(':');
    for (let i = 0; i < pieces.length; i++) {
      const p = pieces[i]!;
      if (i === pieces.length - 1 && p.includes('.')) {
        const v4 = parseIpv4(p);
        if (v4 === undefined) return undefined;
        out.push((v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!);
      } else {
        if (!/^[0-9A-Fa-f]{1,4}$/.test(p)) return undefined;
        out.push(parseInt(p, 16));
      }
    }
    return out;
  };
  const h = words(head);
  const t = words(tail);
  if (h === undefined || t === undefined) return undefined;
  const missing = 8 - h.length - t.length;
  if (dbl >= 0 ? missing < 1 : missing !== 0) return undefined;
  const all = [...h, ...new Array<number>(dbl >= 0 ? missing : 0).fill(0), ...t];
  const out = new Uint8Array(16);
  all.forEach((w, i) => {
    out[i * 2] = w >> 8;
    out[i * 2 + 1] = w & 0xff;
  });
  return out;
}

export interface Cidr {
  readonly text: string;
  readonly bytes: Uint8Array;
  readonly bits: number;
}

/** `10.0.0.0/8`, `2001:db8::/32`, or a bare address (= /32 or /128). Throws on garbage (config). */
export function parseCidr(text: string): Cidr {
  const slash = text.indexOf('/');
  const addr = slash < 0 ? text : text.slice(0, slash);
  let bytes = parseIp(addr);
  if (bytes === undefined) throw new Error(`not an IP address or CIDR: ${JSON.stringify(text)}`);
  let bits = bytes.length * 8;
  if (slash >= 0) {
    const b = text.slice(slash + 1);
    if (!/^\d{1,3}$/.test(b)) throw new Error(`bad prefix length in ${JSON.stringify(text)}`);
    bits = Number(b);
    // A v4-mapped v6 prefix (::ffff:0:0/96 and longer) was folded to v4 by parseIp.
    if (bytes.length === 4 && addr.includes(':')) bits -= 96;
    if (bits < 0 || bits > bytes.length * 8) throw new Error(`prefix length out of range in ${JSON.stringify(text)}`);
  }
  bytes = Uint8Array.from(bytes);
  return { text, bytes, bits };
}

export function cidrContains(cidr: Cidr, address: string): boolean {
  const a = parseIp(address);
  if (a === undefined || a.length !== cidr.bytes.length) return false;
  let bits = cidr.bits;
  for (let i = 0; bits > 0; i++, bits -= 8) {
    const mask = bits >= 8 ? 0xff : (0xff << (8 - bits)) & 0xff;
    if ((a[i]! & mask) !== (cidr.bytes[i]! & mask)) return false;
  }
  return true;
}
