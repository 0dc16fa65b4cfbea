import { VirtualClock } from '../../src/clock.js';
import type { SipMessage } from '../../src/message/message.js';
import { TransactionLayer, type TransactionLayerOptions } from '../../src/transaction/transaction-layer.js';
import type { ServerTransaction } from '../../src/transaction/server-transaction.js';
import type { ClientTransactionHandlers, PeerAddress, TransactionTransport, TransportFailure } from '../../src/transaction/types.js';
import { parse } from './transaction-messages.js';

export interface SentRecord {
  readonly at: number;
  readonly dest: PeerAddress;
  readonly message: SipMessage;
  /** Request method or response status, e.g. 'INVITE', 'ACK', '486'. */
  readonly label: string;
}

/** Records every send; `rejectNext`/`rejectAll` make sends fail like the real transport (§17.1.4). */
export class FakeTransport implements TransactionTransport {
  readonly sent: SentRecord[] = [];
  private rejections = 0;
  rejectAll = false;
  reason = 'connect-refused';

  constructor(private readonly clock: VirtualClock) {}

  send(data: Buffer, dest: PeerAddress): Promise<void> {
    const message = parse(data.toString('latin1'));
    const label = message.isRequest ? message.method : String(message.status);
    this.sent.push({ at: this.clock.now(), dest, message, label });
    if (this.rejectAll || this.rejections > 0) {
      if (this.rejections > 0) this.rejections--;
      return Promise.reject(Object.assign(new Error(`send failed: ${this.reason}`), { reason: this.reason }));
    }
    return Promise.resolve();
  }

  rejectNext(n = 1): void {
    this.rejections = n;
  }

  labels(): string[] {
    return this.sent.map((s) => s.label);
  }

  times(label: string): number[] {
    return this.sent.filter((s) => s.label === label).map((s) => s.at);
  }

  clear(): void {
    this.sent.length = 0;
  }
}

/** Lets rejected sends settle (promise callbacks run on the microtask queue). */
export function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

export interface RecordedClient {
  readonly responses: SipMessage[];
  timeouts: number;
  readonly failures: TransportFailure[];
  terminated: number;
  readonly handlers: ClientTransactionHandlers;
}

export function recordClient(): RecordedClient {
  const rec: RecordedClient = {
    responses: [],
    timeouts: 0,
    failures: [],
    terminated: 0,
    handlers: {
      onResponse: (r) => rec.responses.push(r),
      onTimeout: () => { rec.timeouts++; },
      onTransportError: (f) => rec.failures.push(f),
      onTerminated: () => { rec.terminated++; },
    },
  };
  return rec;
}

export interface Harness {
  readonly clock: VirtualClock;
  readonly transport: FakeTransport;
  readonly layer: TransactionLayer;
  readonly requests: { request: SipMessage; tx: ServerTransaction }[];
  readonly acks: { ack: SipMessage; source: PeerAddress; tx: ServerTransaction | null }[];
  readonly strays: SipMessage[];
  readonly ended: ServerTransaction[];
}

export function harness(overrides: Partial<Pick<TransactionLayerOptions, 'onRequest' | 'compactLingering' | 'timers'>> = {}): Harness {
  const clock = new VirtualClock();
  const transport = new FakeTransport(clock);
  const h: Omit<Harness, 'layer'> = { clock, transport, requests: [], acks: [], strays: [], ended: [] };
  const layer = new TransactionLayer({
    transport,
    clock,
    onRequest: (request, tx) => {
      h.requests.push({ request, tx });
      overrides.onRequest?.(request, tx);
    },
    onAck: (ack, source, tx) => h.acks.push({ ack, source, tx }),
    onStrayResponse: (r) => h.strays.push(r),
    onServerTxTerminated: (tx) => h.ended.push(tx),
    ...(overrides.compactLingering !== undefined ? { compactLingering: overrides.compactLingering } : {}),
    ...(overrides.timers !== undefined ? { timers: overrides.timers } : {}),
  });
  return { ...h, layer };
}

export const UDP_DEST: PeerAddress = { transport: 'udp', address: '198.51.100.7', port: 5060 };
export const TLS_DEST: PeerAddress = { transport: 'tls', address: 'lb01.euc1.example.com', port: 5061, servername: 'lb01.euc1.example.com' };

export function udpSource(address = '192.0.2.10', port = 5060): PeerAddress {
  return { transport: 'udp', address, port, localAddress: '203.0.113.1', localPort: 5060 };
}

export function tlsSource(flowId = 'flow-1', address = '192.0.2.10', port = 40112): PeerAddress {
  return { transport: 'tls', address, port, localAddress: '203.0.113.1', localPort: 5061, flowId };
}
