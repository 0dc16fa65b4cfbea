import type { SipMessage } from '../message/message.js';
import type { ProxyDeps } from './deps.js';
import { REPLY_ERRORS, type ReplyCode } from './error-responses.js';
import { anchorableSdp, gateLeg, mediaRequest, rewrite, type AnchoredMedia } from './media-anchoring.js';
import { refuseAnswer } from './refuse-answer.js';
import type { Side, Target } from './types.js';
import { withoutTopVia } from './via.js';

/** What the anchored path reads of a branch of its ForwardContext, and the ACK it may leave there. */
export interface AnchoredBranch {
  readonly done: boolean;
  readonly abandoned: boolean;
  readonly request: SipMessage | null;
  readonly target: Target | null;
  /** The ACK the edge sent for a 2xx it refused, sent again for each retransmission. */
  ack: Buffer | null;
}

/** What the anchored path asks of its ForwardContext (forward-context.ts). */
export interface AnchoringContext<B extends AnchoredBranch> {
  /** The side responses come from (the exit side) and the side they go to (the request's). */
  readonly from: Side;
  readonly to: Side;
  /** The request as forwarded, its offer written by rtpengine; null once the final went upstream. */
  forwarded(): SipMessage | null;
  finalSent(): boolean;
  /** §16.7 for a response whose SDP was judged and rewritten here. */
  handleResponse(b: B, response: SipMessage): void;
  /** The S-MEDIA-1 gate on a response for one leg; false: refused (provisional dropped, 2xx ACKed, BYEd, 488 sent). */
  checkResponseSdp(res: SipMessage, b: B, required: boolean, offer: SipMessage | null): boolean;
  /** The branch's 2xx was refused: the branch ends (a provisional: nothing to do). */
  refused(b: B, status: number): null;
  /** The edge's own final response toward the caller. */
  sendLocal(code: ReplyCode, detail: string): void;
}

/** Why a failover re-offer found no rtpengine: the caller's answer. */
export interface ReofferFailure {
  readonly code: 'SIPS_ERR_MEDIA_UNAVAILABLE';
  readonly detail: string;
}

/**
 * Issue 14: the responses of a request anchored through rtpengine (rules: media-anchoring.ts).
 * Each response with SDP is judged for the leg it came from, rewritten by rtpengine for the leg it
 * goes to, judged again for that leg, and only then handed to §16.7, in the order it came. Also
 * the offer made again on failover, and the end of rtpengine's session when the call did not come about.
 */
export class AnchoredResponses<B extends AnchoredBranch> {
  /** Responses wait their turn behind the one rtpengine is rewriting (order is kept). */
  private queue: Promise<void> | null = null;
  /** The SDP rtpengine wrote into a branch's 2xx, put into its retransmissions too. */
  private readonly answers = new Map<B, Buffer>();

  constructor(private readonly deps: ProxyDeps, private readonly media: AnchoredMedia, private readonly ctx: AnchoringContext<B>) {}

  /** The rtpengine instance that took the call (for the transaction log line). */
  get instance(): string | null {
    return this.media.instance;
  }

  /** Whether a response goes through rtpengine (it has SDP, or waits behind one that has); else it is handled as it is. */
  takes(response: SipMessage): boolean {
    return this.queue !== null || (response.body.length > 0 && response.status !== 100);
  }

  /** Anchors the response's SDP, then hands it to §16.7. */
  receive(b: B, response: SipMessage): void {
    const queued = (this.queue ?? Promise.resolve())
      .then(() => this.anchorResponse(b, response))
      .then((r) => { if (r !== null) this.ctx.handleResponse(b, r); })
      .catch((e: unknown) => this.deps.observer.dropped?.({ what: `${response.status} response`, reason: `internal error anchoring media: ${e instanceof Error ? e.message : String(e)}` }));
    this.queue = queued;
    void queued.then(() => { if (this.queue === queued) this.queue = null; });
  }

  /**
   * Failover: the INVITE's offer goes to rtpengine again before the next host gets it (that host
   * answers a fresh offer, and a session rtpengine lost meanwhile is set up again). Null: the
   * request had no offer. Resolves once the forwarded request carries the new SDP, or with why not.
   */
  reoffer(): Promise<ReofferFailure | null> | null {
    const media = this.media;
    if (media.offer === null) return null;
    return media.anchor.offer(media.offer).then((r) => {
      media.instance = r.instance;
      this.ctx.forwarded()?.setBody(Buffer.from(r.sdp, 'utf8'), 'application/sdp');
      return null;
    }, (e: unknown) => ({ code: 'SIPS_ERR_MEDIA_UNAVAILABLE', detail: e instanceof Error ? e.message : String(e) }));
  }

  /** The final went upstream: a call that did not come about (CANCEL, 4xx-6xx, Timer B/C, refused 2xx) ends rtpengine's session. */
  settled(request: SipMessage, status: number): void {
    if (status >= 300 && request.method === 'INVITE' && request.to().tag === null) void this.media.anchor.delete(this.media.callId);
  }

  /**
   * A response's SDP. What comes from the exit side is judged for that leg (from the vendor: SRTP,
   * S-MEDIA-1), rtpengine rewrites it for the leg it goes to, and what it wrote is judged for that
   * leg. A 2xx rtpengine cannot take is ACKed and BYEd like a 2xx with clear media; a provisional
   * goes on without its SDP. Null: handled here.
   */
  private async anchorResponse(b: B, response: SipMessage): Promise<SipMessage | null> {
    const media = this.media;
    const status = response.status;
    if (b.abandoned || status === 100 || status >= 300 || response.body.length === 0) return response;
    if (b.done) {
      // A 2xx retransmission (also after the final went upstream): the SDP rtpengine wrote for the first copy.
      const answer = this.answers.get(b);
      if (answer === undefined) return response;
      const again = response.clone();
      again.setBody(answer, 'application/sdp');
      return again;
    }
    const forwarded = this.ctx.forwarded();
    if (forwarded === null) return response; // after the final: nothing more goes upstream
    const { from, to } = this.ctx;
    // The exit side's leg: what it sent answers the offer the edge sent it.
    if (!this.ctx.checkResponseSdp(response, b, media.required[from], forwarded)) return this.ctx.refused(b, status);
    let sdp: string | null;
    try {
      sdp = anchorableSdp(response);
    } catch (e) {
      return this.failed(b, response, 'SIPS_ERR_MEDIA_REFUSED', (e as Error).message);
    }
    if (sdp !== null) {
      // An answer to the request's offer, or (offerless INVITE) the callee's offer.
      const isAnswer = media.offer !== null || media.receivedOffer !== null;
      const out = response.clone();
      const r = await rewrite(media.anchor, out, mediaRequest(out, sdp, media.plan, from, to, isAnswer), isAnswer ? 'answer' : 'offer');
      if (!r.ok) return this.failed(b, response, r.code, r.detail);
      if (r.result !== null) media.instance = r.result.instance;
      if (this.ctx.finalSent() || b.abandoned) return out;
      const fail = gateLeg(this.deps.sdpGate, out, media.receivedOffer, media.required[to], from, to);
      if (fail !== null && !fail.audit) return this.failed(b, response, 'SIPS_ERR_PROXY_SRTP_REQUIRED', `${fail.code}: ${fail.message}`);
      if (status >= 200) this.answers.set(b, out.body);
      return out;
    }
    // Not SDP: judged for the leg it goes to, as without anchoring.
    return this.ctx.checkResponseSdp(response, b, media.required[to], null) ? response : this.ctx.refused(b, status);
  }

  /** A response whose SDP cannot go on: a provisional loses its SDP, a 2xx is ACKed and BYEd and the caller gets `code`. */
  private failed(b: B, response: SipMessage, code: ReplyCode, detail: string): SipMessage | null {
    if (response.status < 200) {
      this.deps.observer.dropped?.({ what: `${response.status} SDP`, reason: `${code}: ${detail}` });
      const bare = response.clone();
      bare.setBody(Buffer.alloc(0));
      return bare;
    }
    const res = withoutTopVia(response);
    if (b.request !== null && b.target !== null) b.ack = refuseAnswer(this.deps, b.request, b.target, this.ctx.from, res, `${code}: ${detail}`, REPLY_ERRORS[code].status);
    this.ctx.sendLocal(code, detail);
    return this.ctx.refused(b, response.status);
  }
}
