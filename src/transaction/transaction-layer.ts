import type { Clock } from '../clock.js';
import type { SipMessage } from '../message/message.js';
import { ClientTransactionDriver, type ClientDriverDeps, type ClientTransaction } from './client-transaction.js';
import { sendOrReport, timingsOf, type TxTiming } from './fsm.js';
import { inviteClientMachine } from './invite-client.js';
import { inviteServerMachine } from './invite-server.js';
import { LingerKind, LingeringInviteView, LingerQueue, LingerRecord } from './lingering.js';
import { branchOfKey, clientKey, responseKey, serverKeys } from './matching.js';
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
  /**
   * RFC 6026 lingering as records (lingering.ts), not as drivers: once a server transaction has
   * sent its final response (INVITE 2xx: Accepted; non-INVITE: Completed) the layer keeps one
   * record that absorbs or answers retransmissions, and `onServerTxTerminated` is called then
   * (the TU can do nothing more with it); an INVITE client transaction handed to `relay2xx` the
   * same. Off (the default), transactions linger as their drivers, Figure by Figure; the edge
   * turns it on (sip-stack.ts). RFC 2543 INVITEs (no branch) always linger as drivers.
   */
  readonly compactLingering?: boolean;
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
 * `onRequest` gets each new server transaction (INVITE: `tx.trying()`, §16.2 / §17.2.1; CANCEL:
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
  private readonly clients = new Map<string, AnyClient | LingerRecord>();
  private readonly servers = new Map<string, AnyServer | LingerRecord>();
  /** compactLingering: one FIFO of records per linger duration (64*T1; T4 never lingers here). */
  private readonly lingerQueues = new Map<number, LingerQueue>();
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
      ...(options.compactLingering === true ? { linger: (tx: AnyServer, ms: number) => this.lingerServer(tx, ms) } : {}),
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
  /** Whether a server transaction (or its lingering record) matches `request` itself: a retransmission here. */
  holdsServer(request: SipMessage): boolean {
    return this.servers.has(serverKeys(request).key);
  }

  findInvite(cancel: SipMessage): ServerTransaction | undefined {
    const key = serverKeys(cancel, 'INVITE').key;
    const tx = this.servers.get(key);
    if (!(tx instanceof LingerRecord)) return tx;
    return tx.kind === LingerKind.InviteServerAccepted ? new LingeringInviteView(tx, branchOfKey(key)) : undefined;
  }

  /**
   * The TU forwarded `client`'s 2xx through `server` (§16.7) and needs neither again: each 2xx
   * retransmission `client` still gets (RFC 6026 §8.4, Timer M) goes without its top Via to
   * `server`'s response destination, by the layer alone; both linger as records. False (nothing
   * changed; the TU keeps getting retransmissions) when compactLingering is off or either is not
   * in that state. The TU must not call it when it edits the 2xx (media anchoring) or must not
   * forward it (an answer it refused or abandoned).
   */
  relay2xx(client: ClientTransaction, server: ServerTransaction): boolean {
    if (this.opts.compactLingering !== true || client.kind !== 'invite-client' || client.state !== 'Accepted') return false;
    const serverRecord = this.servers.get((server as AnyServer).key);
    if (!(serverRecord instanceof LingerRecord) || serverRecord.kind !== LingerKind.InviteServerAccepted) return false;
    const key = clientKey(client.branch, client.method);
    const driver = this.clients.get(key);
    if (driver !== client || driver instanceof LingerRecord) return false;
    driver.retire();
    const record = new LingerRecord(key, LingerKind.InviteClientAccepted, 200, null, null);
    record.relay = serverRecord;
    this.clients.set(key, record);
    this.lingerQueue(64 * this.timers.T1).push(record);
    return true;
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

  /** The client transaction for a branch and method, if any (not one lingering as a record). */
  findClient(branch: string, method: string): ClientTransaction | undefined {
    const tx = this.clients.get(clientKey(branch, method));
    return tx instanceof LingerRecord ? undefined : tx;
  }

  /** Transactions lingering as records now (compactLingering; included in `size` and the counts). */
  get lingeringRecords(): number {
    let n = 0;
    for (const q of this.lingerQueues.values()) n += q.size;
    return n;
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
    for (const q of this.lingerQueues.values()) q.clear();
    for (const [key, tx] of [...this.clients]) {
      if (tx instanceof LingerRecord) this.dropRecord(this.clients, key, tx);
      else tx.terminate();
    }
    for (const [key, tx] of [...this.servers]) {
      if (tx instanceof LingerRecord) this.dropRecord(this.servers, key, tx);
      else tx.terminate();
    }
  }

  private receiveResponse(response: SipMessage, source: PeerAddress): void {
    const key = responseKey(response);
    const tx = key === null ? undefined : this.clients.get(key);
    if (tx === undefined) this.opts.onStrayResponse(response, source);
    else if (tx instanceof LingerRecord) this.lingeringResponse(tx, response, source);
    else tx.receiveResponse(response);
  }

  /**
   * RFC 6026 §8.4 for a record: a 2xx retransmission goes on as the TU sent the first (its own
   * Via off, to the server transaction's destination; §16.7 step 3); anything else is absorbed.
   * When the server record has expired, it is stray (as after Timer M).
   */
  private lingeringResponse(record: LingerRecord, response: SipMessage, source: PeerAddress): void {
    if (response.status < 200 || response.status >= 300) return;
    // §16.7 step 3: with our Via off none would be left; such a response is not forwarded.
    if (!response.hasSeveral('via')) return;
    const relay = record.relay;
    if (relay === null || relay.dest === null || this.servers.get(relay.key) !== relay) {
      this.opts.onStrayResponse(response, source);
      return;
    }
    response.shift('via');
    sendOrReport(this.transport, response.serialize(), relay.dest, () => undefined);
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
      if (!(existing instanceof LingerRecord)) existing.receiveRequest();
      else if (existing.final !== null && existing.dest !== null) sendOrReport(this.transport, Buffer.from(existing.final, 'latin1'), existing.dest, () => undefined);
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
      const found = this.servers.get(key);
      // RFC 6026 §8.5: an ACK matching an Accepted INVITE goes to the TU; a record has no TU.
      if (found instanceof LingerRecord) {
        if (found.kind === LingerKind.InviteServerAccepted) this.opts.onAck(ack, source, null);
        return;
      }
      tx = found;
    } else {
      // §17.2.3: an RFC 2543 ACK matches if "the To tag of the ACK matches the To tag of the
      // response sent by the server transaction".
      const candidate = this.legacyAck.get(key);
      // (legacy INVITEs never become records: lingerServer)
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

  /** compactLingering: `tx` sent its final response and lingers `ms`; true = as a record. */
  private lingerServer(tx: AnyServer, ms: number): boolean {
    if (tx.legacyAckKey !== null || this.servers.get(tx.key) !== tx) return false;
    let record: LingerRecord;
    if (tx.kind === 'invite-server') {
      record = new LingerRecord(tx.key, LingerKind.InviteServerAccepted, tx.lastStatus, tx.responseDest, null);
    } else {
      const final = tx.finalText();
      if (final === null) return false;
      record = new LingerRecord(tx.key, LingerKind.NonInviteServerCompleted, tx.lastStatus, tx.responseDest, final);
    }
    this.servers.set(tx.key, record);
    this.lingerQueue(ms).push(record);
    this.opts.onServerTxTerminated?.(tx);
    return true;
  }

  private lingerQueue(ms: number): LingerQueue {
    let q = this.lingerQueues.get(ms);
    if (q === undefined) {
      q = new LingerQueue(this.clock, ms, (r) => this.dropRecord(r.isServer ? this.servers : this.clients, r.key, r));
      this.lingerQueues.set(ms, q);
    }
    return q;
  }

  private dropRecord(table: Map<string, unknown>, key: string, record: LingerRecord): void {
    if (table.get(key) !== record) return;
    table.delete(key);
    if (record.kind === LingerKind.InviteServerAccepted) this.counts.inviteServer--;
    else if (record.kind === LingerKind.NonInviteServerCompleted) this.counts.nonInviteServer--;
    else this.counts.inviteClient--;
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
