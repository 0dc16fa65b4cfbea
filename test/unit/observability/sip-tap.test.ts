import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createLogger } from '../../../src/observability/logger.js';
import { createHepSender, type HepSender } from '../../../src/observability/hep.js';
import { createSipTap } from '../../../src/observability/sip-tap.js';
import { SRTP_KEY, invite } from './sip-samples.js';

const local = { address: '198.51.100.1', port: 5061 };
const remote = { address: '192.0.2.10', port: 40112 };

test('the tap writes a redacted debug trace and hands the raw bytes to HEP (which redacts by its own option)', () => {
  const lines: string[] = [];
  const captured: unknown[][] = [];
  const hep: HepSender = { enabled: true, capture: (...args: unknown[]) => { captured.push(args); }, close: () => Promise.resolve() };
  const tap = createSipTap(createLogger({ level: 'debug', destination: { write: (s: string) => { lines.push(s); } } }), hep);
  const at = new Date(0);
  tap({ direction: 'in', transport: 'tls', local, remote, data: invite(), at });
  assert.equal(lines.length, 1);
  assert.ok(!lines[0]?.includes(SRTP_KEY));
  assert.equal((JSON.parse(lines[0] ?? '{}') as Record<string, unknown>)['component'], 'sip');
  assert.deepEqual(captured, [['in', 'tls', local, remote, invite(), at]]);
});

test('with HEP off and info level the tap does nothing visible', () => {
  const lines: string[] = [];
  const tap = createSipTap(createLogger({ level: 'info', destination: { write: (s: string) => { lines.push(s); } } }), createHepSender(undefined));
  tap({ direction: 'out', transport: 'udp', local, remote, data: invite() });
  assert.equal(lines.length, 0);
});
