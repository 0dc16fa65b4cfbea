import { systemClock } from '../../clock.js';
import { ConfigLoadError, loadConfigFile } from '../../config/load-config.js';
import { SipsError } from '../../errors.js';
import { parseUri, type Uri } from '../../message/uri.js';
import { explainRoute, formatExplanation } from '../../routing/explain.js';
import { createHealthMonitor } from '../../routing/health.js';
import { createResolver } from '../../routing/resolver.js';
import { createRouter } from '../../routing/router.js';
import { parseFlags, UsageError, type CommandIo } from '../args.js';

export const routeHelp = `Usage: sips-edge route --explain '<request-uri>' --config FILE [--from PEER | --side outside] [--json] [--offline]

Shows where a request with this Request-URI would go and why: the trunk (or inside peer) and the
rule that chose it, the number normalisation, and per target the rewritten Request-URI, the address
it connects to and the certificate name(s) it is validated against (RFC 5922, S-VAL-2).

  --explain URI    the Request-URI as a PBX (or, with --side outside, the vendor) would send it
  --config FILE    the sips-edge config (dns.overrides are honoured)
  --from PEER      the inside peer the request comes from (its trunk setting applies)
  --side SIDE      inside (default: a PBX calls out) or outside (the vendor calls in)
  --json           print the explanation as JSON
  --offline        no DNS: only IP literals and dns.overrides resolve; other names show as unresolved

Exit 0 when the request would be forwarded, 1 when it would be refused, 2 on usage or config errors.`;

export async function routeCommand(argv: readonly string[], io: CommandIo): Promise<number> {
  const { flags, positional } = parseFlags(argv, { explain: 'string', config: 'string', from: 'string', side: 'string', json: 'boolean', offline: 'boolean', help: 'boolean' });
  if (flags.help) {
    io.out(routeHelp);
    return 0;
  }
  const uriText = flags.explain ?? positional[0];
  if (uriText === undefined) throw new UsageError('--explain <request-uri> is required');
  if (flags.config === undefined) throw new UsageError('--config FILE is required');
  const side = flags.side ?? 'inside';
  if (side !== 'inside' && side !== 'outside') throw new UsageError(`--side must be inside or outside, got "${side}"`);
  if (side === 'outside' && flags.from !== undefined) throw new UsageError('--from names an inside peer; it does not go with --side outside');
  let uri: Uri;
  try {
    uri = parseUri(uriText);
  } catch (e) {
    io.err(`sips-edge route: ${(e as Error).message}`);
    return 2;
  }
  try {
    const config = loadConfigFile(flags.config, process.env);
    const from = flags.from === undefined ? undefined : config.peers.find((p) => p.name === flags.from);
    if (flags.from !== undefined && from === undefined) {
      io.err(`sips-edge route: --from "${flags.from}": no such peer (${config.peers.map((p) => p.name).join(', ') || 'none configured'})`);
      return 2;
    }
    const resolver = createResolver({ overrides: config.dns.overrides, clock: systemClock, ...(flags.offline ? { offline: true } : {}) });
    const health = createHealthMonitor({ clock: systemClock });
    const router = createRouter(config, { resolver, health, clock: systemClock });
    const e = await explainRoute(router, health, uri, side, from);
    io.out(flags.json ? JSON.stringify(e, null, 2) : formatExplanation(e));
    return e.decision === 'forward' ? 0 : 1;
  } catch (e) {
    if (e instanceof ConfigLoadError || e instanceof SipsError) {
      io.err(`sips-edge route: ${e.message}`);
      return 2;
    }
    throw e;
  }
}
