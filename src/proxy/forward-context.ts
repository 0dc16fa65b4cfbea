import type { TimerHandle, TimerTarget } from '../clock.js';
import { buildCancel } from '../message/build-request.js';
import { buildResponse } from '../message/build-response.js';
import type { SipMessage } from '../message/message.js';
import type { ClientTransaction } from '../transaction/client-transaction.js';
import type { ServerTransaction } from '../transaction/server-transaction.js';
import type { Destination, TransportFailure } from '../transaction/types.js';
import { loopHash, newBranch } from './branch.js';
import { PROXY_ERRORS, warningValue, type ProxyErrorCode } from './error-responses.js';
import type { Leg } from './identity.js';
import type { ProxyDeps } from './ports.js';
import { recordRouteValue, type RouteHints } from './record-route.js';
import { refuseAnswer } from './refuse-answer.js';
import { viaValue } from './via.js';
import type { ForwardDecision, SdpContext, Side, Target } from './types.js';

/** Methods whose initial requests create dialogs and so get Record-Route (RFC 3261 §16.6 step 4). */
const DIALOG_METHODS = new Set(['INVITE', 'SUBSCRIBE', 'REFER', 'NOTIFY']);

interface Branch {
  readonly label: string;
  /** Where this branch went; released (with the request) once the branch and the context are done. */
  target: Target | null;
  readonly tx: ClientTransaction;
  /** The request as sent to this target; released once the branch and the context are done. */
  request: SipMessage | null;
  provisional: boolean;
  done: boolean;
  cancelPending: boolean;
}

interface Candidate {
  readonly status: number;
  /** A response received from downstream, or null for the edge's own (timeout, transport error). */
  readonly response: SipMessage | null;
  readonly code: ProxyErrorCode | null;
  readonly detail: string;
}

export interface ForwardOptions {
  readonly inLeg: Leg;
  /** Record-route this request (initial dialog-creating requests only). */
  readonly recordRoute: boolean;
  /** Hints for the Record-Route entry facing the side the request came from. */
  readonly inHints: RouteHints;
  readonly peer: string;
}

/**
 * One proxied request (RFC 3261 §16.6–§16.10): serial forking over the decision's targets with
 * failover on 503/408/transport failure, best-response selection, Timer C and CANCEL.
 */
export class ForwardContext implements TimerTarget {
  private readonly branches: Branch[] = [];
  private next = 0;
  private attempts = 0;
  private best: Candidate | null = null;
  private finalSent = false;
  private canceled = false;
  private timerC: TimerHandle | null = null;
  private readonly startedAt: number;
  private readonly loop: string;
  private ringingSeen = false;
  readonly isInvite: boolean;
  /**
   * The request after Route preprocessing (§16.4), not yet edited for any target. Dropped once the
   * final response went upstream: an INVITE's context lives on for RFC 6026's 32 s (its client
   * transactions' handlers hold it) only to pass 2xx retransmissions on.
   */
  private request: SipMessage | null;

  constructor(
    private readonly deps: ProxyDeps,
    private readonly serverTx: ServerTransaction,
    request: SipMessage,
    private decision: ForwardDecision,
    private readonly options: ForwardOptions,
  ) {
    this.request = request;
    this.isInvite = request.method === 'INVITE';
    this.startedAt = deps.clock.now();
    this.loop = loopHash(serverTx.request);
  }

  start(): void {
    if (!this.tryNext()) this.finish();
  }

  /** §16.10: the caller cancelled. Branches with a provisional get a CANCEL now, others when one arrives. */
  cancel(): void {
    if (this.canceled || this.finalSent) return;
    this.canceled = true;
    for (const b of this.branches) {
      if (b.done) continue;
      if (b.provisional) this.sendCancel(b);
      else {
        b.cancelPending = true;
        b.tx.cancelTimers(); // §9.1: no CANCEL before a provisional; stop retransmitting the INVITE
      }
    }
  }

  // --- §16.6: forward to the next target ------------------------------------------------------

  private tryNext(): boolean {
    while (this.next < this.decision.targets.length && this.attempts <= this.decision.failover && !this.canceled) {
      const target = this.decision.targets[this.next++]!;
      this.attempts++;
      if (this.forwardTo(target)) return true;
    }
    return false;
  }

  private forwardTo(chosen: Target): boolean {
    const request = this.request;
    if (request === null) return false;
    const out = request.clone();
    // Step 2: Request-URI from the routing decision.
    out.setRequestUri(chosen.requestUri);
    // Step 3: Max-Forwards.
    const mf = request.maxForwards();
    out.set('max-forwards', String(mf === undefined ? 70 : mf - 1));
    const exitLeg = this.deps.identity.exitLeg(this.decision.exitSide, chosen.transport);
    // UDP leaves by the exit leg's own socket; CANCEL and ACK/BYE of this branch follow it.
    const target: Target = exitLeg.transport === 'udp' ? { ...chosen, localPort: exitLeg.port } : chosen;
    // Step 4: Record-Route, doubled when the legs differ (RFC 5658). The entry nearest the
    // callee goes on top: the callee's route set starts with it.
    if (this.options.recordRoute && DIALOG_METHODS.has(out.method) && out.to().tag === null) {
      const inEntry = recordRouteValue(this.options.inLeg, this.options.inHints);
      const outHints: RouteHints = this.decision.exitSide === 'outside'
        ? (target.servername !== undefined ? { targetName: target.servername } : {})
        : (this.decision.peer !== undefined ? { peer: this.decision.peer } : {});
      const outEntry = recordRouteValue(exitLeg, outHints);
      const viaIndex = out.indexAfter('via');
      if (!sameLeg(this.options.inLeg, exitLeg)) out.prepend('record-route', inEntry, viaIndex < 0 ? 0 : viaIndex);
      out.prepend('record-route', sameLeg(this.options.inLeg, exitLeg) ? inEntry : outEntry, viaIndex < 0 ? 0 : viaIndex);
    }
    // Step 5: headers routing asked for.
    for (const [name, value] of this.decision.addHeaders ?? []) out.set(name, value);
    // Step 8: our Via with a unique branch carrying the loop hash; rport on UDP (RFC 3581).
    const branch = newBranch(this.loop);
    out.prepend('via', viaValue(exitLeg, branch));
    const b: Branch = {
      label: target.label,
      target,
      request: out,
      provisional: false,
      done: false,
      cancelPending: false,
      tx: null as unknown as ClientTransaction,
    };
    this.branches.push(b);
    // Step 10/11: client transaction; Timer C for INVITE.
    (b as { tx: ClientTransaction }).tx = this.deps.transactions.createClient(out, destinationOf(target), {
      onResponse: (r) => this.onResponse(b, r),
      onTimeout: () => this.onLocalFailure(b, 'SIPS_ERR_PROXY_TIMEOUT', 'no response from ' + target.label),
      onTransportError: (f: TransportFailure) => this.onLocalFailure(b, 'SIPS_ERR_PROXY_TRANSPORT', `${target.label}: ${f.reason}`),
    }, branch);
    if (this.isInvite) this.restartTimerC();
    return true;
  }

  // --- §16.7: responses ---------------------------------------------------------------------

  private onResponse(b: Branch, response: SipMessage): void {
    const status = response.status;
    // Step 3: remove our Via.
    const res = response.clone();
    res.shift('via');
    if (b.done && status >= 200 && status < 300) {
      // 2xx retransmission in the client's Accepted state (RFC 6026): forward it again.
      this.serverTx.respond(res);
      return;
    }
    if (b.done) return;
    if (status < 200) {
      if (status === 100 || this.finalSent) return; // the edge sent its own 100 Trying; never forwarded
      b.provisional = true;
      if (b.cancelPending) {
        this.sendCancel(b);
        return;
      }
      if (this.isInvite) this.restartTimerC();
      if (!this.checkResponseSdp(res, b.tx)) return;
      if (!this.ringingSeen && this.isInvite) {
        this.ringingSeen = true;
        this.deps.observer.callSetup?.({ stage: 'ringing', ms: this.deps.clock.now() - this.startedAt, route: this.decision.via });
      }
      if (!this.finalSent) this.serverTx.respond(res);
      return;
    }
    b.done = true;
    this.deps.observer.targetOutcome?.({ trunk: this.decision.trunk ?? null, target: b.label, status, reason: null });
    if (status < 300) {
      if (!this.checkResponseSdp(res, b.tx)) return; // strict SRTP gate handled the 2xx
      if (this.isInvite) this.deps.observer.callSetup?.({ stage: 'answered', ms: this.deps.clock.now() - this.startedAt, route: this.decision.via });
      this.sendFinal(res, null, b.label);
      this.cancelOthers(b);
      return;
    }
    this.consider({ status, response: res, code: null, detail: `${status} from ${b.label}` });
    if (status >= 600) {
      // Step 9/10: a 6xx ends the search; other branches are cancelled.
      this.cancelOthers(b);
      this.finish();
      return;
    }
    if ((status === 503 || status === 408) && !this.finalSent && this.tryNext()) return;
    this.finish();
  }

  private onLocalFailure(b: Branch, code: ProxyErrorCode, detail: string): void {
    if (b.done) return;
    b.done = true;
    const status = PROXY_ERRORS[code].status;
    this.deps.observer.targetOutcome?.({ trunk: this.decision.trunk ?? null, target: b.label, status, reason: detail });
    this.consider({ status, response: null, code, detail });
    if (!this.finalSent && !this.canceled && this.tryNext()) return;
    this.finish();
  }

  /** Step 6: 6xx beats all; otherwise the lowest class, first seen wins within it. */
  private consider(c: Candidate): void {
    const b = this.best;
    if (b === null) { this.best = c; return; }
    if (b.status >= 600) return;
    if (c.status >= 600 || Math.floor(c.status / 100) < Math.floor(b.status / 100)) this.best = c;
  }

  private finish(): void {
    if (this.finalSent) return;
    if (this.branches.some((b) => !b.done)) return;
    this.timerC?.cancel();
    const best = this.best;
    if (best === null) {
      this.sendLocal(503, 'SIPS_ERR_PROXY_TRANSPORT', 'no target could be tried', [['Retry-After', String(this.deps.retryAfterSeconds)]]);
      return;
    }
    if (this.canceled && best.status !== 487 && best.response === null) {
      this.sendLocal(487, 'SIPS_ERR_PROXY_TIMEOUT', 'request cancelled');
      return;
    }
    if (best.response !== null) {
      // A downstream 503 means "that element is overloaded", not this edge: RFC 3261 §16.7 step 6.
      if (best.status === 503) {
        this.sendLocal(500, 'SIPS_ERR_PROXY_TRANSPORT', best.detail);
        return;
      }
      this.sendFinal(best.response, null, null);
      return;
    }
    const extra: [string, string][] = best.status === 503 ? [['Retry-After', String(this.deps.retryAfterSeconds)]] : [];
    this.sendLocal(best.status, best.code ?? 'SIPS_ERR_PROXY_TRANSPORT', best.detail, extra);
  }

  private sendLocal(status: number, code: ProxyErrorCode, detail: string, headers: [string, string][] = []): void {
    const res = buildResponse(this.serverTx.request, status, {
      headers: [...headers, ['Warning', warningValue(this.deps.agent, code, detail)], ['Server', this.deps.agent]],
    });
    this.sendFinal(res, code, null);
  }

  private sendFinal(res: SipMessage, code: string | null, target: string | null): void {
    const request = this.request;
    if (this.finalSent || request === null) return;
    this.finalSent = true;
    this.timerC?.cancel();
    this.timerC = null;
    this.serverTx.respond(res);
    this.onSettled?.();
    // The context lives on for the transactions' Accepted/Completed time (RFC 6026: 32 s) only to
    // pass 2xx retransmissions on; the requests and the candidates are no longer needed.
    let allDone = true;
    for (const b of this.branches) {
      if (!b.done) { allDone = false; continue; }
      b.request = null;
      b.target = null;
    }
    this.request = null;
    this.best = null;
    this.deps.observer.transactionDone?.({
      callId: request.callId(),
      method: request.method,
      fromSide: this.options.inLeg.side,
      toSide: this.decision.exitSide,
      peer: this.options.peer,
      transport: this.options.inLeg.transport,
      status: res.status,
      durationMs: this.deps.clock.now() - this.startedAt,
      route: this.decision.via,
      target,
      code,
    });
    // The targets (a Target and a Request-URI per lb host) are not needed any more either.
    if (allDone) this.decision = settledDecision(this.decision);
  }

  private cancelOthers(winner: Branch): void {
    for (const b of this.branches) if (b !== winner && !b.done) {
      if (b.provisional) this.sendCancel(b);
      else { b.cancelPending = true; b.tx.cancelTimers(); }
    }
  }

  /** RFC 3261 §9.1 / §16.10: CANCEL a pending branch (only once it has a provisional). */
  private sendCancel(b: Branch): void {
    if (!this.isInvite || b.done) return;
    b.cancelPending = false;
    if (b.request === null || b.target === null) return;
    this.deps.transactions.createClient(buildCancel(b.request), b.target, {
      onResponse: () => undefined,
      onTimeout: () => undefined,
      onTransportError: () => undefined,
    });
  }

  private restartTimerC(): void {
    this.timerC?.cancel();
    this.timerC = this.deps.clock.schedule(this.deps.timers.timerC, this);
  }

  /** The clock's call: Timer C is this context's only timer. */
  onTimer(handle: TimerHandle): void {
    if (handle === this.timerC) this.onTimerC();
  }

  /** §16.6 step 11 / §16.8: Timer C fired — cancel a ringing branch, or give up on a silent one. */
  private onTimerC(): void {
    for (const b of this.branches) {
      if (b.done) continue;
      if (b.provisional) this.sendCancel(b);
      else {
        b.tx.terminate();
        this.onLocalFailure(b, 'SIPS_ERR_PROXY_TIMEOUT', `Timer C: no final response from ${b.label}`);
      }
    }
  }

  private checkResponseSdp(res: SipMessage, branchOf: ClientTransaction): boolean {
    const gate = this.deps.sdpGate;
    // After the final response nothing more goes upstream from here (a late 2xx is not passed).
    if (gate === null || res.body.length === 0 || this.request === null) return true;
    const ctx: SdpContext = { fromSide: this.decision.exitSide, toSide: this.options.inLeg.side, srtpRequired: this.decision.srtpRequired };
    const r = gate.checkResponse(res, this.request, ctx);
    this.deps.observer.sdpChecked?.({ direction: 'response', ok: r.ok, reason: r.ok ? null : r.reason, audit: r.ok ? false : r.audit });
    if (r.ok || r.audit) return true;
    if (res.status < 200) {
      this.deps.observer.dropped?.({ what: `${res.status} provisional`, reason: r.reason });
      return false;
    }
    // A 2xx with clear media must not set up the call (S-MEDIA-1): ACK + BYE the answerer, 488 the caller.
    const b = this.branches.find((x) => x.tx === branchOf);
    if (b !== undefined && b.request !== null && b.target !== null) refuseAnswer(this.deps, b.request, b.target, this.decision.exitSide, res, `${r.code}: ${r.message}`);
    this.sendLocal(488, 'SIPS_ERR_PROXY_SRTP_REQUIRED', `${r.code}: ${r.message}`);
    return false;
  }

  /** Called once, when the final response has gone upstream (the proxy's in-progress count). */
  onSettled: (() => void) | null = null;

  get side(): Side {
    return this.options.inLeg.side;
  }
}

/**
 * Only where to send: the client transaction keeps its destination for as long as it lingers
 * (32 s), and a Target also carries the Request-URI built for it.
 */
function destinationOf(t: Target): Destination {
  const d: { -readonly [K in keyof Destination]: Destination[K] } = { transport: t.transport, host: t.host, port: t.port };
  if (t.flowId !== undefined) d.flowId = t.flowId;
  if (t.servername !== undefined) d.servername = t.servername;
  if (t.localPort !== undefined) d.localPort = t.localPort;
  return d;
}

/** What a settled context still reads of its decision (late outcomes of other branches). */
function settledDecision(d: ForwardDecision): ForwardDecision {
  const slim: ForwardDecision = { kind: 'forward', exitSide: d.exitSide, targets: [], failover: 0, via: d.via, srtpRequired: d.srtpRequired };
  return d.trunk === undefined ? slim : { ...slim, trunk: d.trunk };
}

function sameLeg(a: Leg, b: Leg): boolean {
  return a.side === b.side && a.transport === b.transport && a.port === b.port && a.host === b.host;
}
