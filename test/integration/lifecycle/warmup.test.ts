import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EdgeProcess } from '../../helpers/edge-process.js';
import { udpTrunkConfig } from '../../helpers/edge-configs.js';

// edge.warmupCalls: the synthetic calls run before the listeners bind (src/proxy/synthetic-call.ts).
test('edge.warmupCalls: the process logs its synthetic calls, all completed, before it listens; 0 runs none', async () => {
  const config = udpTrunkConfig({ farPorts: [9] }).replace('  name: edge.test.sips-edge.test\n', '  name: edge.test.sips-edge.test\n  warmupCalls: 300\n');
  const warm = await EdgeProcess.start(config);
  try {
    const at = warm.logs.findIndex((l) => l.event === 'warmup');
    assert.ok(at >= 0, 'a warmup line');
    const line = warm.logs[at]!;
    assert.equal(line['calls'], 300);
    assert.equal(line['completed'], 300, 'every synthetic call ran to its BYE\'s 200');
    assert.ok(at < warm.logs.findIndex((l) => l.event === 'listening'), 'before the listeners bound');
  } finally {
    await warm.stop();
  }
  const cold = await EdgeProcess.start(config.replace('warmupCalls: 300', 'warmupCalls: 0'));
  try {
    assert.equal(cold.logs.some((l) => l.event === 'warmup'), false);
  } finally {
    await cold.stop();
  }
});
