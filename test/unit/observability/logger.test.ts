import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { DestinationStream } from 'pino';
import { SECRET_FIELDS, componentLogger, createLogger, logSipTrace, logTransactionOutcome } from '../../../src/observability/logger.js';
import { formatPrettyLine, prettyDestination } from '../../../src/observability/pretty.js';
import { CALL_ID, SRTP_KEY, SRTP_KEY_2, invite, ok200 } from './sip-samples.js';

function capture(): { dest: DestinationStream; lines: string[]; records(): Record<string, unknown>[] } {
  const lines: string[] = [];
  return {
    dest: { write: (s: string) => { lines.push(s); } },
    lines,
    records: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

const local = { address: '198.51.100.1', port: 5061 };
const remote = { address: '192.0.2.10', port: 40112 };

test('a SIP trace at debug carries the whole message with SDES keys redacted', () => {
  const out = capture();
  const log = createLogger({ level: 'debug', destination: out.dest });
  logSipTrace(log, { direction: 'in', transport: 'tls', local, remote, data: invite() });
  logSipTrace(log, { direction: 'out', transport: 'tls', local, remote, data: ok200().toString('utf8') });
  assert.equal(out.lines.length, 2);
  const all = out.lines.join('');
  assert.ok(!all.includes(SRTP_KEY) && !all.includes(SRTP_KEY_2), 'no key in the log');
  assert.ok(all.includes('inline:[redacted]'));
  const [first, second] = out.records();
  assert.equal(first?.['dir'], 'in');
  assert.equal(first?.['remote'], '192.0.2.10:40112');
  assert.equal(first?.['msg'], 'SIP <- INVITE sip:+4930123456@edge.example.com;transport=tls SIP/2.0');
  assert.ok(String(first?.['sip']).includes(`Call-ID: ${CALL_ID}`));
  assert.equal(second?.['msg'], 'SIP -> SIP/2.0 200 OK');
});

test('SIP traces are skipped entirely at info', () => {
  const out = capture();
  const log = createLogger({ level: 'info', destination: out.dest });
  logSipTrace(log, { direction: 'in', transport: 'udp', local, remote, data: invite() });
  assert.equal(out.lines.length, 0);
});

test('SIP text pasted into a message, a field or a nested field is redacted too', () => {
  const out = capture();
  const log = createLogger({ level: 'info', destination: out.dest });
  const text = invite().toString('utf8');
  log.info(`got ${text}`);
  log.info({ body: text }, 'field');
  log.warn({ request: { raw: text, n: 1 } }, 'nested');
  log.info('printf %s', text);
  assert.equal(out.lines.length, 4);
  for (const line of out.lines) assert.ok(!line.includes(SRTP_KEY), line.slice(0, 80));
  assert.equal((out.records()[2]?.['request'] as Record<string, unknown>)['n'], 1);
});

test('TLS key material is censored by field name', () => {
  const out = capture();
  const log = createLogger({ level: 'info', destination: out.dest });
  log.info({ key: '-----BEGIN PRIVATE KEY-----abc', identity: { passphrase: 'hunter2', cert: 'c.pem' } }, 'loaded');
  const line = out.lines[0] ?? '';
  assert.ok(!line.includes('BEGIN PRIVATE KEY') && !line.includes('hunter2'));
  assert.ok(line.includes('c.pem'));
});

test('every secret field name is censored at the top level, one object below, in an Error field and in child bindings', () => {
  const out = capture();
  const log = createLogger({ level: 'info', destination: out.dest });
  for (const name of SECRET_FIELDS) {
    const err = Object.assign(new Error('handshake failed'), { [name]: `err-${name}-value`, code: 'E_TLS' });
    log.child({ [name]: `bound-${name}-value`, component: 'tls' }).warn({ [name]: `top-${name}-value`, tls: { [name]: `nested-${name}-value`, cert: 'c.pem' }, err }, 'loaded');
  }
  assert.equal(out.lines.length, SECRET_FIELDS.size);
  for (const line of out.lines) assert.doesNotMatch(line, /-value/, line);
  for (const r of out.records()) {
    assert.equal((r['tls'] as Record<string, unknown>)['cert'], 'c.pem');
    const err = r['err'] as Record<string, unknown>;
    assert.deepEqual([err['type'], err['message'], err['code']], ['Error', 'handshake failed', 'E_TLS']);
    assert.match(String(err['stack']), /^Error: handshake failed/);
    assert.equal(r['component'], 'tls');
  }
});

test('an SDP key quoted in an Error\'s message or stack is redacted, the error keeps its type and code', () => {
  const out = capture();
  const log = createLogger({ level: 'info', destination: out.dest });
  const err = Object.assign(new Error(`bad offer line a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:${SRTP_KEY}`), { code: 'E_SDP' });
  log.warn({ err }, 'offer refused');
  assert.equal(out.lines.length, 1);
  assert.ok(!out.lines[0]!.includes(SRTP_KEY), out.lines[0]);
  const e = out.records()[0]!['err'] as Record<string, unknown>;
  assert.deepEqual([e['type'], e['code']], ['Error', 'E_SDP']);
  assert.match(String(e['message']), /inline:\[redacted\]/);
  assert.match(String(e['stack']), /^Error: bad offer line/);
});

test('one line per transaction outcome with every field', () => {
  const out = capture();
  const log = componentLogger(createLogger({ level: 'info', destination: out.dest }), 'proxy');
  logTransactionOutcome(log, {
    callId: CALL_ID, method: 'INVITE', peer: 'pbx1', transport: 'tls', status: 503,
    durationMs: 812.4, route: 'trunk-euc1', target: 'lb02.euc1.example.com', code: 'SIPS_ERR_ROUTE_NO_TARGET',
  }, 'outbound');
  const r = out.records()[0];
  assert.deepEqual(
    { callId: r?.['callId'], method: r?.['method'], direction: r?.['direction'], peer: r?.['peer'], transport: r?.['transport'], status: r?.['status'], durationMs: r?.['durationMs'], route: r?.['route'], target: r?.['target'], code: r?.['code'], component: r?.['component'], level: r?.['level'] },
    { callId: CALL_ID, method: 'INVITE', direction: 'outbound', peer: 'pbx1', transport: 'tls', status: 503, durationMs: 812, route: 'trunk-euc1', target: 'lb02.euc1.example.com', code: 'SIPS_ERR_ROUTE_NO_TARGET', component: 'proxy', level: 30 },
  );
});

test('component children are created once per component', () => {
  const root = createLogger({ level: 'info', destination: capture().dest });
  assert.equal(componentLogger(root, 'tls'), componentLogger(root, 'tls'));
  assert.notEqual(componentLogger(root, 'tls'), componentLogger(root, 'proxy'));
});

test('the TTY format is one compact line per record, with the trace indented and no key', () => {
  const printed: string[] = [];
  const log = componentLogger(createLogger({ level: 'debug', destination: prettyDestination({ write: (s) => printed.push(s) }, false) }), 'transport');
  log.info({ flow: 'tls-1', remote: '192.0.2.10:40112' }, 'flow opened');
  logSipTrace(log, { direction: 'in', transport: 'tls', local, remote, data: invite() });
  assert.match(printed[0] ?? '', /^\d\d:\d\d:\d\d\.\d{3} INFO  transport flow opened {2}flow=tls-1 remote=192\.0\.2\.10:40112\n$/);
  assert.ok((printed[1] ?? '').includes('\n    | Call-ID: '));
  assert.ok(!printed.join('').includes(SRTP_KEY));
  assert.equal(formatPrettyLine('not json'), 'not json');
});
