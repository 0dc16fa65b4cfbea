import assert from 'node:assert/strict';
import { test } from 'node:test';
import { configSchema } from '../../../src/config/schema.js';
import type { Issue } from '../../../src/config/validate.js';

const base = { edge: { name: 'edge.example.com' }, listen: [{ side: 'inside', transport: 'udp', port: 0 }] };

function parse(extra: Record<string, unknown>): { config: ReturnType<typeof configSchema.parse>; issues: Issue[] } {
  const issues: Issue[] = [];
  return { config: configSchema.parse({ ...base, ...extra }, '', issues), issues };
}

test('media absent: no anchoring section at all', () => {
  const { config, issues } = parse({});
  assert.deepEqual(issues, []);
  assert.equal(config?.media, undefined);
});

test('media.rtpengine: defaults for timeouts, retries, ping and interface names; weight 1', () => {
  const { config, issues } = parse({ media: { rtpengine: { instances: [{ address: '127.0.0.1', port: 2223 }, { name: 'b', address: '::1', port: 2224, weight: 3 }] } } });
  assert.deepEqual(issues, []);
  assert.deepEqual(config?.media?.rtpengine, {
    instances: [{ address: '127.0.0.1', port: 2223, weight: 1 }, { name: 'b', address: '::1', port: 2224, weight: 3 }],
    timeoutMs: 1000, retries: 2, pingIntervalSeconds: 5, interfaces: { inside: 'inside', outside: 'outside' },
  });
});

test('media.rtpengine refuses a host name, a missing port and an empty instance list', () => {
  const { issues } = parse({ media: { rtpengine: { instances: [{ address: 'rtp.example.com', port: 2223 }, { address: '127.0.0.1' }] } } });
  assert.deepEqual(issues.map((i) => i.path).sort(), ['media.rtpengine.instances[0].address', 'media.rtpengine.instances[1].port']);
  assert.ok(parse({ media: { rtpengine: { instances: [] } } }).issues.some((i) => i.path === 'media.rtpengine.instances'));
});
