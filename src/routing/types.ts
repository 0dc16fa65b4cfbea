/**
 * The routing decision shapes: what the router answers and the proxy acts on. They live here, with
 * the router that makes them, because routing sits below proxy in the layer map; proxy/types.ts
 * re-exports them.
 */
import type { SipMessage } from '../message/message.js';
import type { Uri } from '../message/uri.js';
import type { PeerAddress } from '../transaction/types.js';

/** Which side of the edge a listener faces: outside = the vendor's TLS trunk, inside = PBXs and carriers. */
export type { Side } from '../diagnostics.js';
import type { Side } from '../diagnostics.js';

/** One next hop of a target set, in the order to try (serial failover). */
export interface Target extends PeerAddress {
  /** For logs, metrics and the report: the lb host or peer name. */
  readonly label: string;
  /** The Request-URI to send to this target (TGRP/DNIS put the lb host in the R-URI). */
  readonly requestUri: Uri;
}

export interface ForwardDecision {
  readonly kind: 'forward';
  readonly exitSide: Side;
  readonly targets: readonly Target[];
  /** How many further targets to try after a 503, 408 or transport failure (never after 2xx/6xx). */
  readonly failover: number;
  /** Trunk or peer name, for logs and metrics. */
  readonly via: string;
  readonly trunk?: string;
  readonly peer?: string;
  readonly addHeaders?: readonly (readonly [string, string])[];
  /** Whether SDP on this exit leg must be SRTP (S-MEDIA-1; the vendor side always is). */
  readonly srtpRequired: boolean;
}

export interface RejectDecision {
  readonly kind: 'reject';
  readonly status: number;
  readonly reason?: string;
  readonly code: string;
  readonly headers?: readonly (readonly [string, string])[];
  /** UDP access-control refusals are dropped silently instead of answered. */
  readonly silent?: boolean;
}

export type RouteDecision = ForwardDecision | RejectDecision;

/** What the proxy asks of routing. */
export interface Router {
  /** A request that starts a dialog or stands alone (no To-tag). */
  routeInitial(request: SipMessage, source: PeerAddress, side: Side): Promise<RouteDecision>;
  /** Access control, checked before anything else for every request including in-dialog ones. */
  admit(source: PeerAddress, side: Side): RejectDecision | null;
  /** A next hop taken from a Route header or Request-URI of an in-dialog request. */
  resolveNextHop(uri: Uri, exitSide: Side, hint: { targetName?: string; flowId?: string }): Promise<PeerAddress | RejectDecision>;
  srtpRequiredFor(side: Side, peerOrTrunk: string | undefined): boolean;
  /**
   * Issue 14: whether a call with this inside peer (and trunk) is anchored through rtpengine, and
   * what its inside leg then speaks; null = passthrough. The vendor leg is always SRTP.
   */
  mediaPlan(peer: string | undefined, trunk: string | undefined): MediaPlan | null;
  /** The configured inside peer a source address belongs to (its `sources`, or its host). */
  insidePeerOf(source: PeerAddress): string | undefined;
}

/** An anchored call's inside leg: RTP/AVP without crypto, or SRTP (rtpengine generates the keys). */
export interface MediaPlan {
  readonly inside: 'rtp' | 'srtp';
}
