/** Doctor checks of the config itself, beyond what loading refuses: S-TLS-2 ports, S-VAL-3 targets, lab-only settings. */
import { isIP } from 'node:net';
import type { EdgeConfig } from '../config/schema.js';
import { fail, pass, warn, type CheckResult } from './check.js';

const TLS_PORT = 5061;

export function checkConfigSanity(c: EdgeConfig): CheckResult[] {
  const out: CheckResult[] = [];
  // Loading refuses overlapping listeners; here: is there a vendor-facing TLS listener on 5061 (S-TLS-2)?
  const outside = c.listen.filter((l) => l.side === 'outside' && l.transport === 'tls');
  if (outside.length === 0) out.push(warn('config.listeners', 'no outside TLS listener: the vendor cannot call in (S-CON-1)', 'add { side: outside, transport: tls, port: 5061 } to listen'));
  else {
    const odd = outside.filter((l) => l.port !== TLS_PORT);
    out.push(odd.length
      ? warn('config.listeners', `outside TLS listener on port ${odd.map((l) => l.port).join(', ')}, not ${TLS_PORT} (S-TLS-2)`, `listen on ${TLS_PORT} (or map it there in front of the edge)`)
      : pass('config.listeners', `${c.listen.length} listener(s), no overlaps; outside TLS on ${TLS_PORT}`));
  }
  // S-VAL-3: no trunk target is an IP address (the schema refuses them; peers over TLS need a name too).
  const ipTls = c.peers.filter((p) => p.transport === 'tls' && p.servername === undefined && isIP(p.host) !== 0);
  if (ipTls.length) out.push(fail('config.targets', `TLS peer(s) ${ipTls.map((p) => p.name).join(', ')} given by IP address without servername: no certificate name to validate (S-VAL-3)`, 'set peers[].servername to the name on the peer certificate'));
  else out.push(pass('config.targets', 'every TLS target is a host name (S-VAL-3)'));
  // S-TLS-2: trunk ports.
  const odd = c.trunks.filter((t) => t.transport === 'tls').map((t) => ({ name: t.name, ports: [...new Set([t.port, ...(t.hosts ?? []).map((h) => h.port ?? t.port)])].filter((p) => p !== TLS_PORT) })).filter((t) => t.ports.length > 0);
  if (odd.length) out.push(warn('config.ports', `TLS trunk port(s) other than ${TLS_PORT}: ${odd.map((t) => `${t.name} ${t.ports.join('/')}`).join(', ')} (S-TLS-2)`, `the vendor listens on ${TLS_PORT}; other ports are for labs`));
  else out.push(pass('config.ports', `TLS trunks use port ${TLS_PORT} (S-TLS-2)`));
  const insecure = c.trunks.filter((t) => t.transport !== 'tls');
  if (insecure.length) out.push(warn('config.insecure', `trunk(s) without TLS: ${insecure.map((t) => `${t.name} (${t.transport})`).join(', ')}`, 'only for a lab or a carrier leg: the vendor trunk is TLS only (S-CON-5)'));
  if (c.tls.revocation === 'off') out.push(warn('config.revocation', 'tls.revocation: off — revoked vendor certificates are accepted (S-VAL-5)', 'use soft (the default) or hard'));
  if (c.tls.keyLogFile !== undefined) out.push(warn('config.keylog', `tls.keyLogFile ${c.tls.keyLogFile}: TLS session keys are written to disk`, 'remove tls.keyLogFile outside the lab'));
  return out;
}
