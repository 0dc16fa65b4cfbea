import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseUri } from '../../../src/message/uri.js';
import type { ForwardDecision, RouteDecision } from '../../../src/proxy/types.js';
import { rig, request, src } from './helpers.js';

function fwd(d: RouteDecision): ForwardDecision {
  assert.equal(d.kind, 'forward', JSON.stringify(d));
  return d as ForwardDecision;
}

const PBX = src('10.20.0.15');

test('inside -> outside by peer.trunk: TGRP R-URI per lb host, servername = that host, SRTP, failover, header', async () => {
  const { router } = await rig();
  const d = fwd(await router.routeInitial(request('sip:069%201234567@edge.example.com;user=phone'), PBX, 'inside'));
  assert.equal(d.exitSide, 'outside');
  assert.equal(d.trunk, 'byoc-euc1');
  assert.equal(d.srtpRequired, true);
  assert.equal(d.failover, 3);
  assert.deepEqual(d.addHeaders, [['X-Inin-Trunk', 'byoc-frankfurt']]);
  // lb04 has no address offline: left out
  assert.deepEqual(d.targets.map((t) => [t.label, t.address, t.port, t.transport, t.servername]), [
    ['lb01.voice.euc1.pure.cloud', '127.0.0.1', 5061, 'tls', 'lb01.voice.euc1.pure.cloud'],
    ['lb02.voice.euc1.pure.cloud', '127.0.0.2', 5061, 'tls', 'lb02.voice.euc1.pure.cloud'],
    ['lb03.voice.euc1.pure.cloud', '127.0.0.3', 5061, 'tls', 'lb03.voice.euc1.pure.cloud'],
  ]);
  assert.equal(d.targets[1]!.requestUri.toString(), 'sip:+49691234567;tgrp=frankfurt-pbx;trunk-context=byoc.euc1.pure.cloud@lb02.voice.euc1.pure.cloud:5061;transport=tls');
  assert.deepEqual(router.acceptedNamesFor('LB02.voice.euc1.pure.cloud'), ['lb02.voice.euc1.pure.cloud', 'voice.euc1.pure.cloud']);
  assert.deepEqual(router.acceptedNamesFor('other.example'), ['other.example']);
});

test('round-robin rotates the start per call', async () => {
  const { router } = await rig();
  const firsts: string[] = [];
  for (let i = 0; i < 4; i++) firsts.push(fwd(await router.routeInitial(request('sip:0691234567@edge'), PBX, 'inside')).targets[0]!.label.slice(0, 4));
  assert.deepEqual(firsts, ['lb01', 'lb02', 'lb03', 'lb01']);
});

test('priority strategy orders by priority; outbound prefix picks the trunk', async () => {
  const { router } = await rig();
  const d = fwd(await router.routeInitial(request('sip:0049 30 123456@edge'.replace(/ /g, '%20')), src('192.0.2.5'), 'inside'));
  assert.equal(d.trunk, 'byoc-dnis');
  assert.deepEqual(d.targets.map((t) => t.requestUri.toString()), [
    'sip:4930123456@lb01.voice.euc1.pure.cloud:5061;transport=tls',
    'sip:4930123456@lb02.voice.euc1.pure.cloud:5061;transport=tls',
  ]);
  const again = fwd(await router.routeInitial(request('sip:0049301234@edge'), src('192.0.2.5'), 'inside'));
  assert.equal(again.targets[0]!.label, 'lb01.voice.euc1.pure.cloud', 'priority does not rotate');
});

test('FQDN trunk by prefix +1: R-URI host is the BYOC name, connection and identity are the lb host', async () => {
  const { router } = await rig();
  const d = fwd(await router.routeInitial(request('tel:+1-317-555-0100'), src('192.0.2.5'), 'inside'));
  assert.equal(d.trunk, 'byoc-usw2');
  assert.equal(d.targets[0]!.requestUri.toString(), 'sip:+13175550100@acme.byoc.usw2.pure.cloud:5061;transport=tls');
  assert.equal(d.targets[0]!.servername, 'lb01.voice.usw2.pure.cloud');
  assert.equal(d.targets[3]!.address, '::1');
  assert.equal(router.notes().filter((n) => n.code === 'fqdn-name-validation').length, 1);
});

test('default trunk when no peer trunk and no prefix matches; 404 when there is no default', async () => {
  const { router } = await rig();
  assert.equal(fwd(await router.routeInitial(request('sip:+33123456789@edge'), src('192.0.2.5'), 'inside')).trunk, 'byoc-euc1');
  const none = await rig((c) => { c.routing.defaultTrunk = undefined; });
  const d = await none.router.routeInitial(request('sip:+33123456789@edge'), src('192.0.2.5'), 'inside');
  assert.equal(d.kind === 'reject' && d.status, 404);
  assert.equal(d.kind === 'reject' && d.code, 'SIPS_ERR_ROUTE_NO_ROUTE');
  const nouser = await none.router.routeInitial(request('sip:edge.example.com'), PBX, 'inside');
  assert.equal(nouser.kind === 'reject' && nouser.code, 'SIPS_ERR_ROUTE_NO_ROUTE');
});

test('all hosts down -> 503 with Retry-After (SIPS_ERR_ROUTE_ALL_DOWN); a down host is skipped', async () => {
  const { router, health } = await rig();
  for (const lb of ['lb01', 'lb02']) for (let i = 0; i < 2; i++) health.reportFailure({ trunk: 'byoc-euc1', host: `${lb}.voice.euc1.pure.cloud` }, 'timeout');
  const d = fwd(await router.routeInitial(request('sip:0691234567@edge'), PBX, 'inside'));
  assert.deepEqual(d.targets.map((t) => t.label), ['lb03.voice.euc1.pure.cloud']);
  for (let i = 0; i < 2; i++) health.reportFailure({ trunk: 'byoc-euc1', host: 'lb03.voice.euc1.pure.cloud' }, 'timeout');
  const r = await router.routeInitial(request('sip:0691234567@edge'), PBX, 'inside');
  assert.deepEqual(r, { kind: 'reject', status: 503, reason: 'Service Unavailable', code: 'SIPS_ERR_ROUTE_ALL_DOWN', headers: [['Retry-After', '60']] });
});

test('outside -> inside by tgrp, R-URI host, prefix, default; R-URI rewritten toward the peer', async () => {
  const { router } = await rig();
  const byTgrp = fwd(await router.routeInitial(request('sip:+4969123456789;tgrp=carrier-in;trunk-context=byoc.euc1.pure.cloud@edge.example.com:5061;transport=tls'), src('127.0.0.1', 'tls'), 'outside'));
  assert.equal(byTgrp.peer, 'carrier');
  assert.equal(byTgrp.exitSide, 'inside');
  assert.equal(byTgrp.srtpRequired, false);
  assert.deepEqual(byTgrp.targets.map((t) => [t.address, t.port, t.transport, t.requestUri.toString()]), [['192.0.2.10', 5060, 'tcp', 'sip:+4969123456789@carrier.example.net:5060;transport=tcp']]);
  const byHost = fwd(await router.routeInitial(request('sip:+14155550100@acme.byoc.usw2.pure.cloud;user=phone'), src('127.0.0.1', 'tls'), 'outside'));
  assert.equal(byHost.peer, 'carrier');
  assert.equal(byHost.targets[0]!.requestUri.toString(), 'sip:+14155550100@carrier.example.net:5060;user=phone;transport=tcp');
  assert.equal(fwd(await router.routeInitial(request('sip:+4930555@edge.example.com'), src('127.0.0.1', 'tls'), 'outside')).peer, 'carrier');
  const def = fwd(await router.routeInitial(request('sip:+4969123456789@edge.example.com:5061;transport=tls'), src('127.0.0.1', 'tls'), 'outside'));
  assert.equal(def.peer, 'pbx-frankfurt');
  assert.equal(def.srtpRequired, true);
  assert.equal(def.targets[0]!.requestUri.toString(), 'sip:+4969123456789@10.20.0.15:5060');
  assert.equal(def.targets[0]!.servername, undefined);
});

test('srtpRequiredFor: outside always, inside per peer', async () => {
  const { router } = await rig();
  assert.equal(router.srtpRequiredFor('outside', 'byoc-euc1'), true);
  assert.equal(router.srtpRequiredFor('inside', 'pbx-frankfurt'), true);
  assert.equal(router.srtpRequiredFor('inside', 'carrier'), false);
  assert.equal(router.srtpRequiredFor('inside', undefined), false);
});

test('resolveNextHop: transport param, sips, default ports, names resolved and validated by name', async () => {
  const { router } = await rig();
  assert.deepEqual(await router.resolveNextHop(parseUri('sip:lb02.voice.euc1.pure.cloud:5061;transport=tls;lr'), 'outside', {}),
    { transport: 'tls', address: '127.0.0.2', port: 5061, servername: 'lb02.voice.euc1.pure.cloud' });
  assert.deepEqual(await router.resolveNextHop(parseUri('sips:lb01.voice.euc1.pure.cloud;lr'), 'outside', { flowId: 'f7' }),
    { transport: 'tls', address: '127.0.0.1', port: 5061, servername: 'lb01.voice.euc1.pure.cloud', flowId: 'f7' });
  assert.deepEqual(await router.resolveNextHop(parseUri('sip:201@10.20.0.15'), 'inside', {}), { transport: 'udp', address: '10.20.0.15', port: 5060 });
  assert.deepEqual(await router.resolveNextHop(parseUri('sip:carrier.example.net;transport=tcp'), 'inside', {}), { transport: 'tcp', address: '192.0.2.10', port: 5060 });
  assert.deepEqual(await router.resolveNextHop(parseUri('sip:[2001:db8:1::9]:5070;transport=tcp'), 'inside', {}), { transport: 'tcp', address: '2001:db8:1::9', port: 5070 });
});

test('resolveNextHop outside to an IP: connect to the resolved targetName and validate against it (S-VAL-3)', async () => {
  const { router } = await rig();
  const contact = parseUri('sip:+14155550100@52.28.11.201:5061;transport=tls');
  assert.deepEqual(await router.resolveNextHop(contact, 'outside', { targetName: 'lb03.voice.euc1.pure.cloud', flowId: 'f1' }),
    { transport: 'tls', address: '127.0.0.3', port: 5061, servername: 'lb03.voice.euc1.pure.cloud', flowId: 'f1' });
  assert.deepEqual(await router.resolveNextHop(contact, 'outside', { flowId: 'f1' }), { transport: 'tls', address: '52.28.11.201', port: 5061, flowId: 'f1' });
  const r = await router.resolveNextHop(contact, 'outside', {});
  assert.equal('kind' in r && r.kind === 'reject' && r.code, 'SIPS_ERR_ROUTE_IP_TARGET');
  const u = await router.resolveNextHop(parseUri('sip:nowhere.example.invalid;transport=tls'), 'outside', {});
  assert.equal('kind' in u && u.kind === 'reject' && u.code, 'SIPS_ERR_ROUTE_UNRESOLVED');
  const tel = await router.resolveNextHop(parseUri('tel:+4969123'), 'outside', {});
  assert.equal('kind' in tel && tel.kind === 'reject' && tel.status, 416);
});

test('dns.srv: a trunk host with _sips._tcp records expands to SRV targets validated against the SRV domain (S-URI-6)', async () => {
  const { VirtualClock } = await import('../../../src/clock.js');
  const { createResolver } = await import('../../../src/routing/resolver.js');
  const { createHealthMonitor } = await import('../../../src/routing/health.js');
  const { createRouter } = await import('../../../src/routing/router.js');
  const { fixtureConfig } = await import('./helpers.js');
  const config = fixtureConfig();
  config.dns.srv = true;
  const clock = new VirtualClock();
  const resolver = createResolver({
    clock,
    overrides: { ...config.dns.overrides, 'edge-a.vendor.example': ['198.51.100.1'], 'edge-b.vendor.example': ['198.51.100.2'] },
    random: () => 0,
    dns: {
      resolve4: async () => { throw Object.assign(new Error('nx'), { code: 'ENOTFOUND' }); },
      resolve6: async () => { throw Object.assign(new Error('nx'), { code: 'ENOTFOUND' }); },
      lookup: async () => { throw Object.assign(new Error('nx'), { code: 'ENOTFOUND' }); },
      resolveSrv: async (n) => n === '_sips._tcp.lb01.voice.euc1.pure.cloud'
        ? [{ name: 'edge-b.vendor.example', port: 5062, priority: 20, weight: 0 }, { name: 'edge-a.vendor.example', port: 5061, priority: 10, weight: 0 }]
        : [],
    },
  });
  const router = createRouter(config, { resolver, health: createHealthMonitor({ clock }), clock });
  await router.refresh();
  assert.equal(router.admit(src('198.51.100.2', 'tls'), 'outside'), null, 'SRV targets count as vendor addresses');
  const d = fwd(await router.routeInitial(request('sip:0049301234@edge'), src('192.0.2.5'), 'inside'));
  assert.deepEqual(d.targets.map((t) => [t.label, t.address, t.port, t.servername]), [
    ['edge-a.vendor.example', '198.51.100.1', 5061, 'lb01.voice.euc1.pure.cloud'],
    ['edge-b.vendor.example', '198.51.100.2', 5062, 'lb01.voice.euc1.pure.cloud'],
    ['lb02.voice.euc1.pure.cloud', '127.0.0.2', 5061, 'lb02.voice.euc1.pure.cloud'],
  ]);
});
