#!/usr/bin/env node
// Runs every micro-benchmark under .test-build/bench/ one after the other; each prints JSON.
// The SIPp call-rate sweep against Kamailio is separate: bench/cps.sh (see README); so is
// bench/rtpengine-ng.ts and bench/anchor.ts, which start a real rtpengine (node .test-build/bench/rtpengine-ng.js,
// node .test-build/bench/anchor.js).
// scale runs the built edge (dist/cli/main.js) as its own process: build with tsconfig.json first.
import { spawnSync } from 'node:child_process';
const benches = ['message', 'sdp-check', 'proxy-forward', 'call-flow', 'observer', 'transaction', 'tls-handshake', 'tls-memory', 'scale'];
const only = process.argv.slice(2);
for (const b of benches.filter((x) => only.length === 0 || only.includes(x))) {
  const r = spawnSync(process.execPath, ['--expose-gc', `.test-build/bench/${b}.js`], { stdio: 'inherit' });
  if (r.status !== 0) process.exitCode = 1;
}
