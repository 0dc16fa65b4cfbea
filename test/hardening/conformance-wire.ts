import dgram from 'node:dgram';
import net from 'node:net';
import { buildResponse } from '../../src/message/build-response.js';
import { parseMessage } from '../../src/message/parse-message.js';
import { EdgeProcess } from '../helpers/edge-process.js';

/**
 * Shared plumbing of the conformance tests: the edge between a client standing in for the PBX
 * (inside UDP and TCP) and an upstream standing in for the trunk's lb host (UDP), which answers
 * every request it is sent (200, or 486 for an INVITE) and records what it got.
 */
export const EDGE_NAME = 'edge.test.sips-edge.test';

export function conformanceConfig(upstreamPort: number, extra = ''): string {
  return `edge:
  name: ${EDGE_NAME}
listen:
  - { side: inside, transport: udp, address: 127.0.0.1, port: 0 }
  - { side: inside, transport: tcp, address: 127.0.0.1, port: 0 }
  - { side: outside, transport: udp, address: 127.0.0.1, port: 0 }
timers: { T1: 100, T2: 1000, T4: 1000, timerC: 181000 }
trunks:
  - name: far
    hosts:
      - { host: far1.lab.test, port: ${upstreamPort}, priority: 0 }
    transport: udp
    insecure: true
    mode: dnis
    strategy: priority
    failover: 1
    health: { enabled: false }
peers:
  - name: pbx
    host: 127.0.0.1
    port: 5090
    sources: [127.0.0.1/32]
    trunk: far
routing:
  defaultTrunk: far
dns:
  overrides:
    far1.lab.test: [127.0.0.1]
srtp:
  policy: audit
admin:
  enabled: false
${extra}`;
}

/** The stand-in lb host: answers each request (not ACK) and keeps what it received. */
export class Upstream {
  readonly received: Buffer[] = [];
  /** Rewrites the answer's bytes before sending (to send non-canonical responses). */
  rewrite: (response: Buffer) => Buffer = (b) => b;
  private constructor(readonly socket: dgram.Socket) {
    socket.on('message', (data, rinfo) => {
      this.received.push(data);
      const r = parseMessage(data);
      if (!r.ok || !r.value.isRequest || r.value.method === 'ACK') return;
      const status = r.value.method === 'INVITE' ? 486 : 200;
      socket.send(this.rewrite(buildResponse(r.value, status).serialize()), rinfo.port, rinfo.address);
    });
  }

  static async start(): Promise<Upstream> {
    const s = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => s.bind(0, '127.0.0.1', resolve));
    return new Upstream(s);
  }

  get port(): number {
    return this.socket.address().port;
  }

  /** Requests received whose bytes contain `key`. */
  got(key: string): Buffer[] {
    return this.received.filter((b) => b.includes(key));
  }

  close(): void {
    this.socket.close();
  }
}

/** A SIP status line's code, or 0. */
export function statusOf(b: Buffer): number {
  const m = /^SIP\/2\.0 (\d{3})/.exec(b.toString('latin1', 0, 16));
  return m === null ? 0 : Number(m[1]);
}

/**
 * The client on UDP: one socket, responses collected by a key they must contain (the Call-ID or
 * the branch), so late retransmissions of earlier answers never count for a later message.
 */
export class UdpClient {
  readonly got: Buffer[] = [];
  private waiters: (() => void)[] = [];
  private constructor(readonly socket: dgram.Socket, private readonly edgePort: number) {
    socket.on('message', (d) => {
      this.got.push(d);
      for (const w of this.waiters.splice(0)) w();
    });
  }

  static async open(edgePort: number): Promise<UdpClient> {
    const s = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => s.bind(0, '127.0.0.1', resolve));
    return new UdpClient(s, edgePort);
  }

  get port(): number {
    return this.socket.address().port;
  }

  send(data: Buffer): void {
    this.socket.send(data, this.edgePort, '127.0.0.1');
  }

  /** The first final response (>= 200) containing `key`, or null after `ms`. */
  async final(key: string, ms = 4000): Promise<Buffer | null> {
    return waitUntil(() => this.got.find((b) => statusOf(b) >= 200 && b.includes(key)) ?? null, (w) => this.waiters.push(w), ms);
  }

  close(): void {
    this.socket.close();
  }
}

/** A TCP connection to the edge: bytes collected, close noticed. */
export class TcpClient {
  private buf = Buffer.alloc(0);
  closed = false;
  private waiters: (() => void)[] = [];
  private constructor(readonly socket: net.Socket) {
    socket.on('data', (d: Buffer) => {
      this.buf = Buffer.concat([this.buf, d]);
      this.wake();
    });
    socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
    socket.on('error', () => undefined);
  }

  static async open(port: number): Promise<TcpClient> {
    const s = net.connect(port, '127.0.0.1');
    await new Promise<void>((resolve, reject) => s.once('connect', resolve).once('error', reject));
    return new TcpClient(s);
  }

  get localPort(): number {
    return this.socket.localPort ?? 0;
  }

  send(data: Buffer): void {
    this.socket.write(data);
  }

  /** Messages received so far, split on the blank line (every answer here has Content-Length: 0 or a small body). */
  messages(): Buffer[] {
    const out: Buffer[] = [];
    let off = 0;
    for (;;) {
      const end = this.buf.indexOf('\r\n\r\n', off);
      if (end < 0) break;
      const head = this.buf.toString('latin1', off, end);
      const cl = /\r\n(?:content-length|l)[ \t]*:[ \t]*(\d+)/i.exec(head);
      const total = end + 4 + (cl === null ? 0 : Number(cl[1]));
      if (total > this.buf.length) break;
      out.push(this.buf.subarray(off, total));
      off = total;
    }
    return out;
  }

  async final(key: string, ms = 4000): Promise<Buffer | null> {
    return waitUntil(() => this.messages().find((b) => statusOf(b) >= 200 && b.includes(key)) ?? null, (w) => this.waiters.push(w), ms);
  }

  async whenClosed(ms = 4000): Promise<boolean> {
    return (await waitUntil(() => (this.closed ? true : null), (w) => this.waiters.push(w), ms)) ?? false;
  }

  close(): void {
    this.socket.destroy();
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }
}

/** Re-checks `probe` on every event until it yields a value, or gives up after `ms` (a bound, not a sync). */
async function waitUntil<T>(probe: () => T | null, onEvent: (wake: () => void) => void, ms: number): Promise<T | null> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = probe();
    if (v !== null) return v;
    const left = deadline - Date.now();
    if (left <= 0) return null;
    let timer: NodeJS.Timeout | undefined;
    await new Promise<void>((resolve) => {
      timer = setTimeout(resolve, left);
      onEvent(resolve);
    });
    clearTimeout(timer);
  }
}

/**
 * An OPTIONS to the edge itself, answered 200 by it: sent after a message the edge must drop, its
 * answer proves the earlier bytes were handled (one socket, handled in order) without an answer.
 */
export function selfPing(id: string, client: { port: number }, transport: 'UDP' | 'TCP', edgePort: number): Buffer {
  return Buffer.from([
    `OPTIONS sip:${EDGE_NAME}:${edgePort}${transport === 'TCP' ? ';transport=tcp' : ''} SIP/2.0`,
    `Via: SIP/2.0/${transport} 127.0.0.1:${client.port};branch=z9hG4bK-ping-${id};rport`,
    'Max-Forwards: 70',
    `From: <sip:probe@127.0.0.1>;tag=p-${id}`,
    `To: <sip:${EDGE_NAME}>`,
    `Call-ID: ping-${id}@conformance`,
    'CSeq: 1 OPTIONS',
    'Content-Length: 0',
    '', '',
  ].join('\r\n'), 'latin1');
}

/**
 * The RFC's messages name hosts in 192.0.2.0/24 and example.com: the top Via's sent-by is pointed
 * at the client (127.0.0.1:port) so answers come back over loopback. Nothing else is touched (the
 * header section only; Content-Length counts the body).
 */
export function aimTopVia(data: Buffer, port: number): Buffer {
  const text = data.toString('latin1');
  const m = /\r\n(?:via|v)[ \t]*:/i.exec(text);
  if (m === null) return data;
  // sent-protocol (three tokens, LWS and folds allowed around the slashes), then the host.
  const re = /[A-Za-z0-9.!%*_+`'~-]+(?:\s*\/\s*[A-Za-z0-9.!%*_+`'~-]+){2}\s+([A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(:\d+)?/y;
  re.lastIndex = m.index + m[0].length;
  while (/\s/.test(text[re.lastIndex] ?? '')) re.lastIndex++;
  const v = re.exec(text);
  if (v === null) return data;
  const hostAt = v.index + v[0].length - v[1]!.length - (v[2]?.length ?? 0);
  const out = text.slice(0, hostAt) + `127.0.0.1:${port}` + text.slice(v.index + v[0].length);
  return Buffer.from(out, 'latin1');
}

export async function startEdge(upstream: Upstream, extra = ''): Promise<EdgeProcess> {
  return EdgeProcess.start(conformanceConfig(upstream.port, extra));
}

/** The Call-ID (or, without one, the top branch) that answers and forwarded copies carry. */
export function keyOf(data: Buffer): string {
  const text = data.toString('latin1');
  const c = /\r\n(?:call-id|i)[ \t]*:[ \t]*([^\r\n]+)/i.exec(text);
  if (c !== null) return c[1]!.trim();
  const b = /branch[ \t]*=[ \t]*([^;,\s]+)/i.exec(text);
  return b === null ? '' : b[1]!;
}
