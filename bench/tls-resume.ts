/**
 * Full vs resumed TLS 1.2 handshakes per second against the edge's listener settings
 * (buildServerOptions + SessionResumption: HKDF ticket keys, session ID cache), same run:
 * `openssl s_time -new` and `-reuse` side by side, and an in-process node:tls client loop
 * (full: no session offered; resumed: the first connection's ticket offered every time).
 *   node .test-build/bench/tls-resume.js [--seconds 5]
 */
import type { AddressInfo } from 'node:net';
import tls from 'node:tls';
import { DEFAULT_TLS_POLICY } from '../src/tls/policy.js';
import { buildServerOptions, loadServerIdentity } from '../src/tls/secure-context.js';
import { SessionResumption } from '../src/tls/session-resumption.js';
import { guardTlsServer } from '../src/tls/verify.js';
import { CLIENT_OPTIONS, environment, labForBench, sTime } from './tls-common.js';

const seconds = (() => {
  const i = process.argv.indexOf('--seconds');
  return i > 0 ? Number(process.argv[i + 1]) : 5;
})();

async function nodeLoop(port: number, resume: boolean): Promise<{ handshakesPerSec: number; resumed: number; done: number }> {
  let session: Buffer | undefined;
  let done = 0;
  let resumed = 0;
  const one = (): Promise<void> => new Promise((resolve) => {
    const s = tls.connect({ ...CLIENT_OPTIONS, port, ...(resume && session ? { session } : {}) }, () => {
      done++;
      if (s.isSessionReused()) resumed++;
      if (resume && !session) session = s.getSession();
      // end(), not destroy(): the client's Finished ends a resumed handshake and destroy() can drop it.
      s.end();
      resolve();
    });
    s.on('error', () => { s.destroy(); resolve(); });
  });
  const t0 = performance.now();
  const end = Date.now() + seconds * 1000;
  while (Date.now() < end) await one();
  return { handshakesPerSec: Math.round(done / ((performance.now() - t0) / 1000)), resumed, done };
}

async function main(): Promise<void> {
  const lab = labForBench();
  const id = loadServerIdentity({ names: [lab.pki.edge.host], certFile: lab.pki.edge.chain, keyFile: lab.pki.edge.key }, DEFAULT_TLS_POLICY);
  const resumption = new SessionResumption({ enabled: true, rotationSeconds: 86_400, lifetimeSeconds: 3600, policy: DEFAULT_TLS_POLICY });
  // Handshakes the server completed (its 'secureConnection'), beside what the clients counted.
  let serverAccepted = 0;
  const server = tls.createServer(resumption.serverOptions(buildServerOptions([id], DEFAULT_TLS_POLICY)), (s) => { serverAccepted++; s.on('error', () => {}); s.end(); });
  guardTlsServer(server);
  resumption.attach(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', 1024, r));
  const port = (server.address() as AddressInfo).port;
  const sNew = await sTime(port, '-new', seconds);
  const sReuse = await sTime(port, '-reuse', seconds);
  const a0 = serverAccepted;
  const full = await nodeLoop(port, false);
  const a1 = serverAccepted;
  const res = await nodeLoop(port, true);
  await new Promise((r) => setTimeout(r, 200)); // the last connections' Finished reach the server
  const a2 = serverAccepted;
  server.close();
  lab.cleanup();
  const ratio = (a: number | null, b: number | null) => (a && b ? Math.round((b / a) * 100) / 100 : null);
  console.log(JSON.stringify({
    bench: 'tls-resume',
    seconds,
    env: environment(),
    opensslSTime: { full: sNew.connectionsPerSec, resumed: sReuse.connectionsPerSec, ratio: ratio(sNew.connectionsPerSec, sReuse.connectionsPerSec), rawFull: sNew.raw, rawResumed: sReuse.raw },
    nodeClient: { full: full.handshakesPerSec, resumed: res.handshakesPerSec, resumedCount: res.resumed, of: res.done, serverAccepted: { full: a1 - a0, resumed: a2 - a1 }, ratio: ratio(full.handshakesPerSec, res.handshakesPerSec) },
    target: 'resumed >= 4x full',
  }, null, 2));
}

void main();
