/**
 * SRTP for the lab, RFC 3711, with node:crypto only: the two SDES suites of RFC 4568 §6.2.1/§6.2.2,
 * AES_CM_128_HMAC_SHA1_80 and AES_CM_128_HMAC_SHA1_32 (AES-128 counter mode, HMAC-SHA1 tag of 80 or
 * 32 bits), key derivation rate 0, no MKI. Enough to check, byte by byte, that media crossing the
 * edge is really protected with the key its SDP announced; not a general SRTP stack (no SRTCP, no
 * key lifetime enforcement, one SSRC per context).
 *
 * A context is one direction: a sender protects, a receiver unprotects. The receiver tracks the
 * rollover counter (ROC) and the highest sequence number (§3.3.1) and keeps a 64-packet replay
 * window (§3.3.2). Unprotect never throws on network bytes: it returns a typed failure.
 */
import { createCipheriv, createHmac, timingSafeEqual } from 'node:crypto';
import { rtpHeaderLength } from './rtp-packet.js';

export const SRTP_SUITES = {
  AES_CM_128_HMAC_SHA1_80: { tagLength: 10 },
  AES_CM_128_HMAC_SHA1_32: { tagLength: 4 },
} as const;

export type SrtpSuite = keyof typeof SRTP_SUITES;

export function isSrtpSuite(name: string): name is SrtpSuite {
  return Object.hasOwn(SRTP_SUITES, name);
}

const MASTER_KEY = 16;
const MASTER_SALT = 14;
const AUTH_KEY = 20; // n_a = 160 bits for HMAC-SHA1 (RFC 3711 §8.2)
const REPLAY_WINDOW = 64n;

/** An SDES master key, RFC 4568 §6.1: `inline:<base64(key || salt)>`. Never log `key` or `salt`. */
export interface SrtpMasterKey {
  readonly suite: SrtpSuite;
  /** 16 bytes */
  readonly key: Buffer;
  /** 14 bytes */
  readonly salt: Buffer;
}

export interface SessionKeys {
  readonly cipherKey: Buffer;
  readonly authKey: Buffer;
  readonly salt: Buffer;
}

/** AES-128 in counter mode from a 16-byte IV whose low 16 bits are the block counter (RFC 3711 §4.1.1). */
export function aesCmKeystream(key: Buffer, iv: Buffer, length: number): Buffer {
  // OpenSSL's CTR increments the whole 128-bit block big-endian; every IV built here has its low
  // 16 bits zero and SRTP packets are far below 2^16 blocks, so that is the same counter.
  const c = createCipheriv('aes-128-ctr', key, iv);
  return Buffer.concat([c.update(Buffer.alloc(length)), c.final()]);
}

/**
 * RFC 3711 §4.3.1 with kdr = 0 (r = 0): key_id = label || 0^48, x = key_id XOR master_salt, and
 * the session key is the AES-CM keystream of the master key from IV = x * 2^16 (§4.3.3).
 */
export function deriveSessionKey(master: Buffer, salt: Buffer, label: number, length: number): Buffer {
  const iv = Buffer.alloc(16);
  salt.copy(iv, 0, 0, MASTER_SALT);
  iv[7] = iv[7]! ^ label; // the label sits 7 bytes from the right of the 112-bit salt (48 bits of r follow)
  return aesCmKeystream(master, iv, length);
}

export function deriveSessionKeys(m: SrtpMasterKey): SessionKeys {
  return {
    cipherKey: deriveSessionKey(m.key, m.salt, 0x00, MASTER_KEY),
    authKey: deriveSessionKey(m.key, m.salt, 0x01, AUTH_KEY),
    salt: deriveSessionKey(m.key, m.salt, 0x02, MASTER_SALT),
  };
}

/** §4.1.1: IV = (k_s * 2^16) XOR (SSRC * 2^64) XOR (i * 2^16), i = 2^16 * ROC + SEQ. */
function packetIv(salt: Buffer, ssrc: number, index: bigint): Buffer {
  const iv = Buffer.alloc(16);
  salt.copy(iv, 0, 0, MASTER_SALT);
  iv.writeUInt32BE((iv.readUInt32BE(4) ^ ssrc) >>> 0, 4);
  const i = index << 16n; // 48-bit index shifted: bytes 8..13
  for (let b = 0; b < 8; b++) iv[15 - b] = iv[15 - b]! ^ Number((i >> BigInt(8 * b)) & 0xffn);
  return iv;
}

function xorInto(buf: Buffer, start: number, keystream: Buffer): void {
  for (let i = 0; i < keystream.length; i++) buf[start + i] = buf[start + i]! ^ keystream[i]!;
}

/** §4.2: tag = HMAC-SHA1(k_a, authenticated portion || ROC), truncated. */
function authTag(authKey: Buffer, portion: Buffer, roc: number, tagLength: number): Buffer {
  const rocBytes = Buffer.allocUnsafe(4);
  rocBytes.writeUInt32BE(roc >>> 0, 0);
  return createHmac('sha1', authKey).update(portion).update(rocBytes).digest().subarray(0, tagLength);
}

/** Parse the key of an `a=crypto` value (text after `a=crypto:`); null when it is not one we can use. */
export function parseCryptoKey(value: string): { readonly tag: string; readonly master: SrtpMasterKey } | null {
  // RFC 4568 §9.1: <tag> <suite> inline:<key||salt>[|lifetime][|MKI:len] [session params]
  const fields = value.trim().split(/[ \t]+/);
  const [tag, suite, keyParams] = fields;
  if (tag === undefined || !/^\d{1,9}$/.test(tag) || suite === undefined || keyParams === undefined) return null;
  if (!isSrtpSuite(suite)) return null;
  if (fields.slice(3).some((p) => !p.startsWith('-'))) return null; // KDR, UNENCRYPTED_*, ...: not supported here
  const first = keyParams.split(';')[0] ?? '';
  if (first.slice(0, 7).toLowerCase() !== 'inline:') return null;
  const parts = first.slice(7).split('|');
  const b64 = parts[0] ?? '';
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(b64)) return null;
  if (parts.length > 3) return null;
  // An MKI (`value:length`) would prefix every packet's tag with the MKI; the lab's peers never send one.
  if (parts.slice(1).some((p) => p.includes(':'))) return null;
  const raw = Buffer.from(b64, 'base64');
  if (raw.length !== MASTER_KEY + MASTER_SALT) return null;
  return { tag, master: { suite, key: raw.subarray(0, MASTER_KEY), salt: raw.subarray(MASTER_KEY) } };
}

/** The `inline:` text for a master key (what goes into our own a=crypto line). */
export function inlineKeyOf(m: SrtpMasterKey): string {
  return Buffer.concat([m.key, m.salt]).toString('base64');
}

export type UnprotectResult =
  | { readonly ok: true; readonly rtp: Buffer; readonly index: bigint }
  | { readonly ok: false; readonly reason: 'malformed' | 'auth-failed' | 'replay' };

/** The sending side of one SSRC: sequence numbers come from the packets; ROC counts their wraps. */
export class SrtpSender {
  private readonly keys: SessionKeys;
  private readonly tagLength: number;
  private roc = 0;
  private lastSeq = -1;

  constructor(master: SrtpMasterKey) {
    this.keys = deriveSessionKeys(master);
    this.tagLength = SRTP_SUITES[master.suite].tagLength;
  }

  /** Protect one RTP packet (a new buffer: header || encrypted payload || tag). Null when `rtp` is not RTP. */
  protect(rtp: Buffer): Buffer | null {
    const headerLength = rtpHeaderLength(rtp);
    if (headerLength < 0) return null;
    const seq = rtp.readUInt16BE(2);
    // §3.3.1: the sender's ROC is incremented each time SEQ wraps (packets are sent in order here).
    if (this.lastSeq >= 0 && seq < this.lastSeq && this.lastSeq - seq > 0x8000) this.roc = (this.roc + 1) >>> 0;
    this.lastSeq = seq;
    const index = (BigInt(this.roc) << 16n) | BigInt(seq);
    const out = Buffer.allocUnsafe(rtp.length + this.tagLength);
    rtp.copy(out);
    const payloadLength = rtp.length - headerLength;
    if (payloadLength > 0) {
      xorInto(out, headerLength, aesCmKeystream(this.keys.cipherKey, packetIv(this.keys.salt, rtp.readUInt32BE(8), index), payloadLength));
    }
    authTag(this.keys.authKey, out.subarray(0, rtp.length), this.roc, this.tagLength).copy(out, rtp.length);
    return out;
  }

  get rolloverCounter(): number {
    return this.roc;
  }
}

/** The receiving side of one SSRC (the first packet's SSRC is taken; others fail authentication). */
export class SrtpReceiver {
  private readonly keys: SessionKeys;
  private readonly tagLength: number;
  private roc = 0;
  /** s_l, the highest sequence number authenticated so far; -1 before the first packet */
  private sl = -1;
  /** highest index authenticated, and a bitmap of the 64 below it (bit 0 = highest) */
  private top = -1n;
  private window = 0n;

  constructor(master: SrtpMasterKey) {
    this.keys = deriveSessionKeys(master);
    this.tagLength = SRTP_SUITES[master.suite].tagLength;
  }

  /** §3.3.1: the ROC this packet was most likely sent with. */
  private estimateRoc(seq: number): number {
    if (this.sl < 0) return this.roc;
    if (this.sl < 0x8000) return seq - this.sl > 0x8000 ? (this.roc - 1) >>> 0 : this.roc;
    return this.sl - 0x8000 > seq ? (this.roc + 1) >>> 0 : this.roc;
  }

  unprotect(srtp: Buffer): UnprotectResult {
    const headerLength = rtpHeaderLength(srtp.subarray(0, Math.max(0, srtp.length - this.tagLength)));
    if (headerLength < 0) return { ok: false, reason: 'malformed' };
    const seq = srtp.readUInt16BE(2);
    const v = this.sl < 0 ? this.roc : this.estimateRoc(seq);
    if (v === 0xffffffff && this.roc === 0) return { ok: false, reason: 'replay' }; // before the first wrap
    const index = (BigInt(v) << 16n) | BigInt(seq);
    if (this.isReplay(index)) return { ok: false, reason: 'replay' };
    const end = srtp.length - this.tagLength;
    const expected = authTag(this.keys.authKey, srtp.subarray(0, end), v, this.tagLength);
    // Constant time: a timing difference would let a forger find the tag byte by byte.
    if (!timingSafeEqual(expected, srtp.subarray(end))) return { ok: false, reason: 'auth-failed' };
    const rtp = Buffer.from(srtp.subarray(0, end));
    if (end > headerLength) {
      xorInto(rtp, headerLength, aesCmKeystream(this.keys.cipherKey, packetIv(this.keys.salt, rtp.readUInt32BE(8), index), end - headerLength));
    }
    // §3.3.1: update ROC and s_l only once the packet is authenticated.
    if (this.sl < 0) this.sl = seq;
    else if (v === ((this.roc + 1) >>> 0)) {
      this.roc = v;
      this.sl = seq;
    } else if (v === this.roc && seq > this.sl) this.sl = seq;
    this.accept(index);
    return { ok: true, rtp, index };
  }

  /** §3.3.2: an index at or below the window, or one already seen in it, is a replay. */
  private isReplay(index: bigint): boolean {
    if (this.top < 0n || index > this.top) return false;
    const delta = this.top - index;
    if (delta >= REPLAY_WINDOW) return true;
    return ((this.window >> delta) & 1n) === 1n;
  }

  private accept(index: bigint): void {
    if (this.top < 0n) {
      this.top = index;
      this.window = 1n;
    } else if (index > this.top) {
      const shift = index - this.top;
      this.window = shift >= REPLAY_WINDOW ? 1n : ((this.window << shift) | 1n) & ((1n << REPLAY_WINDOW) - 1n);
      this.top = index;
    } else {
      this.window |= 1n << (this.top - index);
    }
  }

  get rolloverCounter(): number {
    return this.roc;
  }
}
