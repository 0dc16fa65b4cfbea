import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateLabPki } from '../../src/tls/lab-pki.js';
import { EDGE_NAME, tlsClient } from '../helpers/connections.js';
import { EdgeProcess } from '../helpers/edge-process.js';
import { freeUdpPort } from '../helpers/sipp.js';
import { UdpSender, callsDuring, internalErrors, metricSum, overloadConfig, scrape } from '../helpers/overload.js';

/**
 * Issue 11 item 9: a legitimate call completes during a TLS handshake flood on the outside listener.
 * Strangers are refused at accept by default (no TLS work); with strangers admitted by config the
 * handshakes really happen (the CPU cost of ECDHE on secp384r1) and real SIPp calls still complete.
 */
const edges: EdgeProcess[] = [];
const dirs: string[] = [];
const sockets: UdpSender[] = [];
after(async () => {
  for (const s of sockets) await s.close();
  for (const e of edges) await e.stop();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

async function start(extraLimits: readonly string[]): Promise<{ edge: EdgeProcess; far: number; tlsPort: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'sips-edge-tlsflood-'));
  dirs.push(dir);
  const pki = generateLabPki({ outDir: dir, edgeName: EDGE_NAME });
  const far = await freeUdpPort();
  const sink = await UdpSender.bind('127.0.0.1');
  sockets.push(sink);
  const yaml = overloadConfig({ farPort: far, sinkPort: sink.port, limits: ['maxPendingRequests: 5000', ...extraLimits] })
    .replace('edge:\n  name: edge.test.sips-edge.test', `edge:\n  name: ${EDGE_NAME}`)
    .replace('listen:\n', 'listen:\n  - { side: outside, transport: tls, address: 127.0.0.1, port: 0 }\n')
    .replace('srtp:\n', `tls:\n  identities:\n    - { cert: ${pki.edge.chain}, key: ${pki.edge.key} }\nsrtp:\n`);
  const edge = await EdgeProcess.start(yaml);
  edges.push(edge);
  return { edge, far, tlsPort: edge.port('outside', 'tls') };
}

/** Rounds of `perRound` TLS handshakes from stranger addresses (127.0.0.20..) until `until` settles or `max`. */
async function handshakeFlood(port: number, o: { max: number; perRound: number; until: Promise<unknown>; started: () => void }): Promise<{ sent: number; completed: number }> {
  let stop = false;
  void o.until.then(() => { stop = true; }, () => { stop = true; });
  let sent = 0;
  let completed = 0;
  while (!stop && sent < o.max) {
    const round = Array.from({ length: o.perRound }, (_, i) => tlsClient(port, `127.0.0.${20 + ((sent + i) % 50)}`).then(
      (s) => { completed++; s.destroy(); },
      () => undefined,
    ));
    sent += o.perRound;
    await Promise.all(round);
    if (sent === o.perRound) o.started();
  }
  return { sent, completed };
}

test('TLS handshake flood from strangers (refused at accept): real SIPp calls complete meanwhile', async () => {
  const { edge, far, tlsPort } = await start([]);
  const r = await callsDuring(edge, far, (started, until) => handshakeFlood(tlsPort, { max: 3_000, perRound: 25, until, started }));
  assert.equal(r.completed, 0, 'no stranger completed a handshake');
  assert.ok(r.sent >= 50, `the flood went on while the calls ran (${r.sent})`);
  const text = await scrape(edge);
  assert.ok(metricSum(text, 'sips_edge_connections_refused_total', { reason: 'unknown-source' }) >= r.sent / 2);
  assert.deepEqual(internalErrors(edge), []);
});

test('TLS handshake flood from strangers admitted by config (real ECDHE handshakes): real SIPp calls complete meanwhile', async () => {
  const { edge, far, tlsPort } = await start(['unknownSourceConnectionsPerListener: 1000']);
  const r = await callsDuring(edge, far, (started, until) => handshakeFlood(tlsPort, { max: 3_000, perRound: 25, until, started }));
  assert.ok(r.completed >= 25, `handshakes were really made while the calls ran (${r.completed} of ${r.sent})`);
  const text = await scrape(edge);
  assert.ok(metricSum(text, 'sips_edge_tls_handshakes_total', { role: 'server', result: 'ok' }) >= r.completed / 2);
  assert.deepEqual(internalErrors(edge), []);
});
