import type { SipMessage } from '../message/message.js';
import { MediaError, type LegMedia, type MediaAnchor, type MediaErrorCode, type MediaRequest, type MediaResult } from '../media/types.js';
import { judgeBody } from '../sdp/extract-sdp.js';
import type { MediaPlan, SdpGate, Side } from './types.js';

/**
 * Issue 14: a call anchored through rtpengine. The edge keeps no media state: rtpengine holds it,
 * keyed by Call-ID and the tags. This module holds the rules the proxy applies at each SDP:
 *
 *   - what arrives is judged by the leg it came from (from the vendor: SRTP, S-MEDIA-1), what
 *     leaves by the leg it goes to, so clear media never reaches the vendor even when rtpengine
 *     writes the SDP;
 *   - the offerer's tag is rtpengine's `from-tag`: the From tag of a request's offer, the To tag of
 *     a late offer in a 2xx (and of the ACK/PRACK that answers it);
 *   - a body that is not one plain SDP (multipart) cannot be rewritten and is refused (488),
 *     a body that is not SDP at all (ISUP, DTMF relay) passes for the gate to judge.
 */

/** An anchored request's media, carried by its forwarding context. */
export interface AnchoredMedia {
  readonly anchor: MediaAnchor;
  readonly plan: MediaPlan;
  readonly callId: string;
  /** The legs' SRTP requirement for the gate: from the vendor always; inside as the peer says. */
  readonly required: Readonly<Record<Side, boolean>>;
  /** The offer as received and its rtpengine request, for a re-offer on failover; null: no SDP in the request. */
  readonly offer: MediaRequest | null;
  /** The received offer (before rtpengine), which the answer toward that side is checked against. */
  readonly receivedOffer: SipMessage | null;
  /** The rtpengine instance that took the call (for the transaction log line). */
  instance: string | null;
}

export type MediaOutcome = { readonly ok: true; readonly result: MediaResult | null } | { readonly ok: false; readonly code: MediaErrorCode; readonly detail: string };

/** The leg media of one side of an anchored call: the vendor is always SRTP. */
export function legMedia(plan: MediaPlan, side: Side): LegMedia {
  return side === 'outside' ? 'srtp' : plan.inside;
}

/** The SDP text of a message to anchor; null when its body is no SDP (it passes unchanged). */
export function anchorableSdp(m: SipMessage): string | null {
  if (m.body.length === 0) return null;
  const ct = (m.get('content-type') ?? '').toLowerCase();
  if (ct.startsWith('multipart/')) throw new MediaError('SIPS_ERR_MEDIA_REFUSED', 'a multipart body cannot be anchored: send the SDP alone');
  const sdp = judgeBody(m.body, { contentType: m.get('content-type'), contentEncoding: m.get('content-encoding'), contentTransferEncoding: m.get('content-transfer-encoding') });
  if (sdp === null) return null;
  if (typeof sdp !== 'string') throw new MediaError('SIPS_ERR_MEDIA_REFUSED', `${sdp.error.code}: ${sdp.error.message}`);
  return sdp;
}

/**
 * The rtpengine request for the SDP of `m`, sent from `from` to `to`. `offererIsFrom`: the
 * offerer's tag is in From (a request's offer, the answer in a response) or in To (a late offer
 * in a response, the ACK/PRACK answering it).
 */
export function mediaRequest(m: SipMessage, sdp: string, plan: MediaPlan, from: Side, to: Side, offererIsFrom: boolean): MediaRequest {
  const fromTag = m.from().tag ?? '';
  const toTag = m.to().tag ?? undefined;
  const offerer = offererIsFrom ? fromTag : (toTag ?? '');
  const answerer = offererIsFrom ? toTag : fromTag;
  return {
    callId: m.callId(),
    fromTag: offerer,
    ...(answerer !== undefined && answerer !== '' ? { toTag: answerer } : {}),
    sdp,
    from,
    to,
    toMedia: legMedia(plan, to),
  };
}

/** Runs one offer or answer and writes rtpengine's SDP into `m`; a MediaError becomes an outcome. */
export async function rewrite(anchor: MediaAnchor, m: SipMessage, r: MediaRequest, kind: 'offer' | 'answer'): Promise<MediaOutcome> {
  try {
    const result = kind === 'offer' || r.toTag === undefined ? await anchor.offer(r) : await anchor.answer({ ...r, toTag: r.toTag });
    m.setBody(Buffer.from(result.sdp, 'utf8'), 'application/sdp');
    return { ok: true, result };
  } catch (e) {
    if (e instanceof MediaError) return { ok: false, code: e.mediaCode, detail: e.message };
    return { ok: false, code: 'SIPS_ERR_MEDIA_UNAVAILABLE', detail: e instanceof Error ? e.message : String(e) };
  }
}

/** Whether an SDP in a request of this method is an offer (INVITE, UPDATE) or an answer (ACK, PRACK). */
export function requestSdpRole(method: string): 'offer' | 'answer' | null {
  if (method === 'INVITE' || method === 'UPDATE') return 'offer';
  if (method === 'ACK' || method === 'PRACK') return 'answer';
  return null;
}

/**
 * The gate on one leg of an anchored message: `null` when it passes (or the leg requires nothing),
 * else the SDP code and text. `offer` is the offer an answer must match (null: judged as an offer).
 */
export function gateLeg(gate: SdpGate | null, m: SipMessage, offer: SipMessage | null, required: boolean, from: Side, to: Side): { code: string; message: string; reason: string; audit: boolean } | null {
  if (gate === null || !required || m.body.length === 0) return null;
  const r = gate.checkBody(m, offer, { fromSide: from, toSide: to, srtpRequired: true });
  return r.ok ? null : { code: r.code, message: r.message, reason: r.reason, audit: r.audit };
}
