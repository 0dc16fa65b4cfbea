/** A tiny pcap reader for the sngrep test: global header, record headers, IPv4/IPv6 + UDP/TCP to the payload. */

export interface PcapPacket {
  readonly src: string;
  readonly dst: string;
  readonly srcPort: number;
  readonly dstPort: number;
  readonly payload: Buffer;
}

const LINK_ETHERNET = 1;
const LINK_LINUX_SLL = 113;
const LINK_RAW = 101;

function ip6(b: Buffer): string {
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(b.readUInt16BE(i).toString(16));
  return groups.join(':');
}

function decodeFrame(frame: Buffer, link: number): PcapPacket | null {
  let at: number;
  let etherType: number;
  if (link === LINK_ETHERNET) { etherType = frame.readUInt16BE(12); at = 14; }
  else if (link === LINK_LINUX_SLL) { etherType = frame.readUInt16BE(14); at = 16; }
  else if (link === LINK_RAW) { etherType = (frame[0] ?? 0) >> 4 === 6 ? 0x86dd : 0x0800; at = 0; }
  else return null;
  let proto: number;
  let src: string;
  let dst: string;
  if (etherType === 0x0800) {
    const ihl = ((frame[at] ?? 0) & 0x0f) * 4;
    proto = frame[at + 9] ?? 0;
    src = [...frame.subarray(at + 12, at + 16)].join('.');
    dst = [...frame.subarray(at + 16, at + 20)].join('.');
    at += ihl;
  } else if (etherType === 0x86dd) {
    proto = frame[at + 6] ?? 0;
    src = ip6(frame.subarray(at + 8, at + 24));
    dst = ip6(frame.subarray(at + 24, at + 40));
    at += 40;
  } else return null;
  const srcPort = frame.readUInt16BE(at);
  const dstPort = frame.readUInt16BE(at + 2);
  if (proto === 17) at += 8;
  else if (proto === 6) at += ((frame[at + 12] ?? 0) >> 4) * 4;
  else return null;
  return { src, dst, srcPort, dstPort, payload: frame.subarray(at) };
}

export function readPcap(buf: Buffer): { linkType: number; packets: PcapPacket[] } {
  if (buf.length < 24) return { linkType: -1, packets: [] };
  const magic = buf.readUInt32LE(0);
  const le = magic === 0xa1b2c3d4 || magic === 0xa1b23c4d;
  const be = magic === 0xd4c3b2a1 || magic === 0x4d3cb2a1;
  if (!le && !be) throw new Error(`not a pcap file (magic ${magic.toString(16)})`);
  const u32 = (o: number): number => (le ? buf.readUInt32LE(o) : buf.readUInt32BE(o));
  const linkType = u32(20);
  const packets: PcapPacket[] = [];
  for (let at = 24; at + 16 <= buf.length;) {
    const incl = u32(at + 8);
    const frame = buf.subarray(at + 16, at + 16 + incl);
    if (frame.length < incl) break; // a record still being written
    const p = decodeFrame(frame, linkType);
    if (p) packets.push(p);
    at += 16 + incl;
  }
  return { linkType, packets };
}
