/**
 * Full TLS handshakes per second against the edge's policy server (buildServerOptions) and a bare
 * node:tls server with the same raw settings, same run. Clients run in a forked child (concurrency 8,
 * time-bounded), so client crypto does not share the server's event loop.
 *   node .test-build/bench/tls-handshake.js [--seconds 5] [--rounds 5] [--concurrency 8]
 */
import { fork } from 'node:child_process';
import tls from 'node:tls';
import { fileURLToPath } from 'node:url';
import { bareServer, CLIENT_OPTIONS, environment, labForBench, policyServer, type BenchServer } from './tls-common.js';

function arg(name: string, dflt: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
}

async function clientMain(port: number, seconds: number, concurrency: number): Promise<void> {
  const end = Date.now() + seconds * 1000;
  let done = 0;
  let failed = 0;
  let cipher = '';
  let group = '';
  const one = (): Promise<void> =>
    new Promise((resolve) => {
      const s = tls.connect({ ...CLIENT_OPTIONS, port }, () => {
        done++;
        cipher = s.getCipher().name;
        const k = s.getEphemeralKeyInfo();
        group = k && 'name' in k ? String(k.name) : '';
        s.destroy();
        resolve();
      });
      s.on('error', () => {
        failed++;
        s.destroy();
        resolve();
      });
    });
  const worker = async (): Promise<void> => {
    while (Date.now() < end) await one();
  };
  const t0 = performance.now();
  await Promise.all(Array.from({ length: concurrency }, worker));
  const secs = (performance.now() - t0) / 1000;
  process.send?.({ done, failed, secs, cipher, group });
}

async function measure(server: BenchServer, seconds: number, concurrency: number): Promise<{ handshakesPerSec: number; done: number; failed: number; cipher: string; group: string }> {
  const child = fork(fileURLToPath(import.meta.url), ['--client', String(server.port), String(seconds), String(concurrency)]);
  const r = await new Promise<{ done: number; failed: number; secs: number; cipher: string; group: string }>((resolve, reject) => {
    child.once('message', (m) => resolve(m as { done: number; failed: number; secs: number; cipher: string; group: string }));
    child.once('exit', (code) => reject(new Error(`client exited ${code}`)));
  });
  child.kill();
  return { handshakesPerSec: Math.round(r.done / r.secs), done: r.done, failed: r.failed, cipher: r.cipher, group: r.group };
}

async function main(): Promise<void> {
  const ci = process.argv.indexOf('--client');
  if (ci > 0) return clientMain(Number(process.argv[ci + 1]), Number(process.argv[ci + 2]), Number(process.argv[ci + 3]));
  const seconds = arg('seconds', 5);
  const concurrency = arg('concurrency', 8);
  const lab = labForBench();
  const policy = await policyServer(lab.pki.edge);
  const bare = await bareServer(lab.pki.edge);
  await measure(bare, 1, concurrency); // warm-up
  // Interleaved rounds (policy, bare, policy, bare, ...) so drift in machine load hits both alike.
  const rounds = Math.max(1, arg('rounds', 5));
  const sum = { policy: [] as Awaited<ReturnType<typeof measure>>[], bare: [] as Awaited<ReturnType<typeof measure>>[] };
  for (let r = 0; r < rounds; r++) {
    sum.policy.push(await measure(policy, seconds / rounds, concurrency));
    sum.bare.push(await measure(bare, seconds / rounds, concurrency));
  }
  const fold = (xs: Awaited<ReturnType<typeof measure>>[]) => ({
    handshakesPerSec: Math.round(xs.reduce((a, x) => a + x.handshakesPerSec, 0) / xs.length),
    perRound: xs.map((x) => x.handshakesPerSec),
    done: xs.reduce((a, x) => a + x.done, 0),
    failed: xs.reduce((a, x) => a + x.failed, 0),
    cipher: xs[0]!.cipher,
    group: xs[0]!.group,
  });
  const p = fold(sum.policy);
  const b = fold(sum.bare);
  await policy.close();
  await bare.close();
  lab.cleanup();
  console.log(JSON.stringify({
    bench: 'tls-handshake',
    scenario: `full TLS 1.2 handshakes, no resumption, ECDHE-RSA-AES256-GCM-SHA384 on secp384r1, RSA-2048 leaf + intermediate, ${concurrency} concurrent clients in a child process, ${seconds} s per server in ${rounds} interleaved rounds, loopback`,
    ...environment(),
    policyServer: p,
    bareServer: b,
    ratio: Number((p.handshakesPerSec / b.handshakesPerSec).toFixed(3)),
  }, null, 2));
}

await main();
