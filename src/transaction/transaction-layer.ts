import type { Clock } from '../clock.js';
import type { SipMessage } from '../message/message.js';
import { ClientTransactionDriver, type ClientDriverDeps, type ClientTransaction } from './client-transaction.js';
import { timingsOf, type TxTiming } from './fsm.js';
import { inviteClientMachine } from './invite-client.js';
import { inviteServerMachine } from './invite-server.js';
import { clientKey, responseKey, serverKeys } from './matching.js';
import { nonInviteClientMachine } from './non-invite-client.js';
import { nonInviteServerMachine } from './non-invite-server.js';
import { responseDestination } from './response-destination.js';
import { ServerTransactionDriver, type ServerDriverDeps, type ServerTransaction } from './server-transaction.js';
import { DEFAULT_TIMERS, type ClientTransactionHandlers, type PeerAddress, type TimerConfig, type TransactionTransport } from './types.js';

export interface TransactionLayerOptions {
  readonly transport: TransactionTransport;
  readonly clock: Clock;
  readonly timers?: TimerConfig;
  /** A new request (not ACK) created a server transaction; CANCEL gets its own (§9.2). */
  onRequest(request: SipMessage, tx: ServerTransaction): void;
  /**
   * An ACK: `tx` is the INVITE server transaction in Accepted it matched (RFC 6026 §8.5), or null
   * when none matched (an ACK for a 2xx, its own transaction, that the proxy routes on, §16.7).
   * ACKs for non-2xx finals are absorbed by their transaction and never reach here.
   */
  onAck(ack: SipMessage, source: PeerAddress, tx: ServerTransaction | null): void;
  /** A response no client transaction matched (§18.1.2; a proxy forwards 2xx of these, §16.7). */
  onStrayResponse(response: SipMessage, source: PeerAddress): void;
  /** A server transaction ended; `tx.terminationCause` says why (Timer H, transport error, ...). */
  onServerTxTerminated?(tx: ServerTransaction): void;
  /**
   * Asked before a request creates a server transaction (never for retransmissions or ACK): false
   * = refused, nothing is allocated (the caller answered or dropped it). Admission / rate limits.
   */
  admitNew?(request: SipMessage, source: PeerAddress): boolean;
}

export interface TransactionCounts {
  readonly inviteClient: number;
  readonly nonInviteClient: number;
  readonly inviteServer: number;
  readonly nonInviteServer: number;
}

type AnyClient = ClientTransactionDriver<{ readonly name: ClientTransaction['state'] }, string>;
type AnyServer = ServerTransactionDriver<{ readonly name: ServerTransaction['state'] }, string>;

/**
 * RFC 3261 §17: owns every client and server transaction, matches incoming messages to them
 * (§17.1.3, §17.2.3) and hands the rest to the TU. All timers run on the injected clock.
 *
 * How the proxy (the TU) drives it: the transport calls `receive()` for every parsed message.
 * `onRequest` gets each new server transaction (INVITE: `tx.respond(100)` at once, §16.2; CANCEL:
 * `findInvite(cancel)`, answer 200, cancel the branches, §16.10). Each branch is
 * `createClient(request-with-own-Via, dest, handlers)`; `onResponse` results are relayed with
 * `serverTx.respond()`, `onTimeout` counts as a 408 and `onTransportError` as a 503 (§16.7,
 * §17.1.4). 2xx ACKs (`onAck(.., null)`) and stray 2xx (`onStrayResponse`) are forwarded
 * statelessly by the proxy. The request passed to `createClient` must not be edited afterwards
 * (its bytes are kept for retransmissions).
 */
export class TransactionLayer {
  private readonly transport: TransactionTransport;
  private readonly clock: Clock;
  private readonly timers: TimerConfig;
  private readonly opts: TransactionLayerOptions;
  private readonly clients = new Map<string, AnyClient>();
  private readonly servers = new Map<string, AnyServer>();
  /** RFC 2543 INVITE server transactions by Request-URI, From tag, Call-ID, CSeq number, top Via. */
  private readonly legacyAck = new Map<string, AnyServer>();
  private counts = { inviteClient: 0, nonInviteClient: 0, inviteServer: 0, nonInviteServer: 0 };
  private readonly timings: { readonly udp: TxTiming; readonly stream: TxTiming };
  // What the drivers share, made once: two transactions per call each hold a reference, not a copy.
  private readonly serverDeps: ServerDriverDeps;
  private readonly clientDeps: { readonly udp: ClientDriverDeps; readonly stream: ClientDriverDeps };

  constructor(options: TransactionLayerOptions) {
    this.opts = options;
    this.transport = options.transport;
    this.clock = options.clock;
    this.timers = options.timers ?? DEFAULT_TIMERS;
    this.timings = timingsOf(this.timers);
    this.serverDeps = {
      transport: this.transport,
      clock: this.clock,
      onAck: (ack, src, tx) => this.opts.onAck(ack, src, tx),
      onTerminated: (tx) => this.serverEnded(tx),
    };
    const onTerminated = (tx: ClientTransaction): void => this.clientEnded(tx);
    this.clientDeps = {
      udp: { transport: this.transport, clock: this.clock, timing: this.timings.udp, onTerminated },
      stream: { transport: this.transport, clock: this.clock, timing: this.timings.stream, onTerminated },
    };
  }

  /** A parsed message from the transport layer. */
  receive(message: SipMessage, source: PeerAddress): void {
    if (message.isRequest) this.receiveRequest(message, source);
    else this.receiveResponse(message, source);
  }

  /**
   * Starts a client transaction and sends the request. The caller has put its own Via with a
   * unique branch on top. ACK is not a transaction (§17.1: the proxy sends 2xx ACKs statelessly).
   */
  createClient(request: SipMessage, dest: PeerAddress, handlers: ClientTransactionHandlers, branch?: string): ClientTransaction {
    if (!request.isRequest) throw new Error('createClient: not a request');
    if (request.method === 'ACK') throw new Error('createClient: ACK is sent without a transaction');
    const deps = dest.transport === 'udp' ? this.clientDeps.udp : this.clientDeps.stream;
    const invite = request.method === 'INVITE';
    const tx: AnyClient = invite
      ? new ClientTransactionDriver(inviteClientMachine, request, dest, handlers, deps, branch)
      : new ClientTransactionDriver(nonInviteClientMachine, request, dest, handlers, deps, branch);
    const key = clientKey(tx.branch, tx.method);
    if (this.clients.has(key)) throw new Error(`createClient: a ${tx.method} transaction with branch ${tx.branch} exists`);
    this.clients.set(key, tx);
    if (invite) this.counts.inviteClient++;
    else this.counts.nonInviteClient++;
    tx.start();
    return tx;
  }

  /** §9.2: the INVITE server transaction a CANCEL cancels, if it still exists. */
  findInvite(cancel: SipMessage): ServerTransaction | undefined {
    return this.servers.get(serverKeys(cancel, 'INVITE').key);
  }

  /**
   * `findInvite` in the shape of the proxy's port (`ProxyTransactions.findInviteFor`). The source
   * is not needed: §17.2.3 matching already includes the sent-by of the top Via.
   */
  findInviteFor(cancel: SipMessage, _source: PeerAddress): ServerTransaction | null {
    return this.findInvite(cancel) ?? null;
  }

  /** Server transactions alive now (the proxy's overload limit). */
  get activeServerTransactions(): number {
    return this.counts.inviteServer + this.counts.nonInviteServer;
  }

  /** The client transaction for a branch and method, if any. */
  findClient(branch: string, method: string): ClientTransaction | undefined {
    return this.clients.get(clientKey(branch, method));
  }

  /** Active transactions by kind, for metrics. */
  activeCounts(): TransactionCounts {
    return { ...this.counts };
  }

  get size(): number {
    return this.clients.size + this.servers.size;
  }

  /** Terminates every transaction (shutdown); no TU callbacks but onTerminated/onServerTxTerminated. */
  close(): void {
    for (const tx of [...this.clients.values()]) tx.terminate();
    for (const tx of [...this.servers.values()]) tx.terminate();
  }

  private receiveResponse(response: SipMessage, source: PeerAddress): void {
    const key = responseKey(response);
    const tx = key === null ? undefined : this.clients.get(key);
    if (tx === undefined) this.opts.onStrayResponse(response, source);
    else tx.receiveResponse(response);
  }

  private receiveRequest(request: SipMessage, source: PeerAddress): void {
    const keys = serverKeys(request);
    if (request.method === 'ACK') {
      this.receiveAck(request, source, keys.key, keys.rfc3261);
      return;
    }
    const existing = this.servers.get(keys.key);
    if (existing !== undefined) {
      // §17.2.3: a retransmission; the transaction absorbs it and resends its last response.
      existing.receiveRequest();
      return;
    }
    if (this.opts.admitNew !== undefined && !this.opts.admitNew(request, source)) return;
    const timing = source.transport === 'udp' ? this.timings.udp : this.timings.stream;
    const dest = responseDestination(request, source);
    const invite = request.method === 'INVITE';
    const tx: AnyServer = invite
      ? new ServerTransactionDriver(inviteServerMachine, request, source, this.serverDeps, timing, dest, keys.key, keys.legacyAckKey)
      : new ServerTransactionDriver(nonInviteServerMachine, request, source, this.serverDeps, timing, dest, keys.key, null);
    this.servers.set(keys.key, tx);
    if (invite && keys.legacyAckKey !== null) this.legacyAck.set(keys.legacyAckKey, tx);
    if (invite) this.counts.inviteServer++;
    else this.counts.nonInviteServer++;
    this.opts.onRequest(request, tx);
  }

  private receiveAck(ack: SipMessage, source: PeerAddress, key: string, rfc3261: boolean): void {
    let tx: AnyServer | undefined;
    if (rfc3261) {
      tx = this.servers.get(key);
    } else {
      // §17.2.3: an RFC 2543 ACK matches if "the To tag of the ACK matches the To tag of the
      // response sent by the server transaction".
      const candidate = this.legacyAck.get(key);
      const sentTag = candidate?.lastResponse?.to().tag ?? null;
      if (candidate !== undefined && sentTag !== null && sentTag === safeToTag(ack)) tx = candidate;
    }
    if (tx === undefined || tx.kind !== 'invite-server') {
      this.opts.onAck(ack, source, null);
      return;
    }
    // Completed: absorbed (-> Confirmed); Accepted: passed to the TU through deps.onAck.
    tx.receiveAck(ack, source);
  }

  private clientEnded(tx: ClientTransaction): void {
    const key = clientKey(tx.branch, tx.method);
    if (this.clients.get(key) !== tx) return;
    this.clients.delete(key);
    if (tx.kind === 'invite-client') this.counts.inviteClient--;
    else this.counts.nonInviteClient--;
  }

  private serverEnded(tx: ServerTransaction): void {
    const { key, legacyAckKey } = tx as AnyServer;
    if (this.servers.get(key) !== tx) return;
    this.servers.delete(key);
    if (legacyAckKey !== null && this.legacyAck.get(legacyAckKey) === tx) this.legacyAck.delete(legacyAckKey);
    if (tx.kind === 'invite-server') this.counts.inviteServer--;
    else this.counts.nonInviteServer--;
    this.opts.onServerTxTerminated?.(tx);
  }
}

function safeToTag(message: SipMessage): string | null {
  try {
    return message.to().tag;
  } catch {
    return null;
  }
}
