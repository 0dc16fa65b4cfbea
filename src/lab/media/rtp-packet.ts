/**
 * RTP fixed header, RFC 3550 §5.1:
 *
 *    0                   1                   2                   3
 *   |V=2|P|X|  CC   |M|     PT      |       sequence number         |
 *   |                           timestamp                           |
 *   |           synchronization source (SSRC) identifier            |
 *   |            contributing source (CSRC) identifiers  (CC x 4)   |
 *   [ extension: 16-bit profile, 16-bit length in words, length x 4 ]   (X=1, §5.3.1)
 *
 * Decoding is total: bytes off the network that are not a well-formed RTP packet give null, never an
 * exception. The payload is a view into the packet, not a copy.
 */

export const RTP_VERSION = 2;
export const RTP_FIXED_HEADER = 12;

export interface RtpHeader {
  readonly marker: boolean;
  /** 0..127 */
  readonly payloadType: number;
  /** 0..65535 */
  readonly sequence: number;
  /** 0..2^32-1 */
  readonly timestamp: number;
  /** 0..2^32-1 */
  readonly ssrc: number;
}

export interface RtpPacket extends RtpHeader {
  readonly csrcCount: number;
  readonly hasExtension: boolean;
  readonly padding: boolean;
  /** bytes of header (fixed + CSRC + extension); the payload starts here */
  readonly headerLength: number;
  /** view into the packet, padding removed */
  readonly payload: Buffer;
}

/** Encode a packet without CSRC or extension (all the lab sends). */
export function encodeRtp(h: RtpHeader, payload: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(RTP_FIXED_HEADER + payload.length);
  out[0] = RTP_VERSION << 6;
  out[1] = (h.marker ? 0x80 : 0) | (h.payloadType & 0x7f);
  out.writeUInt16BE(h.sequence & 0xffff, 2);
  out.writeUInt32BE(h.timestamp >>> 0, 4);
  out.writeUInt32BE(h.ssrc >>> 0, 8);
  out.set(payload, RTP_FIXED_HEADER);
  return out;
}

/**
 * Length of the RTP header (fixed + CSRC list + extension) or -1 when the bytes cannot be an RTP
 * header. SRTP needs only this: the header is authenticated but not encrypted (RFC 3711 §3.1).
 */
export function rtpHeaderLength(b: Uint8Array): number {
  if (b.length < RTP_FIXED_HEADER) return -1;
  const b0 = b[0]!;
  if (b0 >> 6 !== RTP_VERSION) return -1;
  let len = RTP_FIXED_HEADER + 4 * (b0 & 0x0f);
  if (len > b.length) return -1;
  if ((b0 & 0x10) !== 0) {
    if (len + 4 > b.length) return -1;
    const words = (b[len + 2]! << 8) | b[len + 3]!;
    len += 4 + 4 * words;
    if (len > b.length) return -1;
  }
  return len;
}

export function decodeRtp(b: Buffer): RtpPacket | null {
  const headerLength = rtpHeaderLength(b);
  if (headerLength < 0) return null;
  const b0 = b[0]!;
  const b1 = b[1]!;
  const padding = (b0 & 0x20) !== 0;
  let end = b.length;
  if (padding) {
    // RFC 3550 §5.1: the last octet counts the padding octets, itself included.
    const pad = b[b.length - 1]!;
    if (pad === 0 || headerLength + pad > b.length) return null;
    end -= pad;
  }
  return {
    marker: (b1 & 0x80) !== 0,
    payloadType: b1 & 0x7f,
    sequence: b.readUInt16BE(2),
    timestamp: b.readUInt32BE(4),
    ssrc: b.readUInt32BE(8),
    csrcCount: b0 & 0x0f,
    hasExtension: (b0 & 0x10) !== 0,
    padding,
    headerLength,
    payload: b.subarray(headerLength, end),
  };
}

/**
 * RFC 5761 §4: with rtcp-mux, a packet whose second octet is 192..223 (RTCP packet types 200..204
 * with the marker bit, i.e. RTP payload types 64..95 as the range to avoid) is RTCP. The lab only
 * needs the SR/RR/SDES/BYE/APP range, 200..204 (payload types 72..76 read as RTP).
 */
export function isRtcp(b: Uint8Array): boolean {
  if (b.length < 2 || b[0]! >> 6 !== RTP_VERSION) return false;
  const pt = b[1]!;
  return pt >= 192 && pt <= 223;
}
