/**
 * The warm-up's second half: calls through a private SIP stack on loopback sockets, after the
 * in-memory synthetic calls (proxy/synthetic-call.ts) and before the real listeners bind.
 *
 * The in-memory calls compile the parser, transaction layer and proxy core, but not what only
 * sockets run: dgram's send and receive, the stream socket's read path, the framer, flows and the
 * connection pool. A worker warmed in memory only was still busy 142 of its first 153 ms of real
 * traffic in those paths (docs/latency.md, 2026-12-03), so the first calls after every start or
 * worker restart waited 40-108 ms. Here a scripted UAC on a UDP socket and a stateless UAS on a
 * TCP server (both 127.0.0.1, ephemeral ports, exclusive binds even in a cluster worker) place
 * calls through `startSipStack` with a config of its own: inside UDP, a TCP trunk, DNIS mode,
 * the SRTP gate on offer and answer. The private stack never sheds its own calls (the loop-delay and
 * loop-busy limits read this process's loop, which the warm-up keeps busy on purpose); a call that is
 * refused anyway (any final non-2xx to the INVITE) is ACKed (RFC 3261 §17.1.1.3), counted `refused`
 * and replaced, so no refusal stalls the run. TCP and not TLS: the TLS socket's read and write path after
 * the handshake is the same JS (stream_base_commons), and a TLS leg would need a certificate the
 * edge trusts. Nothing it builds outlives it: the stack is stopped and the sockets closed, it has
 * no observer (metrics stay untouched) and no log. It never fails the start: a call that does not
 * complete is counted out, and the whole run is bounded in time. Nothing off the machine can reach
 * it: every socket is on 127.0.0.1, for under a second, and the only route leads to the stand-in UAS.
 */
import dgram from 'node:dgram';
import net from 'node:net';
import { loadConfigText } from './config/load-config.js';
import { NO_SECRETS } from './config/secrets.js';
import { StreamFramer } from './message/stream-framer.js';
import { callNumberOf, routeSetOf, scriptedUacRequest, scriptedUasOk } from './proxy/synthetic-call.js';
import { startSipStack, type SipStack } from './sip-stack.js';

export interface LoopbackWarmUpResult {
  readonly calls: number;
  readonly completed: number;
  /** Calls whose INVITE got a final non-2xx (they end there: ACKed, not retried). */
  readonly refused: number;
  readonly ms: number;
  /** Why it stopped short, when something threw (the private stack did not start, a bind failed). */
  readonly error?: string;
}

export interface LoopbackWarmUpOptions {
  /** Calls in flight at once (default 8: a steady trickle, as a PBX sends). */
  readonly window?: number;
  /** The whole run stops after this long, complete or not (default 5,000 ms). */
  readonly timeoutMs?: number;
  /** `limits.*` of the private stack over the warm-up's own (tests: force refusals). */
  readonly limits?: Readonly<Record<string, number>>;
}

const UAS_NAME = 'warmup-uas.invalid';

/** Runs `calls` calls UAC -> UDP -> edge -> TCP -> UAS and back (INVITE/100/200/ACK/BYE/200). */
export async function warmUpLoopback(calls: number, opts: LoopbackWarmUpOptions = {}): Promise<LoopbackWarmUpResult> {
  const t0 = performance.now();
  const window = opts.window ?? 8;
  const uas = await startUas();
  const uac = dgram.createSocket({ type: 'udp4' });
  let stack: SipStack | null = null;
  let counts = { completed: 0, refused: 0 };
  let error: string | undefined;
  try {
    const uacPort = await new Promise<number>((resolve, reject) => {
      uac.once('error', reject);
      uac.bind({ address: '127.0.0.1', port: 0, exclusive: true }, () => resolve(uac.address().port));
    });
    stack = await startSipStack(warmUpConfig(uacPort, uas.port, opts.limits ?? {}), { secrets: NO_SECRETS });
    const edgePort = stack.listeners.find((l) => l.transport === 'udp')!.port;
    counts = await placeCalls(uac, uacPort, edgePort, calls, window, opts.timeoutMs ?? 5000);
  } catch (e) {
    // The edge starts anyway; `completed` and `error` tell how far it got.
    error = e instanceof Error ? e.message : String(e);
  } finally {
    await stack?.stop().catch(() => undefined);
    await new Promise<void>((resolve) => uac.close(() => resolve()));
    await uas.close();
  }
  return { calls, completed: counts.completed, refused: counts.refused, ms: Math.round(performance.now() - t0), ...(error !== undefined ? { error } : {}) };
}

function warmUpConfig(uacPort: number, uasPort: number, limits: Readonly<Record<string, number>>): ReturnType<typeof loadConfigText> {
  const doc = {
    edge: { name: 'warmup.invalid', warmupCalls: 0, drainTimeoutSeconds: 0 },
    listen: [{ side: 'inside', transport: 'udp', address: '127.0.0.1', port: 0 }],
    tls: { revocation: 'off' },
    trunks: [{
      name: 'warmup', hosts: [{ host: UAS_NAME, port: uasPort }], transport: 'tcp', insecure: true,
      mode: 'dnis', failover: 0, health: { enabled: false }, preconnect: false,
    }],
    peers: [{ name: 'warmup-uac', host: '127.0.0.1', port: uacPort, sources: ['127.0.0.1/32'], trunk: 'warmup' }],
    routing: { defaultTrunk: 'warmup' },
    dns: { overrides: { [UAS_NAME]: ['127.0.0.1'] } },
    admin: { enabled: false },
    limits: { knownSourceRequestRate: 1_000_000, knownSourceRequestBurst: 1_000_000, maxEventLoopDelayMs: 0, maxEventLoopUtilizationPercent: 0, ...limits },
  };
  // JSON is YAML: the same loader and checks as a config file.
  return loadConfigText(JSON.stringify(doc), '<loopback warm-up>', {});
}

/**
 * The UAC: `window` calls at a time; each ends at the 200 to its BYE (completed) or at a final
 * non-2xx to its INVITE (refused). Resolves with both counts.
 */
function placeCalls(uac: dgram.Socket, uacPort: number, edgePort: number, calls: number, window: number, timeoutMs: number): Promise<{ completed: number; refused: number }> {
  return new Promise((resolve) => {
    let started = 0;
    let done = 0;
    const refused = new Set<number>();
    const finish = (): void => {
      clearTimeout(timer);
      uac.removeAllListeners('message');
      resolve({ completed: done - refused.size, refused: refused.size });
    };
    const timer = setTimeout(finish, timeoutMs);
    const send = (b: Buffer): void => uac.send(b, edgePort, '127.0.0.1');
    const ruri = `sip:service@127.0.0.1:${edgePort}`;
    const next = (): void => {
      if (started >= calls) {
        if (done >= calls) finish();
        return;
      }
      const n = started++;
      send(scriptedUacRequest('INVITE', ruri, n, 'inv', 1, [], uacPort));
    };
    uac.on('message', (data) => {
      const text = data.toString('latin1');
      if (!text.startsWith('SIP/2.0 200')) {
        // A final refusal of the INVITE (503 from the limits, 4xx...): ACK it with the INVITE's
        // branch so the edge's transaction stops resending, and start the next call. A resent
        // refusal of a call already counted (the ACK crossed it) is ACKed again, not counted.
        const status = Number(text.slice(8, 11));
        if (status < 300 || !text.includes(' INVITE\r\n')) return;
        const n = callNumberOf(text);
        const toTag = /^To: [^\r]*;tag=([^;\r]+)/m.exec(text)?.[1];
        send(scriptedUacRequest('ACK', ruri, n, 'inv', 1, [], uacPort, toTag));
        if (refused.has(n)) return;
        refused.add(n);
        done++;
        next();
        return;
      }
      const n = callNumberOf(text);
      if (text.includes(' INVITE\r\n')) {
        const routeSet = routeSetOf(text);
        const target = /^Contact: <([^>]+)>/m.exec(text)?.[1] ?? `sip:uas@127.0.0.1`;
        const routes = [`Route: ${routeSet.join(', ')}`];
        send(scriptedUacRequest('ACK', target, n, 'ack', 1, routes, uacPort));
        send(scriptedUacRequest('BYE', target, n, 'bye', 2, routes, uacPort));
      } else if (text.includes(' BYE\r\n')) {
        done++;
        next();
      }
    });
    for (let i = 0; i < window; i++) next();
  });
}

interface Uas {
  readonly port: number;
  close(): Promise<void>;
}

/** The upstream's stand-in: answers INVITE (with SDP) and BYE with a stateless 200, drops ACK. */
async function startUas(): Promise<Uas> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    // The project's RFC 3261 §18.3 framer, with its default message limits.
    const framer = new StreamFramer({
      onMessage: (bytes) => {
        const message = bytes.toString('latin1');
        const contact = `sip:uas@127.0.0.1:${(server.address() as net.AddressInfo).port};transport=tcp`;
        if (message.startsWith('INVITE ')) socket.write(scriptedUasOk(message, callNumberOf(message), true, contact));
        else if (message.startsWith('BYE ')) socket.write(scriptedUasOk(message, callNumberOf(message), false, contact));
      },
      onKeepAlive: (kind) => {
        if (kind === 'ping') socket.write('\r\n');
      },
      onError: () => socket.destroy(),
    });
    socket.on('data', (chunk: Buffer) => framer.push(chunk));
  });
  const port = await new Promise<number>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port: 0, exclusive: true }, () => resolve((server.address() as net.AddressInfo).port));
  });
  return {
    port,
    close: () => new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    }),
  };
}
