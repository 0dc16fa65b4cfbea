/**
 * HEPv3 capture (the Homer / heplify / sngrep encapsulation): every SIP message the edge receives
 * or sends, as decrypted text, mirrored over UDP to a collector. Off by default; when off,
 * `createHepSender` returns a no-op object and a capture costs one call.
 *
 * Packet (HEP3): "HEP3", total length u16, then chunks of vendor id u16, type id u16, chunk
 * length u16 (header included), value. Generic chunks (vendor 0x0000) used here:
 *   0x0001 IP family u8 (2 IPv4, 10 IPv6)      0x0002 IP protocol u8 (17 UDP, 6 TCP; TLS is 6 too)
 *   0x0003 / 0x0004 IPv4 source / destination   0x0005 / 0x0006 IPv6 source / destination
 *   0x0007 / 0x0008 source / destination port   0x0009 / 0x000a timestamp seconds / microseconds
 *   0x000b protocol type u8 (1 = SIP)           0x000c capture agent id u32
 *   0x000f payload                              0x0011 correlation id (optional)
 *
 * SDP keys: by default the payload's `inline:` keys (and k=, MIKEY) are redacted like logs are,
 * since a capture system is read by more people than the edge's operators; `redactKeys: false`
 * sends the message byte for byte (for decrypting SRTP in a lab).
 */
import dgram from 'node:dgram';
import { isIPv4, isIPv6 } from 'node:net';
import { redactSipMessage } from '../sdp/redact-sdp-keys.js';

export const HEP_CHUNK = {
  ipFamily: 0x0001,
  ipProtocol: 0x0002,
  ipv4Src: 0x0003,
  ipv4Dst: 0x0004,
  ipv6Src: 0x0005,
  ipv6Dst: 0x0006,
  srcPort: 0x0007,
  dstPort: 0x0008,
  timeSeconds: 0x0009,
  timeMicros: 0x000a,
  protocolType: 0x000b,
  captureId: 0x000c,
  payload: 0x000f,
  correlationId: 0x0011,
} as const;

export const HEP_FAMILY = { ipv4: 2, ipv6: 10 } as const;
export const HEP_PROTO_SIP = 1;
/** Largest UDP payload over IPv4. */
export const HEP_MAX_PACKET = 65_507;

export interface HepAddress {
  readonly address: string;
  readonly port: number;
}

export interface HepPacket {
  readonly ipProtocol: number;
  readonly src: HepAddress;
  readonly dst: HepAddress;
  readonly at: Date;
  readonly captureId: number;
  readonly payload: Buffer;
  readonly protocolType?: number;
  readonly correlationId?: string;
}

/** `::ffff:192.0.2.1` (dual-stack sockets) is shown as IPv4. */
function plain(address: string): string {
  return address.startsWith('::ffff:') && isIPv4(address.slice(7)) ? address.slice(7) : address;
}

function ipv4Bytes(address: string): Buffer {
  return Buffer.from(address.split('.').map((p) => Number(p) & 0xff));
}

/** RFC 4291 §2.2 text forms (with `::` and a trailing dotted quad) to 16 bytes. */
export function ipv6Bytes(address: string): Buffer {
  let text = address.replace(/^\[|\]$/g, '').split('%')[0] ?? '';
  const out = Buffer.alloc(16);
  const quad = /(\d{1,3}(?:\.\d{1,3}){3})$/.exec(text);
  if (quad?.[1] !== undefined) {
    const v4 = ipv4Bytes(quad[1]);
    text = `${text.slice(0, quad.index)}${v4.readUInt16BE(0).toString(16)}:${v4.readUInt16BE(2).toString(16)}`;
  }
  const [head = '', tail] = text.split('::');
  const left = head === '' ? [] : head.split(':');
  const right = tail === undefined || tail === '' ? [] : tail.split(':');
  const groups = tail === undefined ? left : [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right];
  groups.slice(0, 8).forEach((g, i) => out.writeUInt16BE(parseInt(g, 16) & 0xffff, i * 2));
  return out;
}

function chunk(type: number, value: Buffer): Buffer {
  const head = Buffer.alloc(6);
  head.writeUInt16BE(0x0000, 0); // generic vendor
  head.writeUInt16BE(type, 2);
  head.writeUInt16BE(6 + value.length, 4);
  return Buffer.concat([head, value]);
}

function u8(n: number): Buffer { return Buffer.from([n & 0xff]); }
function u16(n: number): Buffer { const b = Buffer.alloc(2); b.writeUInt16BE(n & 0xffff); return b; }
function u32(n: number): Buffer { const b = Buffer.alloc(4); b.writeUInt32BE(n >>> 0); return b; }

/** Encodes one HEP3 packet (throws RangeError past 65535 bytes). Mixed families are sent as IPv6 with the IPv4 side mapped (::ffff:a.b.c.d). */
export function encodeHep3(p: HepPacket): Buffer {
  const src = plain(p.src.address);
  const dst = plain(p.dst.address);
  const v6 = isIPv6(src) || isIPv6(dst);
  const addr = (a: string): Buffer => (v6 ? ipv6Bytes(isIPv4(a) ? `::ffff:${a}` : a) : ipv4Bytes(a));
  const ms = p.at.getTime();
  const chunks = [
    chunk(HEP_CHUNK.ipFamily, u8(v6 ? HEP_FAMILY.ipv6 : HEP_FAMILY.ipv4)),
    chunk(HEP_CHUNK.ipProtocol, u8(p.ipProtocol)),
    chunk(v6 ? HEP_CHUNK.ipv6Src : HEP_CHUNK.ipv4Src, addr(src)),
    chunk(v6 ? HEP_CHUNK.ipv6Dst : HEP_CHUNK.ipv4Dst, addr(dst)),
    chunk(HEP_CHUNK.srcPort, u16(p.src.port)),
    chunk(HEP_CHUNK.dstPort, u16(p.dst.port)),
    chunk(HEP_CHUNK.timeSeconds, u32(Math.floor(ms / 1000))),
    chunk(HEP_CHUNK.timeMicros, u32((((ms % 1000) + 1000) % 1000) * 1000)),
    chunk(HEP_CHUNK.protocolType, u8(p.protocolType ?? HEP_PROTO_SIP)),
    chunk(HEP_CHUNK.captureId, u32(p.captureId)),
    chunk(HEP_CHUNK.payload, p.payload),
  ];
  if (p.correlationId !== undefined) chunks.push(chunk(HEP_CHUNK.correlationId, Buffer.from(p.correlationId, 'utf8')));
  const body = Buffer.concat(chunks);
  const head = Buffer.alloc(6);
  head.write('HEP3', 0, 'latin1');
  head.writeUInt16BE(6 + body.length, 4);
  return Buffer.concat([head, body]);
}

export interface HepChunk {
  readonly vendor: number;
  readonly type: number;
  readonly value: Buffer;
}

/** Splits a HEP3 packet into chunks (views, not copies); null when it is not well-formed HEP3. */
export function decodeHep3(buf: Buffer): HepChunk[] | null {
  if (buf.length < 6 || buf.toString('latin1', 0, 4) !== 'HEP3') return null;
  const total = buf.readUInt16BE(4);
  if (total !== buf.length) return null;
  const out: HepChunk[] = [];
  for (let at = 6; at < total;) {
    if (at + 6 > total) return null;
    const len = buf.readUInt16BE(at + 4);
    if (len < 6 || at + len > total) return null;
    out.push({ vendor: buf.readUInt16BE(at), type: buf.readUInt16BE(at + 2), value: buf.subarray(at + 6, at + len) });
    at += len;
  }
  return out;
}

export interface HepConfig {
  readonly address: string;
  readonly port: number;
  readonly captureId: number;
  /** Redact SDP keys in the mirrored payload (default true: refuse keys unless asked). */
  readonly redactKeys?: boolean;
}

export type HepResult = 'sent' | 'failed' | 'too-large';

export interface HepSender {
  readonly enabled: boolean;
  capture(direction: 'in' | 'out', transport: string, local: HepAddress, remote: HepAddress, data: Buffer, at: Date, correlationId?: string): void;
  close(): Promise<void>;
}

const NOOP: HepSender = { enabled: false, capture() {}, close: () => Promise.resolve() };

/** `undefined` config (logging.hep absent) gives the no-op sender. `onResult` feeds a counter. */
export function createHepSender(config: HepConfig | undefined, onResult?: (r: HepResult) => void): HepSender {
  if (config === undefined) return NOOP;
  const { address, port, captureId } = config;
  const redact = config.redactKeys ?? true;
  const report = onResult ?? ((): void => {});
  const socket = dgram.createSocket(isIPv6(address) ? 'udp6' : 'udp4');
  socket.on('error', () => report('failed'));
  socket.unref();
  let closed = false;
  return {
    enabled: true,
    capture(direction, transport, local, remote, data, at, correlationId) {
      if (closed) return;
      let payload = data;
      if (redact) {
        const text = data.toString('latin1');
        // A body the redactor cannot read (gzip, base64, unknown type) is replaced whole.
        const clean = redactSipMessage(text);
        if (clean !== text) payload = Buffer.from(clean, 'latin1');
      }
      // Chunk and packet lengths are u16: leave room for the headers (~120 bytes with IPv6).
      if (payload.length + (correlationId?.length ?? 0) > HEP_MAX_PACKET - 256) return report('too-large');
      const out = direction === 'out';
      const packet = encodeHep3({
        ipProtocol: transport.toLowerCase() === 'udp' ? 17 : 6,
        src: out ? local : remote,
        dst: out ? remote : local,
        at,
        captureId,
        payload,
        ...(correlationId !== undefined ? { correlationId } : {}),
      });
      socket.send(packet, port, address, (err) => report(err ? 'failed' : 'sent'));
    },
    close() {
      if (closed) return Promise.resolve();
      closed = true;
      return new Promise((resolve) => socket.close(() => resolve()));
    },
  };
}
