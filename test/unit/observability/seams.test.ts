/**
 * The observers restate the proxy and transport event shapes structurally (observability sits
 * below both in the layer map). This file compiles only while they fit the real seams, and feeds
 * every event through to /metrics.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ProxyObserver } from '../../../src/proxy/deps.js';
import { TransportEvents } from '../../../src/transport/transport-events.js';
import type { FlowInfo } from '../../../src/transport/types.js';
import { endpoint } from '../../../src/transport/types.js';
import { SipParseError } from '../../../src/message/parse-error.js';
import { createLogger } from '../../../src/observability/logger.js';
import { createMetrics } from '../../../src/observability/metrics.js';
import { createProxyObserver } from '../../../src/observability/proxy-observer.js';
import { attachTransportEvents, type TransportEventSource } from '../../../src/observability/transport-observer.js';
import { CALL_ID } from './sip-samples.js';

function sinks(level: 'info' | 'debug' = 'info') {
  const lines: string[] = [];
  const log = createLogger({ level, destination: { write: (s: string) => { lines.push(s); } } });
  return { log, lines, metrics: createMetrics({ processMetrics: false }) };
}

function value(text: string, series: string): number | null {
  const line = text.split('\n').find((l) => l.startsWith(series + ' '));
  return line === undefined ? null : Number(line.slice(series.length + 1));
}

const flow: FlowInfo = {
  id: 'tls-7', transport: 'tls', direction: 'inbound', local: endpoint('198.51.100.1', 5061), remote: endpoint('192.0.2.10', 40112),
  tls: null, createdAt: 0, lastActivityAt: 0,
};

test('the proxy observer fits ProxyObserver and every event reaches /metrics', async () => {
  const s = sinks();
  const observer: ProxyObserver = createProxyObserver(s);
  observer.transactionDone?.({ callId: CALL_ID, method: 'INVITE', fromSide: 'inside', toSide: 'outside', peer: 'pbx1', transport: 'udp', status: 200, durationMs: 1500, route: 'euc1', target: 'lb01.euc1.example.com', code: null });
  observer.transactionDone?.({ callId: 'x', method: 'INVITE', fromSide: 'outside', toSide: null, peer: 'lb02', transport: 'tls', status: 488, durationMs: 3, route: null, target: null, code: 'SIPS_ERR_SDP_NO_CRYPTO' });
  observer.localReply?.({ method: 'INVITE', status: 488, code: 'SIPS_ERR_SDP_NO_CRYPTO', detail: 'm=audio 0: no a=crypto', peer: '192.0.2.10:5060' });
  observer.targetOutcome?.({ trunk: 'euc1', target: 'lb01.euc1.example.com', status: 503, reason: 'connect ECONNREFUSED' });
  observer.callSetup?.({ stage: 'ringing', ms: 300, route: 'euc1' });
  observer.callSetup?.({ stage: 'answered', ms: 4200, route: 'euc1' });
  observer.sdpChecked?.({ direction: 'request', ok: false, reason: 'no-crypto', audit: false });
  observer.sdpChecked?.({ direction: 'response', ok: true, reason: null, audit: false });
  observer.dropped?.({ what: '183 provisional', reason: 'no-crypto' });
  const text = await s.metrics.text();
  assert.equal(value(text, 'sips_edge_requests_total{method="INVITE",direction="outbound"}'), 1);
  assert.equal(value(text, 'sips_edge_responses_total{method="INVITE",status="488",direction="inbound"}'), 1);
  assert.equal(value(text, 'sips_edge_transaction_failures_total{method="INVITE",status="488",code="SIPS_ERR_SDP_NO_CRYPTO"}'), 1);
  assert.equal(value(text, 'sips_edge_local_replies_total{method="INVITE",status="488",code="SIPS_ERR_SDP_NO_CRYPTO"}'), 1);
  assert.equal(value(text, 'sips_edge_target_outcomes_total{trunk="euc1",target="lb01.euc1.example.com",status="503"}'), 1);
  assert.equal(value(text, 'sips_edge_call_setup_seconds_count{stage="answered"}'), 1);
  assert.equal(value(text, 'sips_edge_call_setup_seconds_bucket{le="0.5",stage="ringing"}'), 1);
  assert.equal(value(text, 'sips_edge_sdp_checks_total{direction="request",kind="offer",result="refused",reason="no-crypto"}'), 1);
  assert.equal(value(text, 'sips_edge_sdp_checks_total{direction="response",kind="answer",result="ok",reason="none"}'), 1);
  assert.equal(value(text, 'sips_edge_dropped_messages_total{reason="no-crypto"}'), 1);
  assert.ok(!text.includes(CALL_ID) && !text.includes('192.0.2.10'), 'no Call-ID or address as a label');
  const outcome = s.lines.map((l) => JSON.parse(l) as Record<string, unknown>).find((r) => r['event'] === 'transaction');
  assert.equal(outcome?.['callId'], CALL_ID);
});

test('a real TransportEvents fits, and every transport event reaches /metrics', async () => {
  const s = sinks('debug');
  const events = new TransportEvents();
  const source: TransportEventSource = events;
  const detach = attachTransportEvents(source, { ...s, deprecatedCiphers: ['ECDHE-RSA-AES256-SHA384', 'AES256-SHA256'] });
  events.emit('flowOpened', flow);
  events.emit('flowOpened', { ...flow, id: 'tcp-1', transport: 'tcp', direction: 'outbound' });
  events.emit('tlsEstablished', { role: 'server', flowId: 'tls-7', cipher: 'ECDHE-RSA-AES256-GCM-SHA384', protocol: 'TLSv1.2', remote: flow.remote, servername: 'edge.example.com', resumed: false });
  events.emit('tlsEstablished', { role: 'client', flowId: 'tls-8', cipher: 'AES256-SHA256', protocol: 'TLSv1.2', remote: flow.remote, servername: 'lb01.euc1.example.com', resumed: false });
  events.emit('tlsFailure', { role: 'client', reason: 'name-mismatch', remote: flow.remote, detail: 'lb01 presented lb09', servername: 'lb01.euc1.example.com' });
  events.emit('framingError', { flow, error: new SipParseError('SIPS_ERR_PARSE_START_LINE', 'garbage') });
  events.emit('connectionRejected', { reason: 'max-per-address', transport: 'tls', remote: flow.remote });
  events.emit('datagramDropped', { reason: 'too-large', remote: flow.remote, size: 70000 });
  events.emit('flowClosed', { flow, reason: 'framing-error', error: null });
  events.emit('flowClosed', { flow, reason: 'framing-error', error: null }); // twice: the gauge must not go below 0
  let text = await s.metrics.text();
  assert.equal(value(text, 'sips_edge_connections_active{transport="tls",direction="inbound"}'), 0);
  assert.equal(value(text, 'sips_edge_connections_active{transport="tcp",direction="outbound"}'), 1);
  assert.equal(value(text, 'sips_edge_connections_closed_total{transport="tls",reason="framing-error"}'), 2);
  assert.equal(value(text, 'sips_edge_tls_handshakes_total{role="server",result="ok",reason="none",cipher="ECDHE-RSA-AES256-GCM-SHA384",resumed="false"}'), 1);
  assert.equal(value(text, 'sips_edge_tls_handshakes_total{role="client",result="failed",reason="name-mismatch",cipher="none",resumed="false"}'), 1);
  assert.equal(value(text, 'sips_edge_tls_deprecated_cipher_total{role="client",cipher="AES256-SHA256"}'), 1);
  assert.equal(value(text, 'sips_edge_framing_errors_total{transport="tls",code="SIPS_ERR_PARSE_START_LINE"}'), 1);
  assert.equal(value(text, 'sips_edge_connections_rejected_total{transport="tls",reason="max-per-address"}'), 1);
  assert.equal(value(text, 'sips_edge_dropped_messages_total{reason="datagram-too-large"}'), 1);
  const warn = s.lines.map((l) => JSON.parse(l) as Record<string, unknown>).find((r) => r['event'] === 'tls-failure');
  assert.equal(warn?.['reason'], 'name-mismatch');
  assert.equal(warn?.['component'], 'tls');
  detach();
  events.emit('tlsFailure', { role: 'server', reason: 'handshake-timeout', remote: flow.remote, detail: '', servername: null });
  text = await s.metrics.text();
  assert.equal(value(text, 'sips_edge_tls_handshakes_total{role="server",result="failed",reason="handshake-timeout",cipher="none",resumed="false"}'), null);
});
