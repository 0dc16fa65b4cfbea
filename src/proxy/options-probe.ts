import { randomBytes } from 'node:crypto';
import type { Clock } from '../clock.js';
import { buildInDialogRequest } from '../message/build-request.js';
import type { Probe } from '../routing/health.js';
import { branchOnly } from './branch.js';
import type { ProxyTransactions } from './deps.js';
import type { ProxyIdentity } from './identity.js';
import { viaValue } from './via.js';

export interface OptionsProbeDeps {
  readonly clock: Clock;
  readonly identity: ProxyIdentity;
  readonly transactions: Pick<ProxyTransactions, 'createClient'>;
  /** edge.name: the probe's From and Call-ID host. */
  readonly edgeName: string;
  readonly agent: string;
}

/** The health monitor's probe: an OPTIONS over the TLS pool to one lb host; an answer below 500 means it takes calls. */
export function createOptionsProbe(d: OptionsProbeDeps): Probe {
  return (host) => {
    const started = d.clock.now();
    const leg = d.identity.exitLeg('outside', 'tls');
    const req = buildInDialogRequest({
      method: 'OPTIONS',
      requestUri: `sip:${host.name}:${host.port};transport=tls`,
      via: viaValue(leg, branchOnly()),
      routes: [],
      from: `<sip:probe@${d.edgeName}>;tag=${randomBytes(4).toString('hex')}`,
      to: `<sip:${host.name}>`,
      callId: `probe-${randomBytes(8).toString('hex')}@${d.edgeName}`,
      cseq: 1,
      headers: [['Accept', 'application/sdp'], ['User-Agent', d.agent]],
    });
    return new Promise((resolve) => {
      d.transactions.createClient(req, { transport: 'tls', address: host.address, port: host.port, servername: host.name }, {
        onResponse: (res) => {
          if (res.status < 200) return;
          const latencyMs = d.clock.now() - started;
          resolve(res.status < 500 ? { ok: true, latencyMs } : { ok: false, latencyMs, reason: `${res.status} ${res.startLine.kind === 'response' ? res.startLine.reason : ''}`.trim() });
        },
        onTimeout: () => resolve({ ok: false, latencyMs: d.clock.now() - started, reason: 'timeout' }),
        onTransportError: (f) => resolve({ ok: false, latencyMs: d.clock.now() - started, reason: f.reason }),
      });
    });
  };
}
