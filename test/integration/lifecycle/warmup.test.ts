import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EdgeProcess } from '../../helpers/edge-process.js';
import { udpTrunkConfig } from '../../helpers/edge-configs.js';

// edge.warmupCalls: the synthetic calls run before the listeners bind (src/proxy/synthetic-call.ts);
// edge.warmupLoopbackCalls: then the calls over loopback sockets (src/loopback-warmup.ts).
test('edge.warmupCalls and warmupLoopbackCalls: the process logs both warm-ups, every call completed, before it listens; 0 runs none', async () => {
  const config = udpTrunkConfig({ farPorts: [9] }).replace('  name: edge.test.sips-edge.test\n', '  name: edge.test.sips-edge.test\n  warmupCalls: 300\n  warmupLoopbackCalls: 120\n');
  const warm = await EdgeProcess.start(config);
  try {
    const at = warm.logs.findIndex((l) => l.event === 'warmup');
    assert.ok(at >= 0, 'a warmup line');
    const line = warm.logs[at]!;
    assert.equal(line['calls'], 300);
    assert.equal(line['completed'], 300, 'every synthetic call ran to its BYE\'s 200');
    const listening = warm.logs.findIndex((l) => l.event === 'listening');
    assert.ok(at < listening, 'before the listeners bound');
    const loop = warm.logs.findIndex((l) => l.event === 'warmup-loopback');
    assert.ok(loop > at && loop < listening, 'the loopback calls after the synthetic ones, before the listeners bound');
    assert.equal(warm.logs[loop]!['calls'], 120);
    assert.equal(warm.logs[loop]!['completed'], 120, 'every loopback call ran to its BYE\'s 200');
  } finally {
    await warm.stop();
  }
  const cold = await EdgeProcess.start(config.replace('warmupCalls: 300', 'warmupCalls: 0').replace('warmupLoopbackCalls: 120', 'warmupLoopbackCalls: 0'));
  try {
    assert.equal(cold.logs.some((l) => l.event === 'warmup' || l.event === 'warmup-loopback'), false);
  } finally {
    await cold.stop();
  }
});
