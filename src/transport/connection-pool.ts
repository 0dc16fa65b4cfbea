/**
 * Outbound connections: one persistent flow per (transport, host, port, servername), shared by
 * every transaction. Sends made while connecting wait in order and go out after the TCP connect,
 * the TLS handshake (S-TLS-6 time limit) and the injected peer check (RFC 5922, done by tls/).
 */
import net from 'node:net';
import tls from 'node:tls';
import type { Clock, TimerHandle } from '../clock.js';
import { hostPort } from '../message/host-port.js';
import type { Flow } from './flow.js';
import type { ConnectionCaps } from './flow-table.js';
import { tlsDetailsOf } from './flow-table.js';
import type { AdoptInit } from './stream-listener.js';
import { TRANSPORT_ERROR_CODES, TransportError, classifyConnectError, errorDetail } from './transport-error.js';
import type { TransportErrorCode } from './transport-error.js';
import type { TransportEvents } from './transport-events.js';
import type { FlowInfo, PeerAddress, StreamTransport, VerifyPeer, VerifyResult } from './types.js';
import { endpoint } from './types.js';

export interface PoolContext {
  readonly clock: Clock;
  readonly caps: ConnectionCaps;
  readonly events: TransportEvents;
  readonly handshakeTimeoutMs: number;
  readonly connectTimeoutMs: number;
  readonly maxQueuedSends: number;
  connectOptions(target: PeerAddress): tls.ConnectionOptions;
  readonly verifyPeer: VerifyPeer;
  classifyTlsError(err: unknown): string;
  adopt(socket: net.Socket, init: AdoptInit): Flow;
  onTlsClientSocket?(socket: tls.TLSSocket): void;
}

export type StreamTarget = PeerAddress & { readonly transport: StreamTransport };

interface QueuedSend {
  readonly data: Uint8Array;
  resolve(flow: FlowInfo): void;
  reject(err: TransportError): void;
}

type Entry =
  | { readonly state: 'connecting'; readonly queue: QueuedSend[]; readonly abort: (reason: string) => Promise<void> }
  | { readonly state: 'open'; readonly flow: Flow };

export function poolKey(t: StreamTarget): string {
  return `${t.transport}|${t.address.toLowerCase()}|${t.port}|${(t.servername ?? '').toLowerCase()}`;
}

export class ConnectionPool {
  private readonly entries = new Map<string, Entry>();
  private readonly keyOfFlow = new Map<string, string>();

  constructor(private readonly ctx: PoolContext) {}

  get connecting(): number {
    let n = 0;
    for (const e of this.entries.values()) if (e.state === 'connecting') n++;
    return n;
  }

  get open(): number {
    return this.keyOfFlow.size;
  }

  /** The open pooled flow for a target, if any. */
  flowFor(target: StreamTarget): Flow | null {
    const e = this.entries.get(poolKey(target));
    return e?.state === 'open' && !e.flow.closed ? e.flow : null;
  }

  send(target: StreamTarget, data: Uint8Array): Promise<FlowInfo> {
    const key = poolKey(target);
    const e = this.entries.get(key);
    if (e?.state === 'open') {
      if (e.flow.send(data)) return Promise.resolve(e.flow.info);
      this.forget(e.flow); // closing: open a new connection below
    } else if (e?.state === 'connecting') {
      if (e.queue.length >= this.ctx.maxQueuedSends) {
        return Promise.reject(new TransportError(TRANSPORT_ERROR_CODES.QUEUE_FULL, 'queue-full', `${key}: ${e.queue.length} sends already wait for the connection`));
      }
      return new Promise((resolve, reject) => e.queue.push({ data, resolve, reject }));
    }
    return new Promise((resolve, reject) => this.connect(key, target, { data, resolve, reject }));
  }

  /** Writes on the open pooled connection to `target`; false (nothing written) when there is none. */
  sendOpen(target: StreamTarget, data: Uint8Array): boolean {
    const e = this.entries.get(poolKey(target));
    return e?.state === 'open' && e.flow.send(data);
  }

  /** The flow closed: the next send to its target connects again. */
  forget(flow: Flow): void {
    const key = this.keyOfFlow.get(flow.id);
    if (key === undefined) return;
    this.keyOfFlow.delete(flow.id);
    const e = this.entries.get(key);
    if (e?.state === 'open' && e.flow === flow) this.entries.delete(key);
  }

  /** Shutdown: fail every connect in progress, resolving once their sockets are closed (open flows are ended by the transport). */
  close(): Promise<void> {
    const closing: Promise<void>[] = [];
    for (const e of [...this.entries.values()]) if (e.state === 'connecting') closing.push(e.abort('shutdown'));
    return Promise.all(closing).then(() => undefined);
  }

  private connect(key: string, target: StreamTarget, first: QueuedSend): void {
    const { ctx } = this;
    if (!ctx.caps.admitOutbound()) {
      first.reject(new TransportError(TRANSPORT_ERROR_CODES.CONNECT, 'max-connections', `${key}: connection limit reached`));
      return;
    }
    const isTls = target.transport === 'tls';
    const tlsOpts = isTls ? this.tlsOptions(target) : null;
    const socket: net.Socket = tlsOpts ? tls.connect(tlsOpts) : net.connect({ host: target.address, port: target.port });
    if (tlsOpts) ctx.onTlsClientSocket?.(socket as tls.TLSSocket);
    const socketClosed = new Promise<void>((resolve) => socket.once('close', () => {
      ctx.caps.release(null);
      resolve();
    }));
    socket.setNoDelay(true);
    const queue: QueuedSend[] = [first];
    let phase: 'tcp' | 'tls' = 'tcp';
    let timer: TimerHandle = ctx.clock.setTimer(ctx.connectTimeoutMs, () => {
      fail(TRANSPORT_ERROR_CODES.CONNECT, 'connect-timeout', `no TCP connection within ${ctx.connectTimeoutMs} ms`);
    });

    let settled = false;
    const detach = (): void => {
      settled = true;
      timer.cancel();
      socket.off('connect', onConnect);
      socket.off('secureConnect', onSecure);
      socket.off('error', onError);
      socket.off('close', onClose);
    };
    const fail = (code: TransportErrorCode, reason: string, detail: string): void => {
      detach();
      const remote = endpoint(socket.remoteAddress ?? target.address, socket.remotePort ?? target.port);
      socket.on('error', () => {}); // late errors of a socket we are discarding
      socket.destroy();
      if (this.entries.get(key) === entry) this.entries.delete(key);
      if (code === TRANSPORT_ERROR_CODES.TLS_HANDSHAKE) {
        ctx.events.emit('tlsFailure', { role: 'client', reason, remote, detail, servername: target.servername ?? null });
      }
      const err = new TransportError(code, reason, `${target.transport} ${hostPort(target)}: ${reason}: ${detail}`);
      for (const q of queue.splice(0)) q.reject(err);
    };
    const onConnect = (): void => {
      if (!isTls) return established();
      // S-TLS-6: the handshake has its own limit, counted from the TCP connect.
      phase = 'tls';
      timer.cancel();
      timer = ctx.clock.setTimer(ctx.handshakeTimeoutMs, () => {
        fail(TRANSPORT_ERROR_CODES.TLS_HANDSHAKE, 'handshake-timeout', `no TLS handshake within ${ctx.handshakeTimeoutMs} ms (S-TLS-6)`);
      });
    };
    const onSecure = (): void => {
      // The handshake is done (S-TLS-6 met); verification may take longer (a CRL fetch, S-VAL-5).
      timer.cancel();
      const judge = (verdict: VerifyResult): void => {
        if (settled) return;
        if (!verdict.ok) return fail(TRANSPORT_ERROR_CODES.TLS_HANDSHAKE, verdict.reason, verdict.detail);
        established();
      };
      const v = safeVerify(ctx.verifyPeer, socket as tls.TLSSocket, target);
      if ('then' in v) v.then(judge, (err: unknown) => judge({ ok: false, reason: 'verify-error', detail: errorDetail(err) }));
      else judge(v);
    };
    const onError = (err: Error): void => {
      if (phase === 'tcp') fail(TRANSPORT_ERROR_CODES.CONNECT, classifyConnectError(err), errorDetail(err));
      else fail(TRANSPORT_ERROR_CODES.TLS_HANDSHAKE, ctx.classifyTlsError(err), errorDetail(err));
    };
    const onClose = (): void => {
      if (phase === 'tcp') fail(TRANSPORT_ERROR_CODES.CONNECT, 'connect-closed', 'closed before connecting');
      else fail(TRANSPORT_ERROR_CODES.TLS_HANDSHAKE, 'handshake-aborted', 'closed during the TLS handshake');
    };
    const established = (): void => {
      detach();
      const details = tlsOpts ? tlsDetailsOf(socket as tls.TLSSocket, tlsOpts.servername ?? null) : null;
      const flow = ctx.adopt(socket, {
        transport: target.transport,
        local: endpoint(socket.localAddress, socket.localPort),
        remote: endpoint(socket.remoteAddress, socket.remotePort),
        tls: details,
      });
      if (this.entries.get(key) === entry) this.entries.set(key, { state: 'open', flow });
      this.keyOfFlow.set(flow.id, key);
      if (details) {
        ctx.events.emit('tlsEstablished', { role: 'client', flowId: flow.id, cipher: details.cipher, protocol: details.protocol, remote: flow.info.remote, servername: details.servername, resumed: (socket as tls.TLSSocket).isSessionReused() });
      }
      // Queued sends go out in the order they were made, each in one write.
      for (const q of queue.splice(0)) {
        if (flow.send(q.data)) q.resolve(flow.info);
        else q.reject(new TransportError(TRANSPORT_ERROR_CODES.CLOSED, 'flow-closed', `${flow.id} closed before the message could be sent`));
      }
    };

    const entry: Entry = {
      state: 'connecting',
      queue,
      abort: (reason) => {
        fail(TRANSPORT_ERROR_CODES.CLOSED, reason, `connect aborted during the ${phase} phase`);
        return socketClosed;
      },
    };
    this.entries.set(key, entry);
    socket.once('connect', onConnect);
    if (isTls) socket.once('secureConnect', onSecure);
    socket.on('error', onError);
    socket.once('close', onClose);
  }

  private tlsOptions(target: StreamTarget): tls.ConnectionOptions {
    const base = this.ctx.connectOptions(target);
    const opts: tls.ConnectionOptions = { ...base, host: target.address, port: target.port };
    // SNI: the target's name; Node sends none for an IP literal (RFC 6066 §3).
    const servername = target.servername ?? base.servername ?? (net.isIP(target.address) ? undefined : target.address);
    if (servername !== undefined) opts.servername = servername;
    return opts;
  }
}

function safeVerify(verify: VerifyPeer, socket: tls.TLSSocket, target: PeerAddress): VerifyResult | Promise<VerifyResult> {
  try {
    return verify(socket, target);
  } catch (err) {
    return { ok: false, reason: 'verify-error', detail: errorDetail(err) };
  }
}
