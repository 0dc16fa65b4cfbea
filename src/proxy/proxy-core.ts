import { buildResponse } from '../message/build-response.js';
import { hostPort } from '../message/host-port.js';
import type { SipMessage } from '../message/message.js';
import { SipParseError } from '../message/parse-error.js';
import type { Uri } from '../message/uri.js';
import type { ServerTransaction } from '../transaction/server-transaction.js';
import type { PeerAddress } from '../transaction/types.js';
import { statelessBranch } from './branch.js';
import { proxyReject, REPLY_ERRORS, warningFor, type ReplyCode } from './error-responses.js';
import { ForwardContext, type SettledListener } from './forward-context.js';
import type { ProxyDeps } from './deps.js';
import { preprocessRoute } from './preprocess-route.js';
import { routeUriOf, type RouteHints } from './record-route.js';
import { judgeStrayResponse, mayReach } from './relay-guard.js';
import { anchorableSdp, gateLeg, mediaRequest, requestSdpRole, rewrite, type AnchoredMedia } from './media-anchoring.js';
import type { ForwardDecision, MediaPlan, RejectDecision, Side } from './types.js';
import { validateRequest } from './validate-request.js';
import { viaValue } from './via.js';

const NO_HEADERS: readonly (readonly [string, string])[] = [];

export const ALLOW = 'INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, UPDATE, PRACK, REFER, NOTIFY, SUBSCRIBE, MESSAGE';

/**
 * A transaction-stateful RFC 3261 §16 proxy. Entry points are the transaction layer's callbacks:
 * `onRequest` (every new server transaction), `onAck` and `onStrayResponse`.
 */
export class ProxyCore implements SettledListener {
  private readonly contexts = new Map<ServerTransaction, ForwardContext>();
  /** Requests forwarded and not yet answered upstream: the load measure for overload 503s. */
  private readonly pending = new Map<ForwardContext, string | undefined>();
  /**
   * Initial INVITEs counted by trunk or inside peer from admission on: those in `pending` (whose
   * value names the trunk) and those whose offer is still with rtpengine (no context yet).
   */
  private readonly pendingByTrunk = new Map<string, number>();
  /** Requests whose SDP is with rtpengine (no context yet): they count toward maxPendingRequests too. */
  private anchoring = 0;
  private draining = false;

  constructor(private readonly deps: ProxyDeps) {}

  get identity() {
    return this.deps.identity;
  }

  /** SIGTERM: new INVITEs get 503 with Retry-After; in-dialog requests still pass. */
  startDrain(): void {
    this.draining = true;
  }

  get activeContexts(): number {
    return this.contexts.size;
  }

  /** Requests in progress for limits.maxPendingRequests: forwarded and unanswered, or waiting on rtpengine. */
  get inProgress(): number {
    return this.pending.size + this.anchoring;
  }

  /** Initial INVITEs in progress for one trunk or inside peer (limits.maxPendingPerTrunk counts these). */
  pendingFor(trunk: string): number {
    return this.pendingByTrunk.get(trunk) ?? 0;
  }

  onRequest(request: SipMessage, tx: ServerTransaction): void {
    this.handle(request, tx).catch((e: unknown) => {
      if (tx.lastStatus >= 200) return;
      // A header the proxy read only now (lazy parsing: Route, Contact, a Via parameter...) that
      // does not parse is bad input: 400 with the parse code, never a 500 (RFC 3261 §16.3 step 1).
      if (e instanceof SipParseError) return this.reply(tx, 'SIPS_ERR_PROXY_BAD_REQUEST', `${e.code}: ${e.message}`);
      // A bug, not bad input: answer 500 so the caller is not left hanging, and report it through
      // the local-reply seam. Never rethrown: one bad request must not end the process.
      this.reply(tx, 'SIPS_ERR_PROXY_BAD_REQUEST', `internal error: ${e instanceof Error ? e.message : String(e)}`, NO_HEADERS, 500);
    });
  }

  private async handle(request: SipMessage, tx: ServerTransaction): Promise<void> {
    const source = tx.source;
    const leg = this.deps.identity.legOf(source);
    if (leg === undefined) return this.reply(tx, 'SIPS_ERR_PROXY_FORBIDDEN', 'arrived on an unknown listener');
    const refused = this.deps.router.admit(source, leg.side);
    if (refused !== null) return this.rejectDecision(tx, refused);
    if (request.method === 'CANCEL') return this.handleCancel(request, tx);

    const v = validateOrReply(this, request, tx);
    if (v === null) return;
    if (v.toSelf) {
      tx.respond(buildResponse(request, 200, { headers: [['Allow', ALLOW], ['Accept', 'application/sdp'], ['Supported', 'path, outbound'], ['Server', this.deps.agent]] }));
      return;
    }
    const isInvite = request.method === 'INVITE';
    // §16.2 / §17.2.1: the edge's own 100 Trying, never forwarded; held back timers.trying (when a
    // response is sent before, the 100 is not needed and not sent).
    if (isInvite) tx.trying();

    const pre = preprocessRoute(request, this.deps.identity);
    // Issue 11: an entry naming the edge with `se` steers it only when the edge signed it.
    if (pre.forged) return this.reply(tx, 'SIPS_ERR_PROXY_ROUTE_FORGED', 'Route names the edge without a valid signature');
    const inDialog = request.to().tag !== null;
    if (isInvite && !inDialog) {
      if (this.draining) return this.reply(tx, 'SIPS_ERR_PROXY_DRAINING', 'edge is draining');
      // Overload ends in 503s, never in a dead process: too many calls in progress (CPU or
      // upstream latency), or too much transaction state held for RFC 6026's 32 s (memory).
      if (this.inProgress >= this.deps.maxPendingRequests) {
        return this.reply(tx, 'SIPS_ERR_PROXY_OVERLOAD', 'too many requests in progress');
      }
      if (this.deps.transactions.activeServerTransactions > this.deps.maxTransactions) {
        return this.reply(tx, 'SIPS_ERR_PROXY_OVERLOAD', 'too many transactions');
      }
    }

    let decision: ForwardDecision | RejectDecision;
    let recordRoute: boolean;
    let inHints: RouteHints = {};
    if (inDialog) {
      if (pre.own.length === 0) return this.reply(tx, 'SIPS_ERR_PROXY_NOT_HERE', 'in-dialog request without a Route to this edge');
      // Only the hints of the entries facing the exit side: the outside entry's flow (f=) must not
      // steer a request that leaves by the inside leg back onto the vendor's connection.
      const exitSide = pre.own[pre.own.length - 1]!.side;
      // Every dialog crosses the edge (inside <-> outside): entries replayed in another order
      // must not turn it into a relay back into the side the request came from.
      if (exitSide === leg.side) return this.reply(tx, 'SIPS_ERR_PROXY_ROUTE_FORGED', 'edge Route leads back to the side the request came from');
      decision = await this.inDialogDecision(pre.request, exitSide, mergeHints(pre.own.filter((o) => o.side === exitSide)));
      recordRoute = false;
    } else {
      // An initial request is routed by trunk/peer routing; edge entries it carries were popped.
      // A foreign Route set from an inside peer would have the trunk relay it (routing.foreignRoutes).
      if (leg.side === 'inside' && pre.request.values('route').length > 0) {
        const policy = this.deps.foreignRoutes ?? 'strip';
        if (policy === 'refuse') return this.reply(tx, 'SIPS_ERR_PROXY_FOREIGN_ROUTE', 'initial request with a Route set from an inside peer');
        if (policy === 'strip') pre.request.remove('route');
      }
      decision = await this.deps.router.routeInitial(pre.request, source, leg.side);
      recordRoute = true;
      if (leg.side === 'outside' && source.flowId !== undefined) inHints = { flowId: source.flowId };
      if (leg.side === 'inside' && decision.kind === 'forward' && decision.peer !== undefined) inHints = { peer: decision.peer };
    }
    if (decision.kind === 'reject') return this.rejectDecision(tx, decision);
    if (tx.state === 'Terminated' || tx.lastStatus >= 200) return;

    // Issue 11 item 8: one trunk (or peer) whose calls are never answered fills its own share of
    // `pending`, never the global limit another trunk's calls need.
    const trunk = isInvite && !inDialog ? decision.trunk ?? decision.peer : undefined;
    if (trunk !== undefined && (this.pendingByTrunk.get(trunk) ?? 0) >= (this.deps.maxPendingPerTrunk ?? Infinity)) {
      this.deps.observer.admissionRefused?.({ side: leg.side, source: leg.side === 'outside' ? 'vendor' : 'peer', reason: 'trunk-pending', response: 'sent' });
      return this.reply(tx, 'SIPS_ERR_PROXY_TRUNK_OVERLOAD', `too many requests in progress for ${trunk}`);
    }

    // Counted from here, not only once a context exists: an INVITE whose offer waits on a slow
    // rtpengine holds its trunk's share too. The context takes the count over (settle gives it back).
    if (trunk !== undefined) this.pendingByTrunk.set(trunk, (this.pendingByTrunk.get(trunk) ?? 0) + 1);
    let handedOver = false;
    try {
      // Without rtpengine configured nothing is anchored: no peer lookup per request.
      const insidePeer = this.deps.media == null ? undefined : leg.side === 'inside' ? this.deps.router.insidePeerOf(source) : decision.peer;
      const plan = this.deps.media == null ? null : this.deps.router.mediaPlan(insidePeer, decision.trunk);
      let media: AnchoredMedia | undefined;
      if (plan === null) {
        // S-MEDIA-1: an SDP offer (or answer in ACK/PRACK/UPDATE) must be SRTP where the leg requires it.
        const gate = this.deps.sdpGate;
        if (gate !== null && request.body.length > 0) {
          const r = gate.checkRequest(pre.request, { fromSide: leg.side, toSide: decision.exitSide, srtpRequired: decision.srtpRequired || this.deps.router.srtpRequiredFor(leg.side, inHints.peer) });
          this.deps.observer.sdpChecked?.({ direction: 'request', ok: r.ok, reason: r.ok ? null : r.reason, audit: r.ok ? false : r.audit });
          if (!r.ok && !r.audit) return this.reply(tx, 'SIPS_ERR_PROXY_SRTP_REQUIRED', `${r.code}: ${r.message}`);
        }
      } else {
        let m: AnchoredMedia | null;
        this.anchoring++;
        try {
          m = await this.anchorRequest(pre.request, tx, leg.side, decision.exitSide, plan, insidePeer, isInvite && !inDialog);
        } finally {
          this.anchoring--;
        }
        if (m === null) return;
        media = m;
      }

      const ctx = new ForwardContext(this.deps, tx, pre.request, decision, { inLeg: leg, recordRoute, inHints, peer: hostPort(source), ...(media !== undefined ? { media } : {}) });
      this.contexts.set(tx, ctx);
      this.pending.set(ctx, trunk);
      handedOver = true;
      // Once the final response went upstream the context is only needed by its INVITE client
      // transactions (2xx retransmissions, RFC 6026), which hold it themselves.
      ctx.settledBy = this;
      ctx.start();
      // The dialog ends: rtpengine's session goes (never awaited; a BYE is answered whatever rtpengine does).
      if (media !== undefined && request.method === 'BYE') void media.anchor.delete(media.callId);
    } finally {
      // Refused, answered (a CANCEL) while rtpengine worked, rtpengine failed: no context took it over.
      if (!handedOver && trunk !== undefined) this.release(trunk);
    }
  }

  /**
   * Issue 14: the SDP of a request on an anchored call, through rtpengine. What arrives is judged by
   * the leg it came from, what rtpengine wrote by the leg it goes to. Null: the request was answered.
   */
  private async anchorRequest(request: SipMessage, tx: ServerTransaction, from: Side, to: Side, plan: MediaPlan, peer: string | undefined, initialInvite: boolean): Promise<AnchoredMedia | null> {
    const anchor = this.deps.media!;
    const required = { outside: true, inside: this.deps.router.srtpRequiredFor('inside', peer) };
    const base = { anchor, plan, callId: request.callId(), required, offer: null, receivedOffer: null, instance: null };
    const role = requestSdpRole(request.method);
    if (role === null || request.body.length === 0) return base;
    if (!this.gateLegOk(tx, request, required[from], from, to)) return null;
    let sdp: string | null;
    try {
      sdp = anchorableSdp(request);
    } catch (e) {
      this.reply(tx, 'SIPS_ERR_MEDIA_REFUSED', (e as Error).message);
      return null;
    }
    // Not SDP (ISUP, DTMF relay): passes unchanged, judged for the leg it goes to.
    if (sdp === null) return this.gateLegOk(tx, request, required[to], from, to) ? base : null;
    const received = role === 'offer' ? request.clone() : null; // the clone keeps the received body
    const r = mediaRequest(request, sdp, plan, from, to, role === 'offer');
    const out = await rewrite(anchor, request, r, role);
    if (!out.ok) {
      this.reply(tx, out.code, out.detail);
      return null;
    }
    const done = (): null => {
      if (initialInvite) void anchor.delete(r.callId);
      return null;
    };
    // Answered while rtpengine worked (a CANCEL): the session it opened goes again.
    if (tx.state === 'Terminated' || tx.lastStatus >= 200) return done();
    if (!this.gateLegOk(tx, request, required[to], from, to)) return done();
    return { ...base, offer: role === 'offer' ? r : null, receivedOffer: received, instance: out.result?.instance ?? null };
  }

  private gateLegOk(tx: ServerTransaction, m: SipMessage, required: boolean, from: Side, to: Side): boolean {
    const fail = gateLeg(this.deps.sdpGate, m, null, required, from, to);
    if (required && m.body.length > 0 && this.deps.sdpGate !== null) {
      this.deps.observer.sdpChecked?.({ direction: 'request', ok: fail === null, reason: fail?.reason ?? null, audit: fail?.audit ?? false });
    }
    if (fail === null || fail.audit) return true;
    this.reply(tx, 'SIPS_ERR_PROXY_SRTP_REQUIRED', `${fail.code}: ${fail.message}`);
    return false;
  }

  /** A stream connection closed: branches still waiting for a response over it fail now. */
  onFlowClosed(transport: 'tcp' | 'tls', address: string, port: number, flowId: string): void {
    for (const ctx of this.pending.keys()) ctx.onFlowClosed(transport, address, port, flowId);
  }

  /** SettledListener: the context's final response went upstream. */
  contextSettled(ctx: ForwardContext, tx: ServerTransaction): void {
    this.settle(ctx);
    this.contexts.delete(tx);
  }

  onServerTxTerminated(tx: ServerTransaction): void {
    const ctx = this.contexts.get(tx);
    if (ctx !== undefined) this.settle(ctx);
    this.contexts.delete(tx);
  }

  private settle(ctx: ForwardContext): void {
    const trunk = this.pending.get(ctx);
    if (this.pending.delete(ctx) && trunk !== undefined) this.release(trunk);
  }

  private release(trunk: string): void {
    const n = (this.pendingByTrunk.get(trunk) ?? 1) - 1;
    if (n <= 0) this.pendingByTrunk.delete(trunk);
    else this.pendingByTrunk.set(trunk, n);
  }

  /** The decision for an in-dialog request: one hop, taken from the remaining Route set or the Request-URI. */
  private async inDialogDecision(request: SipMessage, exitSide: Side, hints: RouteHints): Promise<ForwardDecision | RejectDecision> {
    const top = request.values('route')[0];
    const nextHop: Uri | null = top !== undefined ? routeUriOf(top) : request.requestUri();
    if (nextHop === null) return proxyReject('SIPS_ERR_PROXY_BAD_REQUEST', 'Bad Route');
    const dest = await this.deps.router.resolveNextHop(nextHop, exitSide, hints);
    if ('kind' in dest) return dest;
    if (!mayReach(this.deps, exitSide, dest)) return proxyReject('SIPS_ERR_PROXY_UNKNOWN_NEXT_HOP');
    return {
      kind: 'forward',
      exitSide,
      targets: [{ ...dest, label: dest.servername ?? dest.address, requestUri: request.requestUri() }],
      failover: 0,
      via: 'dialog',
      srtpRequired: exitSide === 'outside' || this.deps.router.srtpRequiredFor(exitSide, hints.peer),
      ...(hints.peer !== undefined ? { peer: hints.peer } : {}),
    };
  }

  /** §16.10: answer the CANCEL, then cancel the INVITE's pending branches. */
  private handleCancel(cancel: SipMessage, tx: ServerTransaction): void {
    const invite = this.deps.transactions.findInviteFor(cancel, tx.source);
    if (invite === null) return this.reply(tx, 'SIPS_ERR_PROXY_NO_TRANSACTION', 'no INVITE transaction to cancel');
    // §16.10: a matching response context gets 200 at once, even when its final was already sent
    // (then the context is settled and there is nothing left to cancel).
    tx.respond(buildResponse(cancel, 200));
    const ctx = this.contexts.get(invite);
    if (ctx !== undefined) ctx.cancel();
    // Still routing (no branch yet): nothing to cancel downstream, the INVITE ends here.
    else if (invite.state !== 'Terminated' && invite.lastStatus < 200) this.reply(invite, 'SIPS_ERR_PROXY_TIMEOUT', 'request cancelled', NO_HEADERS, 487);
  }

  /**
   * ACK for a 2xx (and any ACK that matched no INVITE server transaction in a non-2xx state):
   * forwarded statelessly along its Route set (§16.11). ACKs for non-2xx are absorbed by the
   * transaction layer and never reach here.
   */
  onAck(ack: SipMessage, source: PeerAddress): void {
    this.forwardAck(ack, source).catch(() => undefined);
  }

  private async forwardAck(ack: SipMessage, source: PeerAddress): Promise<void> {
    const leg = this.deps.identity.legOf(source);
    if (leg === undefined || this.deps.router.admit(source, leg.side) !== null) return;
    let pre;
    try {
      pre = preprocessRoute(ack, this.deps.identity);
    } catch (e) {
      if (e instanceof SipParseError) return;
      throw e;
    }
    if (pre.forged) return this.dropped('ACK', 'ack-route-forged');
    if (pre.own.length === 0) return; // not routed through us: drop (§16.4 would loop it back)
    const exitSide = pre.own[pre.own.length - 1]!.side; // as in handle(): only the exit side's hints (no f= flow on an inside exit)
    if (exitSide === leg.side) return this.dropped('ACK', 'ack-route-forged');
    const decision = await this.inDialogDecision(pre.request, exitSide, mergeHints(pre.own.filter((o) => o.side === exitSide)));
    if (decision.kind === 'reject') return this.dropped('ACK', decision.code === 'SIPS_ERR_PROXY_UNKNOWN_NEXT_HOP' ? 'ack-unknown-next-hop' : 'ack-unroutable');
    const target = decision.targets[0]!;
    const out = pre.request;
    const mf = out.maxForwards();
    if (mf === 0) return;
    out.set('max-forwards', String(mf === undefined ? 70 : mf - 1));
    const exitLeg = this.deps.identity.exitLeg(decision.exitSide, target.transport);
    out.prepend('via', viaValue(exitLeg, statelessBranch(ack)));
    const media = this.deps.media;
    const plan = media == null || out.body.length === 0 ? null : this.deps.router.mediaPlan(leg.side === 'inside' ? this.deps.router.insidePeerOf(source) : decision.peer, undefined);
    if (media != null && plan !== null) {
      // Issue 14: the ACK answers a late offer made in the 2xx, whose offerer's tag is the To tag.
      let sdp: string | null = null;
      try {
        sdp = anchorableSdp(out);
      } catch {
        sdp = null;
      }
      if (sdp !== null) {
        const r = await rewrite(media, out, mediaRequest(out, sdp, plan, leg.side, decision.exitSide, false), 'answer');
        // An ACK cannot be refused: it goes on without the answer rtpengine could not take.
        if (!r.ok) {
          out.setBody(Buffer.alloc(0));
          this.dropped('ACK SDP', r.code);
        }
      }
    }
    const gate = this.deps.sdpGate;
    if (gate !== null && out.body.length > 0) {
      const r = gate.checkRequest(out, { fromSide: leg.side, toSide: decision.exitSide, srtpRequired: decision.srtpRequired });
      this.deps.observer.sdpChecked?.({ direction: 'request', ok: r.ok, reason: r.ok ? null : r.reason, audit: r.ok ? false : r.audit });
    }
    await this.deps.sendStateless(out.serialize(), exitLeg.transport === 'udp' ? { ...target, localPort: exitLeg.port } : target);
  }

  /**
   * A response no client transaction matched. Only a 2xx to INVITE for a dialog the edge set up,
   * from a source it accepts requests from, is forwarded statelessly (§16.7 step 5, RFC 6026),
   * and never over a new connection (relay-guard.ts). Everything else is counted and dropped.
   */
  onStrayResponse(response: SipMessage, source: PeerAddress): void {
    const v = judgeStrayResponse(response, source, this.deps);
    if ('drop' in v) return this.dropped(`stray ${response.status} response from ${hostPort(source)}`, v.drop);
    this.deps.sendStateless(v.out.serialize(), v.dest).catch(() => undefined);
  }

  private dropped(what: string, reason: string): void {
    this.deps.observer.dropped?.({ what, reason });
  }

  /**
   * Answers `tx` itself with the status and reason phrase of `code` (error-responses.ts) and its
   * Warning; a 503 carries Retry-After limits.retryAfterSeconds (RFC 3261 §21.5.4). `status`
   * overrides the code's only for the statuses its row lists under `also` (500, 487).
   */
  reply(tx: ServerTransaction, code: ReplyCode, detail: string, headers: readonly (readonly [string, string])[] = NO_HEADERS, status: number = REPLY_ERRORS[code].status): void {
    const req = tx.request;
    const warning: [string, string] = ['Warning', warningFor(this.deps, this.deps.identity.legOf(tx.source)?.side, code, detail)];
    const server: [string, string] = ['Server', this.deps.agent];
    tx.respond(buildResponse(req, status, {
      ...(REPLY_ERRORS[code].status === status ? { reason: REPLY_ERRORS[code].reason } : {}),
      headers: status === 503 ? [['Retry-After', String(this.deps.retryAfterSeconds)], ...headers, warning, server] : [...headers, warning, server],
    }));
    this.deps.observer.localReply?.({ method: req.method, status, code, detail, peer: hostPort(tx.source) });
  }

  private rejectDecision(tx: ServerTransaction, d: RejectDecision): void {
    if (d.silent) {
      tx.terminate();
      this.deps.observer.localReply?.({ method: tx.request.method, status: 0, code: d.code, detail: 'dropped', peer: hostPort(tx.source) });
      return;
    }
    const req = tx.request;
    tx.respond(buildResponse(req, d.status, {
      ...(d.reason !== undefined ? { reason: d.reason } : {}),
      headers: [...(d.headers ?? []), ['Warning', warningFor(this.deps, this.deps.identity.legOf(tx.source)?.side, d.code, d.reason ?? String(d.status))], ['Server', this.deps.agent]],
    }));
    this.deps.observer.localReply?.({ method: req.method, status: d.status, code: d.code, detail: d.reason ?? '', peer: hostPort(tx.source) });
  }
}

function validateOrReply(core: ProxyCore, request: SipMessage, tx: ServerTransaction) {
  const v = validateRequest(request, core.identity);
  if (v.ok) return v;
  core.reply(tx, v.code, v.detail, v.headers);
  return null;
}

function mergeHints(own: readonly { hints: RouteHints }[]): RouteHints {
  return Object.assign({}, ...own.map((o) => o.hints)) as RouteHints;
}

