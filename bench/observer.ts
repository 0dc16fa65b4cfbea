/**
 * The proxy observer's cost per call (issue 13): the events one call through the edge raises
 * (three transactions done, a target outcome, an offer and an answer checked), into real prom-client
 * counters and a pino logger writing nowhere: at `warn` (what bench/cps.sh runs: counters only) and
 * at `info` (the default: one `transaction` line per transaction too). Prints JSON; not a test.
 *   node .test-build/bench/observer.js      (BENCH_MS, default 2000)
 */
import { createLogger } from '../src/observability/logger.js';
import { createMetrics } from '../src/observability/metrics.js';
import { createProxyObserver } from '../src/observability/proxy-observer.js';
import { conditions, opsPerSecond } from './lib.js';

const ms = Number(process.env.BENCH_MS ?? 2000);
const done = { callId: 'c', fromSide: 'inside', toSide: 'outside', peer: 'pbx1', transport: 'udp', durationMs: 12, route: 'euc1', target: 'lb01.voice.euc1.pure.cloud', code: null } as const;

// Built once: what is timed is the observer, not the events' allocation.
const invite = { ...done, method: 'INVITE', status: 200 } as const;
const bye = { ...done, method: 'BYE', status: 200 } as const;
const ack = { ...done, method: 'ACK', status: 0 } as const;
const outcome = { trunk: 'euc1', target: 'lb01.voice.euc1.pure.cloud', status: 200, reason: null } as const;
const offer = { direction: 'request', ok: true, audit: false, reason: null } as const;
const answer = { direction: 'response', ok: true, audit: false, reason: null } as const;

async function nsPerCall(level: 'warn' | 'info'): Promise<number> {
  const metrics = createMetrics({ processMetrics: false });
  const observer = createProxyObserver({ log: createLogger({ level, destination: { write: () => {} } }), metrics });
  const callsPerSecond = opsPerSecond(() => {
    observer.transactionDone(invite);
    observer.targetOutcome(outcome);
    observer.sdpChecked(offer);
    observer.sdpChecked(answer);
    observer.transactionDone(bye);
    observer.transactionDone(ack);
  }, ms);
  // The counts must have reached prom-client, or the figure is of nothing.
  if (!(await metrics.registry.metrics()).includes('sips_edge_requests_total{method="INVITE"')) throw new Error('bench/observer: nothing counted');
  return Math.round(1e9 / callsPerSecond);
}

const atWarn = await nsPerCall('warn');
const atInfo = await nsPerCall('info');
console.log(JSON.stringify({ bench: 'observer', ...conditions(), ns_per_call_at_warn: atWarn, ns_per_call_at_info: atInfo }));
