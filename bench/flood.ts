/**
 * Issue 11 item 8/9 figures: legitimate calls (SIPp PBX -> edge -> SIPp far end, UDP) while a
 * bounded UDP INVITE flood hits the edge's inside listener, with the edge's production default
 * limits and RFC 3261 default timers. Scenarios (each on a fresh edge process): no flood; a flood from a stranger address; a
 * flood from a configured peer (whose trunk never answers). Prints one JSON document: per scenario
 * the calls attempted and completed, datagrams sent, the edge's CPU and the admission counters.
 *   node .test-build/bench/flood.js [--rate 20000] [--calls 300] [--cps 30]
 * Loopback only; every process it starts is stopped by PID; the flood is bounded by --calls/--cps.
 */
import { readFileSync } from 'node:fs';
import { EdgeProcess } from '../test/helpers/edge-process.js';
import { freeUdpPort, runSipp, udpBound } from '../test/helpers/sipp.js';
import { FAR_NUMBER, PBX2, SINK_NUMBER, STRANGER, UdpSender, invite, metricSum, overloadConfig, scrape } from '../test/helpers/overload.js';
import { conditions } from './lib.js';

function arg(name: string, dflt: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
}

const FLOOD_RATE = arg('rate', 20_000);
const CALLS = arg('calls', 300);
const CPS = arg('cps', 30);
const CLK_TCK = 100;

function cpuTicks(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = f.slice(f.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]); // utime, stime (fields 14, 15)
}

async function scenario(name: string, flooder: string | null): Promise<Record<string, unknown>> {
  const far = await freeUdpPort();
  const sink = await UdpSender.bind('127.0.0.1');
  const edge = await EdgeProcess.start(overloadConfig({ farPort: far, sinkPort: sink.port, limits: ['maxPendingRequests: 5000'], timers: '{ T1: 500, T2: 4000, T4: 5000, timerC: 181000 }' }));
  const pid = edge.proc.pid!;
  const port = edge.port('inside', 'udp');
  const uas = runSipp({ scenario: 'uas-answer-expect-bye.xml', port: far, calls: CALLS, timeoutSeconds: Math.ceil(CALLS / CPS) + 30 });
  await udpBound(far);
  const sender = flooder === null ? null : await UdpSender.bind(flooder);
  const t0 = performance.now();
  const c0 = cpuTicks(pid);
  const uac = runSipp({ scenario: 'uac-call-caller-bye.xml', port: await freeUdpPort(), remote: `127.0.0.1:${port}`, calls: CALLS, rate: CPS, service: FAR_NUMBER, timeoutSeconds: Math.ceil(CALLS / CPS) + 30 });
  let stop = false;
  const callsDone = Promise.all([uac.done, uas.done]).finally(() => { stop = true; });
  let sent = 0;
  if (sender !== null) {
    // Paced in 10 ms rounds; bounded by the calls' duration (and so by --calls / --cps).
    const perRound = Math.max(1, Math.round(FLOOD_RATE / 100));
    const start = performance.now();
    while (!stop) {
      const due = Math.floor(((performance.now() - start) / 1000) * FLOOD_RATE);
      const batch: Promise<void>[] = [];
      for (let i = 0; sent < due && i < perRound * 4; i++, sent++) batch.push(sender.send(invite(sender, port, SINK_NUMBER), port));
      await Promise.all(batch);
      await new Promise((r) => setTimeout(r, 10));
    }
  }
  const [uacResult] = await callsDone;
  const seconds = (performance.now() - t0) / 1000;
  const cpu = ((cpuTicks(pid) - c0) / CLK_TCK / seconds) * 100;
  const metrics = await scrape(edge);
  const completed = edge.events('transaction').filter((l) => l['method'] === 'INVITE' && l['status'] === 200).length;
  const result = {
    scenario: name,
    calls: CALLS,
    cps: CPS,
    completed,
    sippExit: uacResult.code,
    floodDatagrams: sent,
    floodRate: Math.round(sent / seconds),
    seconds: Number(seconds.toFixed(1)),
    edgeCpuPercent: Number(cpu.toFixed(1)),
    refused: {
      sourceRate: metricSum(metrics, 'sips_edge_admission_refused_total', { reason: 'source-rate' }),
      strangersRate: metricSum(metrics, 'sips_edge_admission_refused_total', { reason: 'strangers-rate' }),
      trunkPending: metricSum(metrics, 'sips_edge_admission_refused_total', { reason: 'trunk-pending' }),
    },
    refusalResponses: {
      sent: metricSum(metrics, 'sips_edge_overload_responses_total', { result: 'sent' }),
      suppressed: metricSum(metrics, 'sips_edge_overload_responses_total', { result: 'suppressed' }),
      silent: metricSum(metrics, 'sips_edge_overload_responses_total', { result: 'silent' }),
    },
    answersToFlooder: sender?.received.length ?? 0,
    edgeRssMb: Math.round(metricSum(metrics, 'sips_edge_process_resident_memory_bytes') / 1048576),
  };
  await sender?.close();
  await sink.close();
  await edge.stop();
  return result;
}

const results = [];
results.push(await scenario('no flood', null));
results.push(await scenario('stranger flood', STRANGER));
results.push(await scenario('peer flood (its trunk never answers)', PBX2));
process.stdout.write(JSON.stringify({ bench: 'flood', conditions: conditions(), floodTargetRate: FLOOD_RATE, results }, null, 2) + '\n');
