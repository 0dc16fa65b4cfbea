/**
 * One call's media at one lab endpoint: its SDP offer or answer and a MediaEndpoint that sends and
 * checks packets with the keys that SDP exchange set. The carrier simulator runs it in `rtp` mode
 * (RTP/AVP only, as a carrier behind the edge would), the simulated vendor region in `srtp` mode
 * (RTP/SAVP with SDES only, S-SRTP).
 *
 * Keying rule, RFC 4568 §6.1: the key in an a=crypto line is the key its WRITER sends with. So
 *   - an endpoint ENCRYPTS with the key in its OWN SDP (its offer's tag that the answer accepted,
 *     or its answer's a=crypto), and
 *   - DECRYPTS with the key in the SDP the OTHER side sent (for the vendor: the a=crypto the edge /
 *     rtpengine wrote toward it, never the carrier's, which has none).
 * A relay that copied one side's a=crypto to the other, or reused a key both ways, shows up as
 * authFailed at the receiver.
 */
import { MediaEndpoint, type MediaStats, type Remote } from './media-endpoint.js';
import { buildAnswer, buildOffer, keysFromAnswer, readAudio, type BuiltOffer } from './sdp-media.js';
import { SRTP_SUITES, type SrtpMasterKey, type SrtpSuite } from './srtp.js';

export type MediaMode = 'rtp' | 'srtp';

export interface CallMediaOptions {
  readonly mode: MediaMode;
  /** o= user name */
  readonly user?: string;
  /** loopback address to bind and to write in c= (127.0.0.1 by default) */
  readonly address?: string;
  /** suites offered in `srtp` mode, in preference order (both AES_CM_128 suites by default) */
  readonly suites?: readonly SrtpSuite[];
}

export type MediaRefusal = 'no-audio' | 'no-address' | 'wrong-profile' | 'no-usable-crypto' | 'no-pcmu' | 'no-offer';

export class CallMedia {
  private offered: BuiltOffer | null = null;
  private txKey: SrtpMasterKey | null = null;
  private peer: Remote | null = null;
  /** why the last offer/answer was refused, for the report (never carries key material) */
  refusal: MediaRefusal | null = null;

  private constructor(readonly endpoint: MediaEndpoint, private readonly o: CallMediaOptions) {}

  static async open(o: CallMediaOptions): Promise<CallMedia> {
    return new CallMedia(await MediaEndpoint.open(o.address ?? '127.0.0.1'), o);
  }

  get mode(): MediaMode {
    return this.o.mode;
  }

  /** where media is sent (c=/m= of the peer's SDP), once known */
  get remote(): Remote | null {
    return this.peer;
  }

  private get base(): { user: string; address: string; port: number } {
    return { user: this.o.user ?? 'lab', address: this.endpoint.address, port: this.endpoint.port };
  }

  /** Our offer: RTP/AVP in `rtp` mode, RTP/SAVP with one fresh key per suite in `srtp` mode. */
  offer(): string {
    const suites = this.o.mode === 'srtp' ? (this.o.suites ?? (Object.keys(SRTP_SUITES) as SrtpSuite[])) : [];
    this.offered = buildOffer({ ...this.base, suites });
    return this.offered.sdp;
  }

  /**
   * Answer the peer's offer; null (with `refusal` set) when this mode cannot accept it: an `rtp`
   * endpoint refuses RTP/SAVP, an `srtp` endpoint refuses RTP/AVP (S-SRTP). Sets the receive key.
   */
  answer(remoteOffer: string): string | null {
    const audio = this.usable(remoteOffer);
    if (audio === null) return null;
    const built = buildAnswer(audio, this.base);
    if (built === null) return this.refuse(audio.payloadTypes.includes(0) ? 'no-usable-crypto' : 'no-pcmu');
    this.txKey = built.txKey;
    this.endpoint.receive(built.rxKey === null ? {} : { srtpRx: built.rxKey });
    return built.sdp;
  }

  /** As offerer: take the peer's answer; false (with `refusal`) when it cannot be used. Sets the receive key. */
  accept(remoteAnswer: string): boolean {
    if (this.offered === null) return this.refuse('no-offer') !== null;
    const audio = this.usable(remoteAnswer);
    if (audio === null) return false;
    if (audio.secure) {
      const keys = keysFromAnswer(this.offered, audio);
      if (keys === null) return this.refuse('no-usable-crypto') !== null;
      this.txKey = keys.txKey;
      this.endpoint.receive({ srtpRx: keys.rxKey });
    } else {
      this.txKey = null;
      this.endpoint.receive({});
    }
    return true;
  }

  /** Send `packets` (50 by default) to the peer's SDP address, with our key when SRTP. */
  start(o: { readonly packets?: number; readonly firstSeq?: number } = {}): void {
    if (this.peer === null) throw new Error('no peer media address yet: offer/answer first');
    this.endpoint.start(this.peer, { ...o, ...(this.txKey === null ? {} : { srtpTx: this.txKey }) });
  }

  done(): Promise<void> {
    return this.endpoint.done();
  }

  stats(): MediaStats {
    return this.endpoint.stats();
  }

  waitFor(check: (s: MediaStats) => boolean, ms?: number): Promise<MediaStats> {
    return this.endpoint.waitFor(check, ms);
  }

  close(): Promise<void> {
    return this.endpoint.close();
  }

  private usable(sdp: string): ReturnType<typeof readAudio> {
    const audio = readAudio(sdp);
    if (audio === null) return this.refuse('no-audio');
    if (audio.address === null || audio.port === 0) return this.refuse('no-address');
    if (audio.secure !== (this.o.mode === 'srtp')) return this.refuse('wrong-profile');
    this.refusal = null;
    this.peer = { address: audio.address, port: audio.port };
    return audio;
  }

  private refuse(why: MediaRefusal): null {
    this.refusal = why;
    return null;
  }
}
