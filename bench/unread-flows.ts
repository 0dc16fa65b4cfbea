/**
 * Issue 11 #7: edge RSS with N connections that pipeline OPTIONS (or CRLF pings) and never read.
 * The edge runs as its own process (default limits unless given); the clients connect to its inside
 * TCP listener from the PBX address and write until their own writes block (the edge stopped
 * reading them) or the edge closes them. RSS is read from the edge's /metrics: before, sampled every
 * 500 ms for the peak, and after limits.writeStallSeconds has closed the stalled flows.
 *   node .test-build/bench/unread-flows.js [--connections 100] [--mode options|pings] [--stall 10] [--mb 20] [--limits 'k: v, ...']
 */
import type net from 'node:net';
import { conditions } from './lib.js';
import { metric, optionsText, request, scrape, startConnEdge, tcpClient } from '../test/helpers/connections.js';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : fallback;
}

const N = Number(arg('connections', '100'));
const MODE = arg('mode', 'options') as 'options' | 'pings';
const STALL = Number(arg('stall', '10'));
const EXTRA = arg('limits', '');
/** Bytes one client sends at most (pings are read at line rate and never block). */
const MAX_BYTES = Number(arg('mb', '20')) * 1_048_576;
/** A client whose write has not drained for this long counts as blocked. */
const BLOCKED_MS = 1_500;

const rssOf = async (port: number): Promise<number> => metric(await scrape(port), 'sips_edge_process_resident_memory_bytes');
const mb = (b: number): number => Math.round((b / 1_048_576) * 10) / 10;

/** Writes until blocked (resolves 'blocked') or closed by the edge (resolves 'closed'). Never reads. */
function flood(s: net.Socket, chunk: () => string): Promise<{ state: 'blocked' | 'closed' | 'sent-all'; bytes: number }> {
  s.pause();
  return new Promise((resolve) => {
    let bytes = 0;
    let done = false;
    const finish = (state: 'blocked' | 'closed' | 'sent-all'): void => {
      if (done) return;
      done = true;
      resolve({ state, bytes });
    };
    s.once('close', () => finish('closed'));
    const pump = (): void => {
      while (!done) {
        if (bytes >= MAX_BYTES) return finish('sent-all');
        const c = chunk();
        bytes += c.length;
        if (!s.write(c)) {
          const t = setTimeout(() => finish('blocked'), BLOCKED_MS);
          s.once('drain', () => {
            clearTimeout(t);
            pump();
          });
          return;
        }
      }
    };
    pump();
  });
}

async function main(): Promise<void> {
  const e = await startConnEdge(`writeStallSeconds: ${STALL}${EXTRA ? `, ${EXTRA}` : ''}`);
  try {
    const warm = await tcpClient(e.tcpPort);
    await request(warm, optionsText({ transport: 'TCP', local: '127.0.0.1', port: e.tcpPort }));
    warm.destroy();
    const before = await rssOf(e.adminPort);
    const opts = (): string => Array.from({ length: 50 }, () => optionsText({ transport: 'TCP', local: '127.0.0.1', port: e.tcpPort })).join('');
    const pings = '\r\n\r\n'.repeat(4096);
    const sockets = await Promise.all(Array.from({ length: N }, () => tcpClient(e.tcpPort)));
    const started = Date.now();
    // RSS sampled every 500 ms through the whole run: the peak is the highest sample.
    let peak = before;
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        peak = Math.max(peak, await rssOf(e.adminPort).catch(() => 0));
        await new Promise((r) => setTimeout(r, 500));
      }
    })();
    const firstRequest = MODE === 'pings' ? optionsText({ transport: 'TCP', local: '127.0.0.1', port: e.tcpPort }) : '';
    const results = await Promise.all(sockets.map((s) => {
      if (firstRequest) s.write(firstRequest);
      return flood(s, MODE === 'options' ? opts : () => pings);
    }));
    const blocked = results.filter((r) => r.state === 'blocked').length;
    const floodSeconds = Math.round((Date.now() - started) / 100) / 10;
    // Wait for the stall closes (bounded: 120 s), then read RSS again.
    const deadline = Date.now() + 120_000;
    while (STALL > 0 && sockets.some((s) => !s.destroyed) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
    const closedSeconds = Math.round((Date.now() - started) / 100) / 10;
    sampling = false;
    await sampler;
    const exited = e.edge.proc.exitCode ?? e.edge.proc.signalCode;
    if (exited !== null) throw new Error(`the edge exited (${exited}): ${e.edge.stderr.slice(-2000)}`);
    const after = await rssOf(e.adminPort);
    const closes = e.edge.events('flow-closed').reduce<Record<string, number>>((acc, l) => {
      const reason = String(l['reason']);
      acc[reason] = (acc[reason] ?? 0) + 1;
      return acc;
    }, {});
    for (const s of sockets) s.destroy();
    const out = {
      scenario: `unread-flows ${MODE}`,
      ...conditions(),
      connections: N,
      limits: { writeStallSeconds: STALL, extra: EXTRA || null },
      sentMB: mb(results.reduce((n, r) => n + r.bytes, 0)),
      floodSeconds,
      allClosedAfterSeconds: sockets.every((s) => s.destroyed) ? closedSeconds : null,
      clientsBlocked: blocked,
      clientsClosedDuringFlood: results.filter((r) => r.state === 'closed').length,
      clientsSentAll: results.filter((r) => r.state === 'sent-all').length,
      rssMB: { before: mb(before), peak: mb(peak), afterCloses: mb(after) },
      peakPerConnectionKB: Math.round((peak - before) / N / 1024),
      edgeCloses: closes,
    };
    process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
  } finally {
    await e.stop();
  }
}

await main();
