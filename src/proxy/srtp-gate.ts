import type { SipMessage } from '../message/message.js';
import { judgeBody } from '../sdp/extract-sdp.js';
import { checkAnswer, checkOffer, type SrtpPolicy } from '../sdp/srtp-policy.js';
import type { SdpVerdict } from '../sdp/verdict.js';
import type { SdpContext, SdpGate, SdpGateResult } from './types.js';

/**
 * The methods whose bodies (and whose responses' bodies) negotiate media (RFC 3264, RFC 6337 §2):
 * a NOTIFY's dialog-info or a MESSAGE's text never opens a media stream, so it is not judged.
 */
const OFFER_ANSWER_METHODS: ReadonlySet<string> = new Set(['INVITE', 'UPDATE', 'PRACK', 'ACK']);

/**
 * S-MEDIA-1 on the proxy's SDP seam. An SDP in INVITE/UPDATE is an offer; in a response it is the
 * answer to the request's offer, or an offer itself when the request had none (late offer,
 * RFC 3264); in ACK/PRACK it answers a late offer, which the stateless ACK path cannot see, so it is
 * held to the offer rules (at least one valid SRTP crypto line per active medium).
 */
export class SrtpGate implements SdpGate {
  constructor(private readonly policy: SrtpPolicy, private readonly mode: 'strict' | 'audit') {}

  checkRequest(request: SipMessage, ctx: SdpContext): SdpGateResult {
    if (!ctx.srtpRequired || !OFFER_ANSWER_METHODS.has(request.method)) return { ok: true };
    const sdp = sdpOf(request);
    if (sdp === null) return { ok: true };
    if (typeof sdp !== 'string') return this.fail(sdp.error);
    return this.result(checkOffer(sdp, this.policy));
  }

  checkResponse(response: SipMessage, request: SipMessage, ctx: SdpContext): SdpGateResult {
    if (!ctx.srtpRequired || !OFFER_ANSWER_METHODS.has(request.method)) return { ok: true };
    const answer = sdpOf(response);
    if (answer === null) return { ok: true };
    if (typeof answer !== 'string') return this.fail(answer.error);
    const offer = sdpOf(request);
    if (offer === null || typeof offer !== 'string') return this.result(checkOffer(answer, this.policy));
    return this.result(checkAnswer(offer, answer, this.policy));
  }

  checkBody(m: SipMessage, offer: SipMessage | null, ctx: SdpContext): SdpGateResult {
    if (!ctx.srtpRequired) return { ok: true };
    const sdp = sdpOf(m);
    if (sdp === null) return { ok: true };
    if (typeof sdp !== 'string') return this.fail(sdp.error);
    const o = offer === null ? null : sdpOf(offer);
    if (o === null || typeof o !== 'string') return this.result(checkOffer(sdp, this.policy));
    return this.result(checkAnswer(o, sdp, this.policy));
  }

  private result(v: SdpVerdict): SdpGateResult {
    return v.ok ? { ok: true } : this.fail(v);
  }

  private fail(v: { reason: string; code: string; message: string }): SdpGateResult {
    return { ok: false, reason: v.reason, code: v.code, message: v.message, audit: this.mode === 'audit' };
  }
}

/**
 * The SDP of a message toward (or from) an SRTP-required leg, judged by content as well as by label
 * (issue 11 item 12): a clear-RTP offer labelled text/plain, or with no Content-Type, is still an
 * offer; an encoded or unknown body is refused (encoded-body / unknown-body), never passed unseen.
 */
function sdpOf(m: SipMessage): string | null | { readonly error: { reason: string; code: string; message: string } } {
  if (m.body.length === 0) return null;
  return judgeBody(m.body, { contentType: m.get('content-type'), contentEncoding: m.get('content-encoding'), contentTransferEncoding: m.get('content-transfer-encoding') });
}
