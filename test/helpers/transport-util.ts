import { EventEmitter } from 'node:events';
import net from 'node:net';
import type { Transport } from '../../src/transport/transport.js';
import type { TransportEventMap, TransportEventName } from '../../src/transport/transport-events.js';
import type { ReceivedMessage } from '../../src/transport/types.js';
import { freePort } from './ports.js';

/** A SIP request with a correct Content-Length; `tag` goes into Call-ID and body so tests can tell them apart. */
export function sipRequest(tag: string, bodySize = 0, method = 'OPTIONS'): Buffer {
  const body = bodySize > 0 ? `${tag}:`.padEnd(bodySize, 'x') : '';
  const head = [
    `${method} sip:edge.test.local SIP/2.0`,
    `Via: SIP/2.0/TCP 127.0.0.1:5060;branch=z9hG4bK-${tag}`,
    'Max-Forwards: 70',
    'From: <sip:a@test.local>;tag=1',
    'To: <sip:b@test.local>',
    `Call-ID: ${tag}@test`,
    `CSeq: 1 ${method}`,
    `Content-Length: ${Buffer.byteLength(body, 'latin1')}`,
    '',
    '',
  ].join('\r\n');
  return Buffer.from(head + body, 'latin1');
}

export function sipResponse(tag: string): Buffer {
  return Buffer.from(
    ['SIP/2.0 200 OK', `Via: SIP/2.0/TCP 127.0.0.1:5060;branch=z9hG4bK-${tag}`, `Call-ID: ${tag}@test`, 'CSeq: 1 OPTIONS', 'Content-Length: 0', '', ''].join('\r\n'),
    'latin1',
  );
}

/** The Call-ID tag of a message from sipRequest/sipResponse. */
export function tagOf(data: Buffer): string {
  const m = /Call-ID: ([^@]+)@/.exec(data.toString('latin1'));
  return m?.[1] ?? '';
}

/** Resolves on the next event of that name (matching `filter`). */
export function nextEvent<K extends TransportEventName>(
  t: Transport,
  name: K,
  filter: (e: TransportEventMap[K]) => boolean = () => true,
): Promise<TransportEventMap[K]> {
  return new Promise((resolve) => {
    const fn = (e: TransportEventMap[K]): void => {
      if (!filter(e)) return;
      t.events.off(name, fn);
      resolve(e);
    };
    t.events.on(name, fn);
  });
}

/** Queues every message the transport receives; `next()` waits for the next one. */
export class Inbox {
  private readonly items: ReceivedMessage[] = [];
  private readonly ee = new EventEmitter();

  constructor(t: Transport) {
    t.onMessage((m) => {
      this.items.push({ ...m, data: Buffer.from(m.data) });
      this.ee.emit('item');
    });
  }

  async next(): Promise<ReceivedMessage> {
    while (this.items.length === 0) await new Promise((r) => this.ee.once('item', r));
    return this.items.shift()!;
  }

  async take(n: number): Promise<ReceivedMessage[]> {
    const out: ReceivedMessage[] = [];
    for (let i = 0; i < n; i++) out.push(await this.next());
    return out;
  }
}

/** Collects bytes received on a socket; `waitFor(n)` resolves once at least n bytes have come. */
export class ByteSink {
  readonly chunks: Buffer[] = [];
  private readonly ee = new EventEmitter();
  closed = false;

  constructor(socket: net.Socket) {
    socket.on('data', (c: Buffer) => {
      this.chunks.push(c);
      this.ee.emit('change');
    });
    socket.on('close', () => {
      this.closed = true;
      this.ee.emit('change');
    });
  }

  get bytes(): Buffer {
    return Buffer.concat(this.chunks);
  }

  async waitFor(predicate: (all: Buffer) => boolean): Promise<Buffer> {
    while (!predicate(this.bytes)) {
      if (this.closed) throw new Error(`socket closed; got ${JSON.stringify(this.bytes.toString('latin1'))}`);
      await new Promise((r) => this.ee.once('change', r));
    }
    return this.bytes;
  }

  async waitClosed(): Promise<void> {
    while (!this.closed) await new Promise((r) => this.ee.once('change', r));
  }
}

export function connectTcp(port: number, host = '127.0.0.1'): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ port, host }, () => {
      s.off('error', reject);
      resolve(s);
    });
    s.once('error', reject);
  });
}

/** A plain TCP server on 127.0.0.1:0 that records every accepted socket. */
export async function tcpPeer(onSocket: (s: net.Socket) => void = () => {}): Promise<{ server: net.Server; port: number; sockets: net.Socket[]; close(): Promise<void> }> {
  const sockets: net.Socket[] = [];
  const server = net.createServer((s) => {
    sockets.push(s);
    s.on('error', () => {});
    onSocket(s);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  return {
    server,
    port,
    sockets,
    close: () => new Promise<void>((r) => {
      for (const s of sockets) s.destroy();
      server.close(() => r());
    }),
  };
}

/** A port on 127.0.0.1 with nothing listening (outside the ephemeral range: see ports.ts). */
export const closedPort = freePort;
