import { test } from 'node:test';
import assert from 'node:assert/strict';
import { register as globalRegistry } from 'prom-client';
import { createMetrics } from '../../../src/observability/metrics.js';
import { LabelGuard, methodLabel, statusLabel } from '../../../src/observability/labels.js';

function value(text: string, series: string): number | null {
  const line = text.split('\n').find((l) => l.startsWith(series + ' '));
  return line === undefined ? null : Number(line.slice(series.length + 1));
}

const EXPECTED = [
  'sips_edge_requests_total', 'sips_edge_responses_total', 'sips_edge_transaction_failures_total', 'sips_edge_local_replies_total',
  'sips_edge_target_outcomes_total', 'sips_edge_dropped_messages_total', 'sips_edge_transactions_active', 'sips_edge_tls_handshakes_total',
  'sips_edge_tls_deprecated_cipher_total', 'sips_edge_connections_active', 'sips_edge_connections_closed_total',
  'sips_edge_connections_rejected_total', 'sips_edge_framing_errors_total', 'sips_edge_upstream_up', 'sips_edge_upstream_probe_seconds',
  'sips_edge_upstream_probes_total', 'sips_edge_call_setup_seconds', 'sips_edge_sdp_checks_total', 'sips_edge_certificate_expiry_seconds',
  'sips_edge_hep_packets_total',
];

test('every metric, process metrics included, is named sips_edge_* in its own registry', async () => {
  const before = (await globalRegistry.getMetricsAsJSON()).length;
  const m = createMetrics();
  const names = (await m.registry.getMetricsAsJSON()).map((x) => x.name);
  for (const n of names) assert.ok(n.startsWith('sips_edge_'), n);
  for (const n of EXPECTED) assert.ok(names.includes(n), `missing ${n}`);
  assert.ok(names.includes('sips_edge_process_cpu_seconds_total'));
  assert.equal((await globalRegistry.getMetricsAsJSON()).length, before, 'the global registry is untouched');
  const text = await m.text();
  for (const n of EXPECTED) assert.ok(text.includes(`# TYPE ${n} `), `${n} in the exposition`);
  assert.match(m.contentType, /^text\/plain/);
});

test('certificate expiry is seconds until notAfter, computed at scrape time', async () => {
  let now = Date.parse('2025-01-01T00:00:00Z');
  const m = createMetrics({ processMetrics: false, now: () => now });
  m.setCertificateExpiry('edge', '/etc/sips-edge/edge.pem', new Date('2025-01-31T00:00:00Z'));
  m.setCertificateExpiry('digicert-g2', 'certs/digicert-g2.pem', new Date('2038-01-15T12:00:00Z'));
  let text = await m.text();
  assert.equal(value(text, 'sips_edge_certificate_expiry_seconds{name="edge",file="/etc/sips-edge/edge.pem"}'), 30 * 86400);
  now += 86400_000;
  text = await m.text();
  assert.equal(value(text, 'sips_edge_certificate_expiry_seconds{name="edge",file="/etc/sips-edge/edge.pem"}'), 29 * 86400);
  assert.ok((value(text, 'sips_edge_certificate_expiry_seconds{name="digicert-g2",file="certs/digicert-g2.pem"}') ?? 0) > 0);
  m.clearCertificates();
  assert.equal(value(await m.text(), 'sips_edge_certificate_expiry_seconds{name="edge",file="/etc/sips-edge/edge.pem"}'), null);
});

test('active transactions come from the supplied source at scrape time', async () => {
  const m = createMetrics({ processMetrics: false });
  let n = 3;
  m.setActiveTransactionsSource(() => n);
  assert.equal(value(await m.text(), 'sips_edge_transactions_active'), 3);
  n = 0;
  assert.equal(value(await m.text(), 'sips_edge_transactions_active'), 0);
});

test('upstream health and probes', async () => {
  const m = createMetrics({ processMetrics: false });
  m.upstreamChanged({ trunk: 't1', region: 'euc1', host: 'lb01.euc1.example.com', up: true });
  m.upstreamChanged({ trunk: 't2', region: undefined, host: 'sbc.premises.example.com', up: false });
  m.observeProbe({ region: 'euc1', host: 'lb01.euc1.example.com', ok: true, latencyMs: 42 });
  m.observeProbe({ region: 'euc1', host: 'lb01.euc1.example.com', ok: false, latencyMs: 500 });
  const text = await m.text();
  assert.equal(value(text, 'sips_edge_upstream_up{region="euc1",host="lb01.euc1.example.com"}'), 1);
  assert.equal(value(text, 'sips_edge_upstream_up{region="t2",host="sbc.premises.example.com"}'), 0);
  assert.equal(value(text, 'sips_edge_upstream_probe_seconds_bucket{le="0.05",region="euc1",host="lb01.euc1.example.com"}'), 1);
  assert.equal(value(text, 'sips_edge_upstream_probes_total{region="euc1",host="lb01.euc1.example.com",result="failed"}'), 1);
});

test('label values are bounded: unknown methods, odd statuses, free text and floods fold into other', () => {
  assert.equal(methodLabel('INVITE'), 'INVITE');
  assert.equal(methodLabel('X-FOO-' + Math.random()), 'other');
  assert.equal(statusLabel(183), '183');
  assert.equal(statusLabel(999), 'other');
  const g = new LabelGuard(3);
  assert.equal(g.label(null), 'none');
  assert.equal(g.label('a b c'), 'other');
  assert.equal(g.label('192.0.2.10:5060 said no because of a long reason that is certainly not a token at all'), 'other');
  assert.deepEqual(['r1', 'r2', 'r3', 'r4', 'r1'].map((v) => g.label(v)), ['r1', 'r2', 'r3', 'other', 'r1']);
  const m = createMetrics({ processMetrics: false });
  assert.equal(m.codeLabel('SIPS_ERR_TLS_NAME_MISMATCH'), 'SIPS_ERR_TLS_NAME_MISMATCH');
  assert.equal(m.codeLabel('whatever'), 'other');
  assert.equal(m.codeLabel(null), 'none');
});

test('the Grafana dashboard queries only metrics that exist', async () => {
  const { readFileSync } = await import('node:fs');
  const dashboard = JSON.parse(readFileSync('docker/grafana-dashboard.json', 'utf8')) as { panels: { targets?: { expr: string }[] }[] };
  const names = new Set((await createMetrics({ processMetrics: false }).registry.getMetricsAsJSON()).map((x) => x.name));
  const used = dashboard.panels.flatMap((p) => p.targets ?? []).flatMap((t) => [...t.expr.matchAll(/sips_edge_[a-z0-9_]+/g)].map((x) => x[0]));
  assert.ok(used.length > 20);
  for (const n of used) assert.ok(names.has(n.replace(/_(bucket|count|sum)$/, '')), `${n} is not a sips-edge metric`);
  for (const n of EXPECTED.filter((x) => x !== 'sips_edge_hep_packets_total')) assert.ok(used.some((u) => u.startsWith(n)), `${n} not on the dashboard`);
});
