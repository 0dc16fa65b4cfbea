/**
 * Server-side TLS 1.2 session resumption on the listeners: session tickets (RFC 5077) with keys
 * derived per rotation period from a secret (ticket-keys.ts), and a session ID cache (RFC 5246
 * §7.4.1.2) for clients that send no ticket extension.
 *
 * - Tickets resume on every process and instance holding the same secret (keyFile, or the secret
 *   the primary hands to its workers). Node holds one key: at each period boundary it is replaced
 *   and a ticket of the previous period gets a full handshake with a new ticket, never a failure.
 * - The ID cache is this process's memory (Node has no internal server cache: 'newSession' /
 *   'resumeSession'), bounded and least-recently-used: with several workers, ID resumption works only
 *   when the reconnect lands on the same worker; tickets work everywhere.
 * - A resumed session keeps the protocol and cipher of its full handshake; OpenSSL refuses a
 *   session whose cipher the client no longer offers (illegal_parameter). OpenSSL does not check
 *   the server's own list, so the ticket key includes the policy (a stricter instance cannot
 *   decrypt a looser one's ticket: full handshake) and `sessionAllowed` is the listener's last check.
 */
import { constants as C } from 'node:crypto';
import type tls from 'node:tls';
import { SipsError } from '../errors.js';
import { isPolicyCipher, policyCiphers, TLS_VERSION, type TlsPolicy } from './policy.js';
import { deriveTicketKey, msUntilNextPeriod, randomTicketSecret, readTicketSecret, ticketContext, ticketPeriod } from './ticket-keys.js';

/** Session IDs kept per process; a full one drops the least recently used (the client does a full handshake). */
export const SESSION_ID_CACHE_SIZE = 10_000;
const SESSION_ID_CONTEXT = 'sips-edge';

export interface SessionResumptionOptions {
  readonly enabled: boolean;
  readonly keyFile?: string;
  /** A secret handed in (workers share the primary's); used when no keyFile is configured. */
  readonly secret?: Buffer;
  readonly rotationSeconds: number;
  readonly lifetimeSeconds: number;
  /** Mixed into every ticket key (ticket-keys.ts): a ticket of another policy does not decrypt here. */
  readonly policy: TlsPolicy;
  readonly now?: () => number;
  /** Rotation and secret events (no key material). */
  readonly onEvent?: (e: TicketKeyEvent) => void;
}

export type TicketKeyEvent =
  | { readonly kind: 'rotated'; readonly period: number; readonly source: 'file' | 'injected' | 'random'; readonly nextInMs: number }
  | { readonly kind: 'secret-reload-failed'; readonly detail: string };

export class SessionResumption {
  private readonly servers = new Set<tls.Server>();
  private readonly ids = new Map<string, Buffer>();
  private secret: Buffer;
  private readonly source: 'file' | 'injected' | 'random';
  private period = -1;
  private timer: NodeJS.Timeout | null = null;
  private readonly now: () => number;
  private readonly context: string;

  constructor(private readonly o: SessionResumptionOptions) {
    this.now = o.now ?? Date.now;
    this.context = ticketContext(TLS_VERSION, policyCiphers(o.policy));
    if (o.keyFile !== undefined) {
      this.secret = readTicketSecret(o.keyFile);
      this.source = 'file';
    } else if (o.secret !== undefined) {
      if (o.secret.length < 32) throw new SipsError('SIPS_ERR_TLS_TICKET_SECRET', `injected ticket secret has ${o.secret.length} bytes, at least 32 required`);
      this.secret = Buffer.from(o.secret);
      this.source = 'injected';
    } else {
      this.secret = randomTicketSecret();
      this.source = 'random';
    }
  }

  /** Options merged into the listeners' server options. */
  serverOptions(base: tls.TlsOptions): tls.TlsOptions {
    // Node's default session ID context hashes process.argv (the config path): instances started
    // with other paths would refuse each other's tickets. One fixed context for every instance.
    const opts: tls.TlsOptions = { ...base, sessionTimeout: this.o.lifetimeSeconds, sessionIdContext: SESSION_ID_CONTEXT };
    if (this.o.enabled) opts.ticketKeys = this.currentKey();
    else opts.secureOptions = (base.secureOptions ?? 0) | C.SSL_OP_NO_TICKET;
    return opts;
  }

  /** A listener's server: current ticket key, session ID cache. */
  attach(server: tls.Server): void {
    this.servers.add(server);
    server.once('close', () => this.servers.delete(server));
    if (this.o.enabled) server.setTicketKeys(this.currentKey());
    server.on('newSession', (id: Buffer, data: Buffer, done: () => void) => {
      const k = id.toString('hex');
      this.ids.delete(k);
      this.ids.set(k, data);
      while (this.ids.size > SESSION_ID_CACHE_SIZE) {
        const oldest = this.ids.keys().next().value;
        if (oldest === undefined) break;
        this.ids.delete(oldest);
      }
      done();
    });
    server.on('resumeSession', (id: Buffer, done: (err: Error | null, data: Buffer | null) => void) => {
      done(null, this.ids.get(id.toString('hex')) ?? null);
    });
  }

  /** Starts the rotation timer (unref'd: it never keeps the process alive). */
  start(): void {
    if (!this.o.enabled || this.timer !== null) return;
    this.rotate();
  }

  stop(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }

  /** Reload: re-reads the key file; a broken file keeps the old secret (the error is returned). */
  reload(): SipsError | null {
    if (this.o.keyFile === undefined || !this.o.enabled) return null;
    try {
      this.secret = readTicketSecret(this.o.keyFile);
    } catch (e) {
      const err = e instanceof SipsError ? e : new SipsError('SIPS_ERR_TLS_TICKET_SECRET', String(e));
      this.o.onEvent?.({ kind: 'secret-reload-failed', detail: err.message });
      return err;
    }
    const key = this.currentKey();
    for (const s of this.servers) s.setTicketKeys(key);
    return null;
  }

  /** Whether a resumed session may stand under this policy (server side, after the handshake). */
  static sessionAllowed(socket: tls.TLSSocket, policy: TlsPolicy): boolean {
    return socket.getProtocol() === TLS_VERSION && isPolicyCipher(socket.getCipher().name, policy);
  }

  private currentKey(): Buffer {
    return deriveTicketKey(this.secret, ticketPeriod(this.now(), this.o.rotationSeconds), this.context);
  }

  private rotate(): void {
    const now = this.now();
    const period = ticketPeriod(now, this.o.rotationSeconds);
    const nextInMs = msUntilNextPeriod(now, this.o.rotationSeconds);
    if (period !== this.period) {
      this.period = period;
      const key = deriveTicketKey(this.secret, period, this.context);
      for (const s of this.servers) s.setTicketKeys(key);
      this.o.onEvent?.({ kind: 'rotated', period, source: this.source, nextInMs });
    }
    // A timer may fire a little early: rotate() then finds the same period and waits the rest.
    this.timer = setTimeout(() => this.rotate(), nextInMs);
    this.timer.unref();
  }
}
