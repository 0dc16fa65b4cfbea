/**
 * A UDP media endpoint for the lab: one socket on a loopback address (port 0), sending a bounded
 * run of RTP or SRTP packets at 50 packets/s (ptime 20, RFC 3551 §4.5.14: PCMU 8000 Hz -> 160
 * samples = 160 bytes per packet), and counting what it receives: whether each SRTP packet
 * authenticates with the key it was told to expect, and whether the decrypted payload is the one
 * the lab's sender wrote (so a relay that forwarded the bytes but with the wrong keying is caught).
 *
 * Symmetric RTP (RFC 4961): packets go to the address from the peer's SDP; packets are accepted from
 * any source, the first source is recorded, and with `latch` later packets are sent to it.
 * RTCP (rtcp-mux, RFC 5761 §4) is counted apart and otherwise ignored: it is never an auth failure.
 */
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { decodeRtp, encodeRtp, isRtcp } from './rtp-packet.js';
import { SrtpReceiver, SrtpSender, type SrtpMasterKey } from './srtp.js';

export const PACKET_INTERVAL_MS = 20;
export const PAYLOAD_BYTES = 160;
/** The lab sends bounded runs; a call's media is seconds, not minutes. */
export const MAX_PACKETS = 3000;
/** A peer may change SSRC (RFC 3550 §8.2); a few receivers are kept, not one per forged SSRC. */
const MAX_SSRCS = 8;

/**
 * The lab's payload for one packet: bytes 0-1 are the sender's own sequence number (so the check
 * does not depend on a relay keeping RTP sequence numbers), bytes 2.. a pattern of it.
 */
export function labPayload(seq: number): Buffer {
  const b = Buffer.allocUnsafe(PAYLOAD_BYTES);
  b.writeUInt16BE(seq & 0xffff, 0);
  for (let i = 2; i < PAYLOAD_BYTES; i++) b[i] = ((seq * 7 + i * 13) ^ 0xa5) & 0xff;
  return b;
}

export function isLabPayload(p: Uint8Array): boolean {
  if (p.length !== PAYLOAD_BYTES) return false;
  const seq = (p[0]! << 8) | p[1]!;
  for (let i = 2; i < PAYLOAD_BYTES; i++) if (p[i] !== (((seq * 7 + i * 13) ^ 0xa5) & 0xff)) return false;
  return true;
}

export interface MediaStats {
  readonly sent: number;
  /** datagrams received that are not RTCP */
  readonly received: number;
  /** SRTP packets whose tag verified (0 when no receive key is set) */
  readonly authenticated: number;
  readonly authFailed: number;
  /** SRTP packets refused by the replay window */
  readonly replayed: number;
  /** not RTP at all (or shorter than a header + tag) */
  readonly malformed: number;
  /** RTP (decrypted when SRTP) whose payload is the lab pattern */
  readonly payloadOk: number;
  /** RTP (decrypted when SRTP) whose payload is something else, e.g. a real UA's audio */
  readonly outOfPattern: number;
  readonly rtcp: number;
  /** `address:port` of the first packet's source, null before any */
  readonly source: string | null;
}

export interface Remote {
  readonly address: string;
  readonly port: number;
}

export interface SendOptions {
  /** protect with this key (our own a=crypto); plain RTP when absent */
  readonly srtpTx?: SrtpMasterKey;
  readonly ssrc?: number;
  /** payload type, 0 (PCMU) by default */
  readonly pt?: number;
  /** packets to send, 50 (one second) by default, at most MAX_PACKETS */
  readonly packets?: number;
  /** first RTP sequence number (random by default, RFC 3550 §5.1) */
  readonly firstSeq?: number;
  /** after the first packet arrives, send to its source instead of `remote` */
  readonly latch?: boolean;
}

export interface ReceiveOptions {
  /** decrypt and authenticate with this key (the PEER's a=crypto); plain RTP expected when absent */
  readonly srtpRx?: SrtpMasterKey;
}

export class MediaEndpoint {
  private readonly socket: Socket;
  private rxKey: SrtpMasterKey | null = null;
  private readonly receivers = new Map<number, SrtpReceiver>();
  private timer: NodeJS.Timeout | null = null;
  private sending: Promise<void> = Promise.resolve();
  /** resolves `sending`; close() calls it, since the cleared timer will not */
  private finish: () => void = () => {};
  private remote: Remote | null = null;
  private learned: Remote | null = null;
  private closed = false;
  private counts = {
    sent: 0, received: 0, authenticated: 0, authFailed: 0, replayed: 0, malformed: 0,
    payloadOk: 0, outOfPattern: 0, rtcp: 0,
  };
  private waiters: { check: (s: MediaStats) => boolean; resolve: (s: MediaStats) => void; abort: () => void }[] = [];

  private constructor(socket: Socket, readonly address: string, readonly port: number) {
    this.socket = socket;
    socket.on('message', (msg, rinfo) => this.onPacket(msg, rinfo));
  }

  /** Bind a UDP socket on `address` (loopback), port 0. */
  static async open(address = '127.0.0.1'): Promise<MediaEndpoint> {
    const socket = createSocket(address.includes(':') ? 'udp6' : 'udp4');
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(0, address, () => {
        socket.off('error', reject);
        resolve();
      });
    });
    socket.on('error', () => { /* ICMP unreachable while the peer is not up yet: nothing to do */ });
    return new MediaEndpoint(socket, address, socket.address().port);
  }

  /** Set what incoming packets are checked against; call before the peer starts sending. */
  receive(o: ReceiveOptions): void {
    this.rxKey = o.srtpRx ?? null;
    this.receivers.clear();
  }

  /** Start sending to `remote`; `done()` resolves when the last packet is out. Also applies `srtpRx`. */
  start(remote: Remote, o: SendOptions & ReceiveOptions = {}): void {
    if (this.closed) throw new Error('media endpoint is closed');
    if (this.timer !== null) throw new Error('media endpoint is already sending');
    if ('srtpRx' in o) this.receive(o);
    this.remote = remote;
    const packets = Math.min(Math.max(0, Math.floor(o.packets ?? 50)), MAX_PACKETS);
    const ssrc = (o.ssrc ?? Math.floor(Math.random() * 2 ** 32)) >>> 0;
    const pt = o.pt ?? 0;
    const first = (o.firstSeq ?? Math.floor(Math.random() * 65536)) & 0xffff;
    const tx = o.srtpTx === undefined ? null : new SrtpSender(o.srtpTx);
    const started = Date.now();
    let n = 0;
    this.sending = new Promise<void>((resolve) => {
      this.finish = resolve;
      const tick = (): void => {
        this.timer = null;
        if (this.closed || n >= packets) return resolve();
        const seq = (first + n) & 0xffff;
        const rtp = encodeRtp({ marker: n === 0, payloadType: pt, sequence: seq, timestamp: (n * PAYLOAD_BYTES) >>> 0, ssrc }, labPayload(seq));
        const wire = tx === null ? rtp : tx.protect(rtp);
        const to = (o.latch === true ? this.learned : null) ?? remote;
        if (wire !== null) {
          this.socket.send(wire, to.port, to.address);
          this.counts.sent++;
        }
        n++;
        // Paced against the start time, not the previous tick, so the rate does not drift.
        this.timer = setTimeout(tick, Math.max(0, started + n * PACKET_INTERVAL_MS - Date.now()));
      };
      tick();
    });
  }

  /** Resolves when the run started by `start` has sent its last packet (or the endpoint closed). */
  done(): Promise<void> {
    return this.sending;
  }

  stats(): MediaStats {
    return { ...this.counts, source: this.learned === null ? null : `${this.learned.address}:${this.learned.port}` };
  }

  /** Resolves with the stats once `check` holds (checked on every packet); rejects after `ms`. */
  waitFor(check: (s: MediaStats) => boolean, ms = 10_000): Promise<MediaStats> {
    const now = this.stats();
    if (check(now)) return Promise.resolve(now);
    return new Promise<MediaStats>((resolve, reject) => {
      const w = {
        check,
        resolve: (s: MediaStats) => {
          clearTimeout(t);
          resolve(s);
        },
        abort: () => {
          clearTimeout(t);
          reject(new Error(`media endpoint ${this.address}:${this.port} closed while waiting: ${JSON.stringify(this.stats())}`));
        },
      };
      const t = setTimeout(() => {
        this.waiters = this.waiters.filter((x) => x !== w);
        reject(new Error(`media endpoint ${this.address}:${this.port}: condition not met within ${ms} ms: ${JSON.stringify(this.stats())}`));
      }, ms);
      this.waiters.push(w);
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.finish();
    for (const w of this.waiters.splice(0)) w.abort();
    await new Promise<void>((r) => this.socket.close(() => r()));
    await this.sending;
  }

  private onPacket(msg: Buffer, rinfo: RemoteInfo): void {
    this.learned ??= { address: rinfo.address, port: rinfo.port };
    const c = this.counts;
    if (isRtcp(msg)) {
      c.rtcp++;
    } else {
      c.received++;
      const plain = this.decrypt(msg);
      if (plain !== null) {
        const rtp = decodeRtp(plain);
        if (rtp === null) c.malformed++;
        else if (isLabPayload(rtp.payload)) c.payloadOk++;
        else c.outOfPattern++;
      }
    }
    if (this.waiters.length > 0) {
      const s = this.stats();
      const ready = this.waiters.filter((w) => w.check(s));
      this.waiters = this.waiters.filter((w) => !ready.includes(w));
      for (const w of ready) w.resolve(s);
    }
  }

  private decrypt(msg: Buffer): Buffer | null {
    const c = this.counts;
    if (this.rxKey === null) return msg;
    if (msg.length < 12) {
      c.malformed++;
      return null;
    }
    const ssrc = msg.readUInt32BE(8);
    const known = this.receivers.get(ssrc);
    // A new SSRC gets a receiver only once a packet of it authenticates: forged SSRCs take no slot.
    const rx = known ?? new SrtpReceiver(this.rxKey);
    const r = rx.unprotect(msg);
    if (r.ok) {
      if (known === undefined && this.receivers.size < MAX_SSRCS) this.receivers.set(ssrc, rx);
      c.authenticated++;
      return r.rtp;
    }
    if (r.reason === 'auth-failed') c.authFailed++;
    else if (r.reason === 'replay') c.replayed++;
    else c.malformed++;
    return null;
  }
}
