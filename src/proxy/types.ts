import type { SipMessage } from '../message/message.js';

// The routing decision shapes live with the router that makes them (routing sits below proxy).
export type { ForwardDecision, MediaPlan, RejectDecision, RouteDecision, Router, Side, Target } from '../routing/types.js';
import type { Side } from '../routing/types.js';

/** The SDP seam (S-MEDIA-1): the SRTP gate plugs in here; it may later rewrite (media anchoring). */
export interface SdpGate {
  /** An SDP offer or answer carried in a request (INVITE, UPDATE, PRACK, ACK). */
  checkRequest(request: SipMessage, context: SdpContext): SdpGateResult;
  /** An SDP answer (or offer, for late offers) in an 18x/2xx response to `request`. */
  checkResponse(response: SipMessage, request: SipMessage, context: SdpContext): SdpGateResult;
  /** The SDP of `m` (request or response) as the answer to `offer`'s SDP, or as an offer when `offer` is null or has none (anchored calls: one leg at a time). */
  checkBody(m: SipMessage, offer: SipMessage | null, context: SdpContext): SdpGateResult;
}

export interface SdpContext {
  /** The leg the message came from / goes to. */
  readonly fromSide: Side;
  readonly toSide: Side;
  readonly srtpRequired: boolean;
}

export type SdpGateResult =
  | { readonly ok: true; readonly rewritten?: SipMessage }
  | { readonly ok: false; readonly reason: string; readonly code: string; readonly message: string; readonly audit: boolean };
