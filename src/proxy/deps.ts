import type { Clock } from '../clock.js';
import type { SipMessage } from '../message/message.js';
import type { ClientTransaction } from '../transaction/client-transaction.js';
import type { ServerTransaction } from '../transaction/server-transaction.js';
import type { ClientTransactionHandlers, PeerAddress, TimerConfig } from '../transaction/types.js';
import type { MediaAnchor } from '../media/types.js';
import type { WarningPolicy } from './error-responses.js';
import type { ProxyIdentity } from './identity.js';
import type { Router, SdpGate } from './types.js';
import type { AdmissionRefusedEvent, CallSetupEvent, DroppedEvent, LocalReplyEvent, SdpCheckedEvent, TargetOutcomeEvent, TransactionDoneEvent } from '../diagnostics.js';

/** What the proxy needs of the transaction layer. */
export interface ProxyTransactions {
  /** `branch`: the top Via's branch when the caller just wrote it (saves reading it back). */
  createClient(request: SipMessage, dest: PeerAddress, handlers: ClientTransactionHandlers, branch?: string): ClientTransaction;
  /** §9.2: the INVITE server transaction a CANCEL cancels. */
  findInviteFor(cancel: SipMessage, source: PeerAddress): ServerTransaction | null;
  /** Server transactions alive now (overload protection). */
  readonly activeServerTransactions: number;
  /**
   * The 2xx of `client` went out through `server` unedited: the transaction layer relays its
   * retransmissions itself from now on and the context is no longer needed (TransactionLayer.relay2xx).
   */
  relay2xx?(client: ClientTransaction, server: ServerTransaction): boolean;
}

/** What the proxy reports (event shapes: src/diagnostics.ts); observability turns these into logs and metrics. */
export interface ProxyObserver {
  /** One line per proxied transaction outcome. */
  transactionDone?(e: TransactionDoneEvent): void;
  /** A request the edge answered itself with an error (validation, routing, SRTP, overload). */
  localReply?(e: LocalReplyEvent): void;
  /** A target of a trunk failed or answered (for passive health and the lab report). */
  targetOutcome?(e: TargetOutcomeEvent): void;
  /** INVITE setup timing: first 18x and 2xx after the INVITE arrived. */
  callSetup?(e: CallSetupEvent): void;
  /** SDP gate results (S-MEDIA-1). */
  sdpChecked?(e: SdpCheckedEvent): void;
  /** A provisional dropped by the SDP gate, or other message intentionally not forwarded. */
  dropped?(e: DroppedEvent): void;
  /** A new request refused by admission (rate limit, per-trunk pending limit) and what it was answered with. */
  admissionRefused?(e: AdmissionRefusedEvent): void;
}

export interface ProxyDeps {
  readonly identity: ProxyIdentity;
  readonly router: Router;
  readonly transactions: ProxyTransactions;
  /** Stateless sends: ACK for 2xx, stray 2xx retransmissions (RFC 3261 §16.7, §16.11). */
  readonly sendStateless: (data: Buffer, dest: PeerAddress) => Promise<unknown>;
  readonly clock: Clock;
  /** `inviteFailover`: ms an INVITE branch may stay without any response before the next target is tried (0: off). */
  readonly timers: TimerConfig & { readonly inviteFailover?: number };
  readonly sdpGate: SdpGate | null;
  readonly observer: ProxyObserver;
  /** Past this many server transactions, new INVITEs get 503 (overload ends in 503s, never a dead process). */
  readonly maxTransactions: number;
  /** Past this many forwarded requests not yet answered, new INVITEs get 503 (CPU or upstream overload). */
  readonly maxPendingRequests: number;
  /** Past this many forwarded INVITEs not yet answered for one trunk or inside peer, its new INVITEs get 503. */
  readonly maxPendingPerTrunk?: number;
  /** Seconds for Retry-After on the edge's own 503s. */
  readonly retryAfterSeconds: number;
  /** Written into Warning headers and User-Agent/Server. */
  readonly agent: string;
  /** How much Warning detail each side gets (logging.warningDetail); default: full inside, code only outside. */
  readonly warningDetail?: WarningPolicy;
  /** An open TCP/TLS flow to this remote address (stateless response forwarding never connects). */
  readonly findFlow?: (transport: 'tcp' | 'tls', host: string, port: number) => string | undefined;
  /** The flow is still open. */
  readonly flowOpen?: (flowId: string) => boolean;
  /** Route headers of initial requests from inside peers toward the trunk (routing.foreignRoutes). */
  readonly foreignRoutes?: 'strip' | 'refuse' | 'pass';
  /** Issue 14: rtpengine for calls with `media: anchor`; null when none is configured. */
  readonly media?: MediaAnchor | null;
}
