import { join } from 'node:path';
import { VirtualClock } from '../../../src/clock.js';
import { loadConfigFile } from '../../../src/config/load-config.js';
import type { EdgeConfig } from '../../../src/config/schema.js';
import { parseMessage } from '../../../src/message/parse-message.js';
import type { SipMessage } from '../../../src/message/message.js';
import { createHealthMonitor, type HealthMonitor, type Probe } from '../../../src/routing/health.js';
import { createResolver, type Resolver } from '../../../src/routing/resolver.js';
import { createRouter, type EdgeRouter } from '../../../src/routing/router.js';
import type { PeerAddress } from '../../../src/transaction/types.js';

export const ROUTING_FIXTURES = join(process.cwd(), 'test/fixtures/routing');
export const EDGE_YAML = join(ROUTING_FIXTURES, 'edge.yaml');

export function fixtureConfig(): EdgeConfig {
  return loadConfigFile(EDGE_YAML, process.env);
}

export interface Rig {
  readonly config: EdgeConfig;
  readonly clock: VirtualClock;
  readonly resolver: Resolver;
  readonly health: HealthMonitor;
  readonly router: EdgeRouter;
}

/** Router over the fixture config, offline resolver (dns.overrides only), virtual clock. */
export async function rig(edit?: (c: EdgeConfig) => void, probe?: Probe): Promise<Rig> {
  const config = fixtureConfig();
  edit?.(config);
  const clock = new VirtualClock();
  const resolver = createResolver({ overrides: config.dns.overrides, clock, offline: true });
  const health = createHealthMonitor({ clock, ...(probe ? { probe } : {}) });
  const router = createRouter(config, { resolver, health, clock });
  await router.refresh();
  return { config, clock, resolver, health, router };
}

export function request(ruri: string, extra = ''): SipMessage {
  const text = `INVITE ${ruri} SIP/2.0\r\nVia: SIP/2.0/UDP 10.20.0.15:5060;branch=z9hG4bK-1\r\nMax-Forwards: 70\r\n` +
    `From: <sip:201@10.20.0.15>;tag=a1\r\nTo: <${ruri}>\r\nCall-ID: c1@10.20.0.15\r\nCSeq: 1 INVITE\r\n${extra}Content-Length: 0\r\n\r\n`;
  const r = parseMessage(Buffer.from(text, 'latin1'));
  if (!r.ok) throw new Error(`fixture request did not parse: ${r.error.message}`);
  return r.value;
}

export function src(address: string, transport: PeerAddress['transport'] = 'udp'): PeerAddress {
  return { transport, address, port: 5060, localAddress: '127.0.0.1', localPort: 5060 };
}

/** Lets pending promise callbacks run (probes resolve in microtasks). */
export async function flush(): Promise<void> {
  for (let i = 0; i < 10; i++) await new Promise<void>((r) => setImmediate(r));
}
