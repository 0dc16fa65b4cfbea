import { formatCheck, summarize } from '../../doctor/check.js';
import { runDoctor } from '../../doctor/run-doctor.js';
import { parseFlags, UsageError, type CommandIo } from '../args.js';

export const doctorHelp = `Usage: sips-edge doctor --config FILE [--offline] [--ca FILE ...] [--json]

Checks what the vendor will judge before it does, one line per check (PASS / WARN / FAIL, the
reason, and how to fix it; see docs/doctor.md):

  config          the file loads; referenced files exist; listeners, ports, targets (S-TLS-2, S-VAL-3)
  edge.*          the edge certificate: chain complete up to a root (S-TRUST-5), valid now and for
                  30 more days (S-VAL-4), RSA (S-TLS-7), edge.name as dNSName, no wildcard or IP name
                  (S-VAL-2/3/6), root of a CA family the vendor trusts (S-TRUST-4; a lab root warns),
                  key matches, CRL distribution point answers (S-VAL-5)
  trunk.<t>.<h>   each trunk host resolves and completes a handshake with the edge's exact policy and
                  name validation (unreachable: WARN; policy or name error: FAIL with its reason)

  --config FILE   the sips-edge config
  --offline       no DNS (dns.overrides only) and no CRL fetches; unresolvable hosts warn
  --ca FILE       a further root for the edge certificate's chain (repeatable); the roots in the
                  config's trust files and Node's bundled roots are known already
  --json          print the results as JSON

Exit 0 when no check fails (warnings allowed), 1 when any check fails, 2 on usage errors.`;

export async function doctorCommand(argv: readonly string[], io: CommandIo): Promise<number> {
  const { flags, positional } = parseFlags(argv, { config: 'string', offline: 'boolean', ca: 'multi', json: 'boolean', help: 'boolean' });
  if (flags.help) {
    io.out(doctorHelp);
    return 0;
  }
  if (positional.length) throw new UsageError(`unexpected arguments: ${positional.join(' ')}`);
  if (flags.config === undefined) throw new UsageError('--config FILE is required');
  const results = await runDoctor({ configFile: flags.config, env: process.env, offline: flags.offline === true, caFiles: flags.ca ?? [] });
  if (flags.json) io.out(JSON.stringify(results, null, 2));
  else {
    for (const r of results) io.out(formatCheck(r));
    io.out(summarize(results));
  }
  return results.some((r) => r.status === 'fail') ? 1 : 0;
}
