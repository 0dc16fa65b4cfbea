/**
 * RSS per 1,000 idle TLS connections held open to the edge's policy server and to a bare node:tls
 * server with the same raw settings. Each server runs in a fresh forked process (so one's allocator
 * state cannot flatter the other); the connections come from another forked process; the server
 * process reports its RSS (after forced GC) before and after.
 *   node .test-build/bench/tls-memory.js [--connections 1000] [--rounds 3]
 */
import { fork, type ChildProcess } from 'node:child_process';
import tls from 'node:tls';
import { fileURLToPath } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { bareServer, CLIENT_OPTIONS, environment, labForBench, policyServer } from './tls-common.js';
import type { LabLeaf } from '../src/tls/lab-pki.js';

const self = fileURLToPath(import.meta.url);

function request<T>(child: ChildProcess, msg: unknown): Promise<T> {
  return new Promise((resolve, reject) => {
    child.once('message', (m) => resolve(m as T));
    child.once('exit', (code) => reject(new Error(`child exited ${code}`)));
    if (msg !== undefined) child.send(msg as string);
  });
}

async function clientMain(port: number, n: number): Promise<void> {
  const held: tls.TLSSocket[] = [];
  for (let i = 0; i < n; i += 50) {
    await Promise.all(Array.from({ length: Math.min(50, n - i) }, () => new Promise<void>((resolve, reject) => {
      const s = tls.connect({ ...CLIENT_OPTIONS, port }, () => resolve());
      s.on('error', reject);
      held.push(s);
    })));
  }
  process.send?.({ held: held.length });
  process.on('message', () => {
    for (const s of held) s.destroy();
    process.exit(0);
  });
}

async function serverMain(kind: string, edgeJson: string): Promise<void> {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  const edge = JSON.parse(edgeJson) as LabLeaf;
  const server = kind === 'policy' ? await policyServer(edge) : await bareServer(edge);
  const rss = async (): Promise<number> => {
    for (let i = 0; i < 3; i++) {
      gc();
      await new Promise((r) => setTimeout(r, 50));
    }
    return process.memoryUsage().rss;
  };
  process.on('message', (m) => {
    if (m === 'rss') void rss().then((v) => process.send?.({ rss: v }));
    else void server.close().then(() => process.exit(0));
  });
  process.send?.({ port: server.port });
}

async function measure(kind: 'policy' | 'bare', n: number, edge: LabLeaf): Promise<number> {
  const server = fork(self, ['--server', kind, JSON.stringify(edge)]);
  const { port } = await request<{ port: number }>(server, undefined);
  // warm-up: 100 connections, then released, so OpenSSL tables and the allocator are primed
  const warm = fork(self, ['--client', String(port), '100']);
  await request(warm, undefined);
  warm.send('close');
  await new Promise((r) => warm.once('exit', r));
  const before = (await request<{ rss: number }>(server, 'rss')).rss;
  const client = fork(self, ['--client', String(port), String(n)]);
  await request(client, undefined);
  const after = (await request<{ rss: number }>(server, 'rss')).rss;
  client.send('close');
  await new Promise((r) => client.once('exit', r));
  server.send('close');
  await new Promise((r) => server.once('exit', r));
  return after - before;
}

async function main(): Promise<void> {
  const ci = process.argv.indexOf('--client');
  if (ci > 0) return clientMain(Number(process.argv[ci + 1]), Number(process.argv[ci + 2]));
  const si = process.argv.indexOf('--server');
  if (si > 0) return serverMain(process.argv[si + 1]!, process.argv[si + 2]!);
  const arg = (name: string, d: number): number => {
    const i = process.argv.indexOf(`--${name}`);
    return i > 0 ? Number(process.argv[i + 1]) : d;
  };
  const n = arg('connections', 1000);
  const rounds = Math.max(1, arg('rounds', 3));
  const lab = labForBench();
  const res = { policy: [] as number[], bare: [] as number[] };
  for (let r = 0; r < rounds; r++) {
    res.bare.push(await measure('bare', n, lab.pki.edge));
    res.policy.push(await measure('policy', n, lab.pki.edge));
  }
  lab.cleanup();
  const fold = (xs: number[]) => {
    const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
    return { rssDeltaMiB: Number((mean / 1048576).toFixed(2)), bytesPerConnection: Math.round(mean / n), perRoundMiB: xs.map((x) => Number((x / 1048576).toFixed(2))) };
  };
  const p = fold(res.policy);
  const b = fold(res.bare);
  console.log(JSON.stringify({
    bench: 'tls-memory',
    scenario: `${n} idle TLS 1.2 connections (ECDHE-RSA-AES256-GCM-SHA384, secp384r1) held from a child process; RSS delta of a fresh server process after forced GC; ${rounds} round(s)`,
    ...environment(),
    connections: n,
    policyServer: p,
    bareServer: b,
    ratio: Number((p.rssDeltaMiB / b.rssDeltaMiB).toFixed(3)),
  }, null, 2));
}

await main();
