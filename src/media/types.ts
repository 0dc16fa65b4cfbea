import { SipsError, type ErrorSection } from '../errors.js';

/**
 * The media plane seam (issue 14): the proxy asks an anchor to rewrite each SDP offer and answer
 * so media flows through rtpengine. The edge itself keeps no media state: rtpengine holds it,
 * keyed by Call-ID and the From/To tags of the message that carried the SDP.
 */

/** Which media a leg speaks: RTP/AVP without crypto, or RTP/SAVP with SDES keys rtpengine generates (RFC 4568). */
export type LegMedia = 'rtp' | 'srtp';

/** The edge's two sides; on rtpengine they are two logical interfaces of the same names by default. */
export type MediaSide = 'inside' | 'outside';

export interface MediaRequest {
  readonly callId: string;
  /** From tag of the message carrying the SDP (the offerer's in an offer). */
  readonly fromTag: string;
  /** To tag of that message: the answerer's tag; required for an answer. */
  readonly toTag?: string;
  readonly sdp: string;
  /** The side the SDP came from, and the side it is sent to. */
  readonly from: MediaSide;
  readonly to: MediaSide;
  /** What the leg receiving the rewritten SDP speaks. */
  readonly toMedia: LegMedia;
}

export interface MediaResult {
  /** The SDP rtpengine wrote for the receiving leg. */
  readonly sdp: string;
  /** The rtpengine instance holding this call (its configured name), for the log line. */
  readonly instance: string;
}

export interface MediaInstanceState {
  readonly name: string;
  readonly up: boolean;
}

export interface MediaAnchor {
  /** `offer`: the SDP of INVITE/re-INVITE/UPDATE (or an offerless INVITE's 2xx). Rejects with MediaError. */
  offer(r: MediaRequest): Promise<MediaResult>;
  /** `answer`: the SDP of an 18x/2xx (or of the ACK answering a 2xx offer). Rejects with MediaError. */
  answer(r: MediaRequest & { readonly toTag: string }): Promise<MediaResult>;
  /** `delete` of the whole call (BYE, CANCEL, a failed INVITE). Never rejects: rtpengine's own timeouts reap what it misses. */
  delete(callId: string, fromTag?: string): Promise<void>;
  /** At least one instance answers its `ping`: new anchored calls can be taken. */
  available(): boolean;
  instances(): readonly MediaInstanceState[];
  close(): Promise<void>;
}

export const MEDIA_ERRORS = {
  SIPS_ERR_MEDIA_UNAVAILABLE: { status: 503, reason: 'Service Unavailable', meaning: 'the call needs media anchoring (`media: anchor`) and no rtpengine instance answered (all failed their `ping`, or the command timed out after its retransmissions); never forwarded with clear media; Retry-After' },
  SIPS_ERR_MEDIA_REFUSED: { status: 488, reason: 'Not Acceptable Here', meaning: 'rtpengine refused to anchor the SDP (its `error-reason` is the detail), e.g. no usable media line' },
} as const satisfies ErrorSection;

export type MediaErrorCode = keyof typeof MEDIA_ERRORS;

export class MediaError extends SipsError {
  constructor(readonly mediaCode: MediaErrorCode, message: string, options?: { cause?: unknown }) {
    super(mediaCode, message, options);
  }
}
