/**
 * Issue 14, media anchoring through a real local rtpengine (userspace, test/helpers/rtpengine.ts).
 * Prints one JSON document; a skip message (JSON, exit 0) when /usr/bin/rtpengine is absent.
 *
 * 1. `media`: CALLS (100) calls set up straight through createRtpengineAnchor (offer inside RTP ->
 *    outside SRTP, answer back), a carrier CallMedia (RTP) and a vendor CallMedia (SRTP) per call,
 *    50 packets/s each way for MEDIA_SECONDS (10). rtpengine's CPU from /proc/<pid>/stat
 *    (utime+stime over wall time), and this process's own CPU: it makes every packet and does the
 *    vendor side's SRTP in JS, so when it is near one core it is the generator that limits.
 * 2. `sip`: the edge as its own process (the media rig, test/helpers/media-rig.ts: TLS lb stand-in
 *    that answers with SDES), SIPp UAC over UDP, short calls (INVITE/200/ACK/200 ms/BYE, no media),
 *    steps of RATES cps for STEP_SECONDS each: passthrough (peer `pbx`, SRTP offer) and anchored
 *    (peer `carrier`, media: anchor, srtp: none, RTP offer), alternating per step in the same run.
 *    INVITE->200 per call from SIPp's -trace_rtt.
 *
 *   node .test-build/bench/anchor.js      (after npx tsc -p tsconfig.json && npx tsc -p tsconfig.test.json)
 *   CALLS=100 MEDIA_SECONDS=10 RATES="50 100 200 400" STEP_SECONDS=10 PART="media sip"
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { openCarrierMedia } from '../src/lab/media/rtp-carrier.js';
import { openVendorMedia } from '../src/lab/media/srtp-vendor.js';
import type { CallMedia } from '../src/lab/media/call-media.js';
import type { MediaStats } from '../src/lab/media/media-endpoint.js';
import { createRtpengineAnchor } from '../src/media/rtpengine-anchor.js';
import { MediaRig, PASSTHROUGH_ADDRESS } from '../test/helpers/media-rig.js';
import { Rtpengine, rtpengineInstalled } from '../test/helpers/rtpengine.js';
import { freeUdpPort, SCENARIOS } from '../test/helpers/sipp.js';
import { conditions } from './lib.js';

const CALLS = Number(process.env.CALLS ?? 100);
const MEDIA_SECONDS = Math.min(Number(process.env.MEDIA_SECONDS ?? 10), 60);
const RATES = (process.env.RATES ?? '50 100 200 400').split(/\s+/).filter(Boolean).map(Number);
const STEP_SECONDS = Math.min(Number(process.env.STEP_SECONDS ?? 10), 30);
const PART = process.env.PART ?? 'media sip';
const PPS = 50;
const CLK = 100; // USER_HZ: /proc/<pid>/stat counts CPU in clock ticks

/** utime + stime of `pid` in seconds (/proc/<pid>/stat fields 14 and 15, after the `(comm)`). */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / CLK;
}

function selfCpuSeconds(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

function quantiles(ms: number[]): { n: number; p50: number; p99: number; max: number } {
  const s = [...ms].sort((a, b) => a - b);
  const at = (q: number): number => +(s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? 0).toFixed(2);
  return { n: s.length, p50: at(0.5), p99: at(0.99), max: +(s.at(-1) ?? 0).toFixed(2) };
}

function sum(list: MediaStats[], k: keyof Omit<MediaStats, 'source'>): number {
  return list.reduce((a, s) => a + s[k], 0);
}

async function mediaPart(): Promise<Record<string, unknown>> {
  const rtp = await Rtpengine.start();
  const anchor = createRtpengineAnchor({ instances: [{ name: 'bench', address: '127.0.0.1', port: rtp.ngPort }], timeoutMs: 5000, retries: 4 });
  const carriers: CallMedia[] = [];
  const vendors: CallMedia[] = [];
  const ids: string[] = [];
  try {
    await anchor.ready();
    const pid = rtp.pid!;
    const idleCpu0 = cpuSeconds(pid);
    const t0 = performance.now();
    for (let i = 0; i < CALLS; i++) {
      const carrier = await openCarrierMedia();
      const vendor = await openVendorMedia();
      carriers.push(carrier);
      vendors.push(vendor);
      const id = `anchor-bench-${process.pid}-${i}@pbx.example`;
      ids.push(id);
      const off = await anchor.offer({ callId: id, fromTag: 'carrier', sdp: carrier.offer(), from: 'inside', to: 'outside', toMedia: 'srtp' });
      const vAnswer = vendor.answer(off.sdp);
      if (vAnswer === null) throw new Error(`vendor refused rtpengine's offer: ${vendor.refusal}`);
      const ans = await anchor.answer({ callId: id, fromTag: 'carrier', toTag: 'vendor', sdp: vAnswer, from: 'outside', to: 'inside', toMedia: 'rtp' });
      if (!carrier.accept(ans.sdp)) throw new Error(`carrier refused rtpengine's answer: ${carrier.refusal}`);
    }
    const setupMs = performance.now() - t0;
    // rtpengine's CPU with CALLS calls set up and no media, as a baseline over one second.
    const b0 = cpuSeconds(pid);
    const bw0 = performance.now();
    await new Promise((r) => setTimeout(r, 1000));
    const idleCpuShare = (cpuSeconds(pid) - b0) / ((performance.now() - bw0) / 1000);

    const packets = PPS * MEDIA_SECONDS;
    const cpu0 = cpuSeconds(pid);
    const self0 = selfCpuSeconds();
    const w0 = performance.now();
    for (let i = 0; i < CALLS; i++) {
      vendors[i]!.start({ packets });
      carriers[i]!.start({ packets });
    }
    await Promise.all([...carriers, ...vendors].map((m) => m.done()));
    const wall = (performance.now() - w0) / 1000;
    const rtpCpu = cpuSeconds(pid) - cpu0;
    const selfCpu = selfCpuSeconds() - self0;
    // Let the last packets arrive (bounded).
    await new Promise((r) => setTimeout(r, 300));
    const c = carriers.map((m) => m.stats());
    const v = vendors.map((m) => m.stats());
    const expected = CALLS * packets;
    const selfShare = +(selfCpu / wall).toFixed(3);
    const lateTicks = wall > MEDIA_SECONDS * 1.05;
    return {
      calls: CALLS,
      packetsPerSecondPerDirection: PPS,
      seconds: +wall.toFixed(2),
      setupMs: +setupMs.toFixed(0),
      rtpengine: {
        cpuShareOfOneCore: +(rtpCpu / wall).toFixed(4),
        cpuPer100CallsOfOneCore: +((rtpCpu / wall) * (100 / CALLS)).toFixed(4),
        // The generator may run late on a loaded machine: rtpengine's CPU scaled to the target
        // rate (100 calls x 2 directions x 50 pps = 10,000 packets/s), from CPU per packet relayed.
        achievedPacketsPerSecond: Math.round((sum(c, 'sent') + sum(v, 'sent')) / wall),
        cpuMicrosecondsPerPacket: +((rtpCpu * 1e6) / Math.max(1, sum(c, 'sent') + sum(v, 'sent'))).toFixed(2),
        cpuPer100CallsAt50ppsOfOneCore: +(((rtpCpu / Math.max(1, sum(c, 'sent') + sum(v, 'sent'))) * 100 * 2 * PPS)).toFixed(4),
        idleCpuShareWithCallsUp: +idleCpuShare.toFixed(4),
        cpuSecondsBeforeCalls: +idleCpu0.toFixed(2),
      },
      generator: {
        cpuShareOfOneCore: selfShare,
        // Node is single-threaded: near 1 core (or late ticks) means the generator, not rtpengine, limits.
        bottleneck: selfShare > 0.85 || lateTicks,
        wallOverTarget: +(wall / MEDIA_SECONDS).toFixed(3),
      },
      carrierToVendor: {
        sent: sum(c, 'sent'), expected, received: sum(v, 'received'), authenticated: sum(v, 'authenticated'),
        authFailed: sum(v, 'authFailed'), payloadOk: sum(v, 'payloadOk'), delivered: +(sum(v, 'payloadOk') / Math.max(1, sum(c, 'sent'))).toFixed(4),
      },
      vendorToCarrier: {
        sent: sum(v, 'sent'), expected, received: sum(c, 'received'), payloadOk: sum(c, 'payloadOk'),
        malformed: sum(c, 'malformed'), delivered: +(sum(c, 'payloadOk') / Math.max(1, sum(v, 'sent'))).toFixed(4),
      },
    };
  } finally {
    await Promise.all([...carriers, ...vendors].map((m) => m.close()));
    for (const id of ids) await anchor.delete(id).catch(() => undefined);
    await anchor.close();
    await rtp.stop();
  }
}

interface Step {
  readonly cps: number;
  readonly calls: number;
  readonly successful: number;
  readonly failed: number;
  readonly exit: number | null;
  readonly inviteTo200Ms: ReturnType<typeof quantiles>;
  readonly edgeCpuShare: number;
  readonly loadavg1: number;
  /** edge log lines at warn or above during the step, counted by event (why a step failed) */
  readonly edgeWarnings: Record<string, number>;
  /** SIPp's last error lines when it did not exit 0 */
  readonly sippErrors?: string;
}

/** One SIPp UAC step, bounded by -timeout; INVITE->200 per call from -trace_rtt (rtt csv). */
async function sippStep(rig: MediaRig, scenario: string, from: string, cps: number): Promise<Step> {
  const dir = mkdtempSync(join(tmpdir(), 'sipp-anchor-bench-'));
  const calls = cps * STEP_SECONDS;
  const args = [
    rig.inside, '-sf', join(SCENARIOS, scenario), '-i', from, '-p', String(await freeUdpPort()),
    '-m', String(calls), '-r', String(cps), '-l', String(cps * 5), '-s', '4969123456789',
    '-timeout', `${STEP_SECONDS + 20}s`, '-timeout_error', '-nostdin', '-trace_rtt', '-rtt_freq', '1', '-trace_err',
  ];
  const edgePid = rig.edge.proc.pid!;
  const log0 = rig.edge.logs.length;
  const e0 = cpuSeconds(edgePid);
  const w0 = performance.now();
  const p = spawn('sipp', args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  p.stdout.on('data', (d: Buffer) => { out += d.toString(); });
  p.stderr.on('data', (d: Buffer) => { out += d.toString(); });
  const bound = setTimeout(() => p.kill('SIGKILL'), (STEP_SECONDS + 40) * 1000);
  const code = await new Promise<number | null>((r) => p.once('close', (c) => r(c)));
  clearTimeout(bound);
  const edgeCpuShare = (cpuSeconds(edgePid) - e0) / ((performance.now() - w0) / 1000);
  const edgeWarnings: Record<string, number> = {};
  for (const l of rig.edge.logs.slice(log0)) if (l.level >= 40) edgeWarnings[l.event ?? l.msg] = (edgeWarnings[l.event ?? l.msg] ?? 0) + 1;
  let sippErrors = '';
  if (code !== 0) {
    for (const f of readdirSync(dir)) if (f.endsWith('_errors.log')) sippErrors += readFileSync(join(dir, f), 'utf8').split('\n').filter(Boolean).slice(-4).join(' | ');
    sippErrors += ` | ${out.split('\n').filter((l) => /error|timeout|abort/i.test(l)).slice(-3).join(' | ')}`;
  }
  const rtt: number[] = [];
  for (const f of readdirSync(dir)) {
    if (!f.endsWith('_rtt.csv')) continue;
    for (const line of readFileSync(join(dir, f), 'utf8').split('\n').slice(1)) {
      const cols = line.split(';');
      const ms = Number(cols[1]);
      if (cols.length >= 2 && Number.isFinite(ms) && line.trim() !== '') rtt.push(ms);
    }
  }
  rmSync(dir, { recursive: true, force: true });
  const count = (label: string): number => {
    const m = [...out.matchAll(new RegExp(`${label}\\s*\\|\\s*(\\d+)\\s*\\|\\s*(\\d+)`, 'g'))].at(-1);
    return m === undefined ? -1 : Number(m[2]);
  };
  return {
    cps, calls, successful: count('Successful call'), failed: count('Failed call'), exit: code,
    inviteTo200Ms: quantiles(rtt), edgeCpuShare: +edgeCpuShare.toFixed(3), loadavg1: +loadavg()[0]!.toFixed(2),
    edgeWarnings, ...(code !== 0 ? { sippErrors: sippErrors.slice(0, 600) } : {}),
  };
}

async function sipPart(): Promise<Record<string, unknown>> {
  const rig = await MediaRig.start();
  try {
    // Warm-up: a few calls of each kind (TLS connection to lb01 up, JIT, rtpengine port pools).
    await sippStep(rig, 'uac-call-caller-bye.xml', PASSTHROUGH_ADDRESS, 5).catch(() => undefined);
    await sippStep(rig, 'uac-anchor-call.xml', '127.0.0.1', 5).catch(() => undefined);
    const passthrough: Step[] = [];
    const anchored: Step[] = [];
    let pDone = false;
    let aDone = false;
    for (const cps of RATES) {
      if (!pDone) {
        const s = await sippStep(rig, 'uac-call-caller-bye.xml', PASSTHROUGH_ADDRESS, cps);
        passthrough.push(s);
        pDone = s.failed !== 0 || s.exit !== 0;
      }
      if (!aDone) {
        const s = await sippStep(rig, 'uac-anchor-call.xml', '127.0.0.1', cps);
        anchored.push(s);
        aDone = s.failed !== 0 || s.exit !== 0;
      }
      if (pDone && aDone) break;
    }
    const best = (steps: Step[]): Step | null => steps.filter((s) => s.failed === 0 && s.exit === 0).at(-1) ?? null;
    const bp = best(passthrough);
    const ba = best(anchored);
    const common = [...passthrough].reverse().find((s) => s.failed === 0 && s.exit === 0 && anchored.some((a) => a.cps === s.cps && a.failed === 0 && a.exit === 0));
    const ac = common === undefined ? undefined : anchored.find((a) => a.cps === common.cps);
    return {
      stepSeconds: STEP_SECONDS,
      rates: RATES,
      passthrough: { maxCpsZeroFailures: bp?.cps ?? 0, steps: passthrough },
      anchored: { maxCpsZeroFailures: ba?.cps ?? 0, steps: anchored },
      // At the highest rate both passed: what the offer + answer ng round trips add to INVITE->200.
      setupAddedByAnchorMs: common === undefined || ac === undefined ? null : {
        cps: common.cps,
        p50: +(ac.inviteTo200Ms.p50 - common.inviteTo200Ms.p50).toFixed(2),
        p99: +(ac.inviteTo200Ms.p99 - common.inviteTo200Ms.p99).toFixed(2),
      },
      lbStandIn: 'test/helpers/failover-lb.ts StandInLb (node TLS, answers 180 + 200 with SDES), in this process',
    };
  } finally {
    await rig.stop();
  }
}

if (!rtpengineInstalled()) {
  console.log(JSON.stringify({ bench: 'anchor', skipped: 'rtpengine not installed (/usr/bin/rtpengine): bash scripts/install-peers.sh', ...conditions() }));
  process.exit(0);
}

const load0 = loadavg();
const result: Record<string, unknown> = { bench: 'anchor', ...conditions(), loadavgAtStart: load0.map((x) => +x.toFixed(2)) };
result['rtpengineArgs'] = 'userspace (--table=-1), test/helpers/rtpengine.ts defaults, loopback';
if (PART.includes('media')) result['media'] = await mediaPart();
result['loadavgAfterMedia'] = loadavg().map((x) => +x.toFixed(2));
if (PART.includes('sip')) result['sip'] = await sipPart();
result['loadavgAtEnd'] = loadavg().map((x) => +x.toFixed(2));
console.log(JSON.stringify(result, null, 2));
