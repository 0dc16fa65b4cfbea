/**
 * UDP: one socket per configured address (IPv4 or IPv6), one datagram = one message (RFC 3261
 * §18.3: the parser applies the datagram rules). Replies leave from a socket of the destination's
 * address family, so they come from the port the peer knows.
 */
import dgram from 'node:dgram';
import { lookup as dnsLookup, type LookupOneOptions } from 'node:dns';
import { lookup } from 'node:dns/promises';
import net from 'node:net';
import type { Clock } from '../clock.js';
import { recordUdpTurn } from '../loop-load.js';
import { TRANSPORT_ERROR_CODES, TransportError, errorDetail } from './transport-error.js';
import type { TransportEvents } from './transport-events.js';
import type { Endpoint, ListenAddress, ReceivedMessage } from './types.js';
import { endpoint, ipFamily } from './types.js';

export interface UdpContext {
  readonly clock: Clock;
  readonly events: TransportEvents;
  /** Largest datagram sent (TransportLimits.maxDatagramSize). */
  readonly maxDatagramSize: number;
  /** SO_RCVBUF asked for on every UDP socket (TransportLimits.udpReceiveBufferBytes). */
  readonly receiveBufferBytes: number;
  /** Larger datagrams received are dropped unread (MessageLimits.maxMessageSize). */
  readonly maxMessageSize: number;
  /** SO_REUSEPORT, each worker its own socket (TransportOptions.reusePort). */
  readonly reusePort: boolean;
  deliver(message: ReceivedMessage): void;
}

interface Bound {
  readonly socket: dgram.Socket;
  readonly local: Endpoint;
  /** Datagrams read in this loop turn (the loop-load backlog measure; reset after the poll phase). */
  turnReads: number;
}

/** A UDP port on `host` that no socket holds: bound exclusively without SO_REUSEPORT, then released. */
function unsharedUdpPort(host: string): Promise<number> {
  const ipv6 = net.isIPv6(host);
  const probe = dgram.createSocket({ type: ipv6 ? 'udp6' : 'udp4', ipv6Only: ipv6 });
  return new Promise((resolve, reject) => {
    probe.once('error', (err) => {
      probe.close();
      reject(new TransportError(TRANSPORT_ERROR_CODES.LISTEN, 'bind-failed', `udp listen on ${host}:0: ${errorDetail(err)}`, { cause: err }));
    });
    probe.bind({ address: host, port: 0, exclusive: true }, () => {
      const port = probe.address().port;
      probe.close(() => resolve(port));
    });
  });
}

export class UdpTransport {
  private readonly sockets: Bound[] = [];
  dropped = 0;

  constructor(private readonly ctx: UdpContext) {}

  get addresses(): Endpoint[] {
    return this.sockets.map((b) => b.local);
  }

  listen(at: ListenAddress): Promise<Endpoint> {
    return this.ctx.reusePort && at.port === 0 ? this.listenOnFreePort(at) : this.bindAt(at);
  }

  /**
   * Port 0 with SO_REUSEPORT (the first worker picks the ports the others then bind): Linux's UDP
   * autobind may hand out a port that another SO_REUSEPORT socket of the same user already holds
   * (TCP's does not), and the workers would then share their datagrams with that stranger's socket.
   * A port that an exclusive bind without SO_REUSEPORT gets is held by nobody: that one is bound.
   * EADDRINUSE, should another process take it in between: another port, a few times.
   */
  private async listenOnFreePort(at: ListenAddress): Promise<Endpoint> {
    for (let attempt = 1; ; attempt++) {
      const port = await unsharedUdpPort(at.host);
      try {
        return await this.bindAt({ ...at, port });
      } catch (err) {
        const code = ((err as { cause?: { code?: unknown } }).cause)?.code;
        if (attempt >= 5 || code !== 'EADDRINUSE') throw err;
      }
    }
  }

  private bindAt(at: ListenAddress): Promise<Endpoint> {
    const ipv6 = net.isIPv6(at.host);
    const reuse = this.ctx.reusePort;
    const socket = dgram.createSocket({ type: ipv6 ? 'udp6' : 'udp4', ipv6Only: ipv6, lookup: literalLookup, ...(reuse ? { reusePort: true } : {}) });
    return new Promise((resolve, reject) => {
      const onError = (err: Error): void => {
        socket.close();
        reject(new TransportError(TRANSPORT_ERROR_CODES.LISTEN, 'bind-failed', `udp listen on ${at.host}:${at.port}: ${errorDetail(err)}`, { cause: err }));
      };
      socket.once('error', onError);
      // exclusive: never a cluster primary's shared handle, in a worker too (with reusePort each worker
      // its own socket; without it, the loopback warm-up's port 0, which workers would otherwise share).
      socket.bind({ address: at.host, port: at.port, exclusive: true }, () => {
        socket.off('error', onError);
        // Bursts arrive faster than one event-loop turn at a GC pause: a larger receive buffer
        // turns drops (and the caller's retransmissions) into queueing. The kernel caps it at
        // net.core.rmem_max.
        try {
          socket.setRecvBufferSize(this.ctx.receiveBufferBytes);
        } catch {
          // Keep the system default when the kernel refuses.
        }
        // Per-datagram errors (ICMP unreachable on some systems) must not end the listener.
        socket.on('error', () => {});
        const a = socket.address();
        const bound: Bound = { socket, local: endpoint(a.address, a.port), turnReads: 0 };
        socket.on('message', (msg, rinfo) => this.onDatagram(bound, msg, rinfo));
        this.sockets.push(bound);
        resolve(bound.local);
      });
    });
  }

  /** Sends one datagram; resolves with null (no flow), rejects with a TransportError. */
  send(host: string, port: number, data: Uint8Array, localPort?: number): Promise<null> {
    if (data.length > this.ctx.maxDatagramSize) {
      return Promise.reject(new TransportError(TRANSPORT_ERROR_CODES.TOO_LARGE, 'datagram-too-large', `${data.length} bytes exceed the UDP limit of ${this.ctx.maxDatagramSize} (RFC 3261 §18.1.1: use TCP)`));
    }
    const family = ipFamily(host);
    if (family === 0) return this.sendToName(host, port, data, localPort);
    return this.sendTo(family === 6 ? 'IPv6' : 'IPv4', host, port, data, localPort);
  }

  /**
   * Sends one datagram to an address literal with a bound socket of its family: true, and a send
   * error later goes to `onFailure`. False (nothing sent) for anything `send` handles otherwise:
   * too large, a name, no socket of the family.
   */
  sendNoWait(host: string, port: number, data: Uint8Array, localPort: number | undefined, onFailure: (err: unknown) => void): boolean {
    if (data.length > this.ctx.maxDatagramSize) return false;
    const family = ipFamily(host);
    if (family === 0) return false;
    const bound = this.socketFor(family === 6 ? 'IPv6' : 'IPv4', localPort);
    if (bound === undefined) return false;
    bound.socket.send(data, port, host, (err) => {
      if (err) onFailure(new TransportError(TRANSPORT_ERROR_CODES.SEND, 'send-failed', `udp to ${host}:${port}: ${errorDetail(err)}`, { cause: err }));
    });
    return true;
  }

  private async sendToName(host: string, port: number, data: Uint8Array, localPort?: number): Promise<null> {
    const families = new Set(this.sockets.map((b) => b.local.family));
    const found = await lookup(host, families.size === 1 && families.has('IPv6') ? { family: 6 } : families.has('IPv4') ? { family: 4 } : {});
    return this.sendTo(found.family === 6 ? 'IPv6' : 'IPv4', found.address, port, data, localPort);
  }

  private sendTo(family: 'IPv4' | 'IPv6', address: string, port: number, data: Uint8Array, localPort?: number): Promise<null> {
    const bound = this.socketFor(family, localPort);
    if (bound === undefined) {
      return Promise.reject(new TransportError(TRANSPORT_ERROR_CODES.NO_SOCKET, 'no-socket-for-family', `no UDP socket for ${family} destination ${address}`));
    }
    const socket = bound.socket;
    return new Promise<null>((resolve, reject) => {
      socket.send(data, port, address, (err) => {
        if (err) reject(new TransportError(TRANSPORT_ERROR_CODES.SEND, 'send-failed', `udp to ${address}:${port}: ${errorDetail(err)}`, { cause: err }));
        else resolve(null);
      });
    });
  }

  /**
   * Leave by the listener the caller chose (the exit leg), so peers that answer to the source
   * address (symmetric SIP, RFC 3581) reach the right side of the edge.
   */
  private socketFor(family: 'IPv4' | 'IPv6', localPort: number | undefined): Bound | undefined {
    let bound: Bound | undefined;
    for (const b of this.sockets) {
      if (b.local.family !== family) continue;
      if (localPort === undefined || b.local.port === localPort) return b;
      bound ??= b;
    }
    return bound;
  }

  close(): Promise<void> {
    const all = this.sockets.splice(0).map((b) => new Promise<void>((resolve) => b.socket.close(() => resolve())));
    return Promise.all(all).then(() => undefined);
  }

  private onDatagram(bound: Bound, msg: Buffer, rinfo: dgram.RemoteInfo): void {
    // libuv reads a socket's datagrams in one go per poll phase; the check phase right after it
    // counts them (a full turn left more queued: the loop is behind, loop-load.ts).
    if (bound.turnReads++ === 0) setImmediate(endUdpTurn, bound);
    const remote = endpoint(rinfo.address, rinfo.port);
    if (msg.length > this.ctx.maxMessageSize) {
      this.dropped++;
      this.ctx.events.emit('datagramDropped', { reason: 'too-large', remote, size: msg.length });
      return;
    }
    if (isOnlyCrlf(msg)) {
      // A CRLF keep-alive sent over UDP (some devices do): nothing to parse, nothing to answer.
      this.dropped++;
      this.ctx.events.emit('datagramDropped', { reason: 'keepalive', remote, size: msg.length });
      return;
    }
    this.ctx.deliver({ data: msg, flow: null, transport: 'udp', remote, local: bound.local, receivedAt: this.ctx.clock.now() });
  }
}

/**
 * dgram looks up every destination before sending, and dns.lookup answers even an address
 * literal on the next tick. Sends here always go to addresses (names are resolved above), so an
 * address is handed back at once: one tick less per datagram.
 */
function literalLookup(host: string, options: LookupOneOptions, callback: (err: NodeJS.ErrnoException | null, address: string, family: number) => void): void {
  const f = ipFamily(host);
  if (f !== 0) callback(null, host, f);
  else dnsLookup(host, options, callback);
}

function endUdpTurn(bound: Bound): void {
  recordUdpTurn(bound.turnReads);
  bound.turnReads = 0;
}

function isOnlyCrlf(msg: Buffer): boolean {
  for (let i = 0; i < msg.length; i++) {
    const b = msg[i];
    if (b !== 0x0d && b !== 0x0a) return false;
  }
  return true;
}
