import type { SipMessage } from '../message/message.js';
import type { Uri } from '../message/uri.js';
import type { Destination, Source } from '../transaction/types.js';

/** Which side of the edge a listener faces: outside = the vendor's TLS trunk, inside = PBXs and carriers. */
export type Side = 'inside' | 'outside';

/** One next hop of a target set, in the order to try (serial failover). */
export interface Target extends Destination {
  /** For logs, metrics and the report: the lb host or peer name. */
  readonly label: string;
  /** The Request-URI to send to this target (TGRP/DNIS put the lb host in the R-URI). */
  readonly requestUri: Uri;
}

export interface ForwardDecision {
  readonly kind: 'forward';
  /** Where the request leaves the edge. */
  readonly exitSide: Side;
  readonly targets: readonly Target[];
  /** How many further targets to try after a 503, 408 or transport failure (never after 2xx/6xx). */
  readonly failover: number;
  /** Trunk or peer name, for logs and metrics. */
  readonly via: string;
  readonly trunk?: string;
  readonly peer?: string;
  /** Headers to add (e.g. the Inbound SIP Termination Header). */
  readonly addHeaders?: readonly (readonly [string, string])[];
  /** Whether SDP on this exit leg must be SRTP (S-MEDIA-1; the vendor side always is). */
  readonly srtpRequired: boolean;
}

export interface RejectDecision {
  readonly kind: 'reject';
  readonly status: number;
  readonly reason?: string;
  /** Stable code for logs and the Warning header, e.g. SIPS_ERR_ROUTE_NO_TARGET. */
  readonly code: string;
  readonly headers?: readonly (readonly [string, string])[];
  /** UDP access-control refusals are dropped silently instead of answered. */
  readonly silent?: boolean;
}

export type RouteDecision = ForwardDecision | RejectDecision;

/** What the proxy asks of routing for a request that starts a dialog or stands alone (no To-tag). */
export interface Router {
  routeInitial(request: SipMessage, source: Source, side: Side): Promise<RouteDecision>;
  /**
   * Whether a source may send to this side at all (access control, checked before anything else
   * for every request including in-dialog ones).
   */
  admit(source: Source, side: Side): RejectDecision | null;
  /** Resolves a next hop taken from a Route header or Request-URI of an in-dialog request. */
  resolveNextHop(uri: Uri, exitSide: Side, hint: { targetName?: string; flowId?: string }): Promise<Destination | RejectDecision>;
  /** Whether the proxy should count the side's SDP as needing SRTP for in-dialog requests. */
  srtpRequiredFor(side: Side, peerOrTrunk: string | undefined): boolean;
}

/** The SDP seam (S-MEDIA-1): the SRTP gate plugs in here; it may later rewrite (media anchoring). */
export interface SdpGate {
  /** An SDP offer or answer carried in a request (INVITE, UPDATE, PRACK, ACK). */
  checkRequest(request: SipMessage, context: SdpContext): SdpGateResult;
  /** An SDP answer (or offer, for late offers) in an 18x/2xx response to `request`. */
  checkResponse(response: SipMessage, request: SipMessage, context: SdpContext): SdpGateResult;
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
