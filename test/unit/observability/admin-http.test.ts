import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { createMetrics } from '../../../src/observability/metrics.js';
import { startAdminServer, type ReadinessReport } from '../../../src/observability/admin-http.js';

interface Reply { status: number; type: string | undefined; body: string }

function request(port: number, path: string, method = 'GET'): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, method, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, type: res.headers['content-type'], body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    req.end();
  });
}

test('admin endpoints: healthz, readyz flipping from 503 to 200, metrics text, 404', async () => {
  const metrics = createMetrics({ processMetrics: false });
  metrics.requests.inc({ method: 'INVITE', direction: 'outbound' });
  let report: ReadinessReport = { listenersBound: false, trunks: [{ name: 'euc1', healthyUpstreams: 0 }, { name: 'use1', healthyUpstreams: 2 }] };
  const admin = await startAdminServer({ address: '127.0.0.1', port: 0, metrics, readiness: () => report });
  try {
    assert.ok(admin.port > 0);

    const health = await request(admin.port, '/healthz');
    assert.deepEqual([health.status, health.body], [200, 'ok\n']);

    let ready = await request(admin.port, '/readyz');
    assert.equal(ready.status, 503);
    assert.match(ready.type ?? '', /^application\/json/);
    assert.deepEqual((JSON.parse(ready.body) as { notReady: string[] }).notReady, ['listeners', 'trunk:euc1']);

    report = { listenersBound: true, trunks: [{ name: 'euc1', healthyUpstreams: 0 }, { name: 'use1', healthyUpstreams: 2 }] };
    ready = await request(admin.port, '/readyz');
    assert.equal(ready.status, 503);
    assert.deepEqual((JSON.parse(ready.body) as { notReady: string[] }).notReady, ['trunk:euc1']);

    report = { listenersBound: true, trunks: [{ name: 'euc1', healthyUpstreams: 1 }, { name: 'use1', healthyUpstreams: 2 }] };
    ready = await request(admin.port, '/readyz');
    assert.equal(ready.status, 200);
    assert.equal((JSON.parse(ready.body) as { ready: boolean }).ready, true);

    const m = await request(admin.port, '/metrics');
    assert.equal(m.status, 200);
    assert.match(m.type ?? '', /^text\/plain; version=0\.0\.4/);
    assert.ok(m.body.includes('sips_edge_requests_total{method="INVITE",direction="outbound"} 1'));

    assert.equal((await request(admin.port, '/metrics?x=1')).status, 200);
    assert.equal((await request(admin.port, '/')).status, 404);
    assert.equal((await request(admin.port, '/metricsx')).status, 404);
    assert.equal((await request(admin.port, '/healthz', 'POST')).status, 405);
    const head = await request(admin.port, '/healthz', 'HEAD');
    assert.deepEqual([head.status, head.body], [200, '']);
  } finally {
    await admin.close();
  }
});

test('a throwing readiness callback answers 503, not a crash', async () => {
  const admin = await startAdminServer({
    address: '127.0.0.1', port: 0, metrics: createMetrics({ processMetrics: false }),
    readiness: () => Promise.reject(new Error('router not built yet')),
  });
  try {
    const r = await request(admin.port, '/readyz');
    assert.equal(r.status, 503);
    assert.match(r.body, /router not built yet/);
  } finally {
    await admin.close();
  }
});

test('close() ends a kept-alive connection and frees the port', async () => {
  const admin = await startAdminServer({ address: '127.0.0.1', port: 0, metrics: createMetrics({ processMetrics: false }), readiness: () => ({ listenersBound: true, trunks: [] }) });
  const agent = new http.Agent({ keepAlive: true });
  await new Promise<void>((resolve, reject) => {
    http.get({ host: '127.0.0.1', port: admin.port, path: '/healthz', agent }, (res) => { res.resume(); res.on('end', resolve); }).on('error', reject);
  });
  await admin.close();
  agent.destroy();
  await assert.rejects(request(admin.port, '/healthz'));
});
