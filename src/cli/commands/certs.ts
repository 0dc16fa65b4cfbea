import { resolve } from 'node:path';
import { assertHostNameTarget } from '../../tls/peer-identity.js';
import { DEFAULT_CRL_BASE_URL, DEFAULT_EDGE_NAME, DEFAULT_LAB_REGIONS, generateLabPki } from '../../tls/lab-pki.js';
import { parseFlags, processIo, UsageError, type CommandIo } from '../args.js';

export const certsHelp = `Usage: sips-edge certs lab --out DIR [--seed N] [--region CODE ...] [--edge-name NAME] [--crl-url URL]

Generates the lab PKI into DIR: two RSA lab roots standing in for the vendor's DigiCert roots
("Lab EV Root", "Lab G2 Root"), an intermediate under each, leaf + intermediate chains for
lb01..lb04.voice.<region>.pure.cloud of each lab region, the edge's own certificate, one
certificate per validation failure (expired, not-yet-valid, wrong name, wildcard-only,
IP-address SAN only, CN-only, revoked + CRL, chain without intermediate, self-signed),
and manifest.json listing every file with its purpose. Keys are RSA 2048 (mode 0600).

  --out DIR          output directory (created)
  --seed N           reproducible output: seeded key generation, serials and a fixed base date
  --region CODE      lab region (repeatable; default ${DEFAULT_LAB_REGIONS.join(', ')})
  --edge-name NAME   the edge's certificate name (default ${DEFAULT_EDGE_NAME})
  --crl-url URL      base URL of the CRL distribution points (default ${DEFAULT_CRL_BASE_URL})`;

export async function certsCommand(argv: string[], io: CommandIo = processIo): Promise<number> {
  try {
    const { flags, positional } = parseFlags(argv, { out: 'string', seed: 'string', region: 'multi', 'edge-name': 'string', 'crl-url': 'string', help: 'boolean' });
    if (flags.help || positional.length === 0) {
      io.out(certsHelp);
      return flags.help ? 0 : 2;
    }
    if (positional[0] !== 'lab' || positional.length > 1) throw new UsageError(`unknown certs subcommand: ${positional.join(' ')}`);
    if (!flags.out) throw new UsageError('--out DIR is required');
    for (const r of flags.region ?? []) if (!/^[a-z0-9-]{2,20}$/.test(r)) throw new UsageError(`--region ${r}: expected a region code like euc1`);
    if (flags['edge-name'] !== undefined) {
      try {
        assertHostNameTarget(flags['edge-name'], '--edge-name');
      } catch (e) {
        throw new UsageError((e as Error).message);
      }
    }
    const outDir = resolve(flags.out);
    const pki = generateLabPki({
      outDir,
      ...(flags.seed !== undefined ? { seed: flags.seed } : {}),
      ...(flags.region?.length ? { regions: flags.region } : {}),
      ...(flags['edge-name'] !== undefined ? { edgeName: flags['edge-name'] } : {}),
      ...(flags['crl-url'] !== undefined ? { crlBaseUrl: flags['crl-url'] } : {}),
    });
    io.out(`wrote ${pki.manifest.length} files to ${outDir} (see manifest.json)`);
    return 0;
  } catch (e) {
    if (e instanceof UsageError) {
      io.err(`${e.message}\n\n${certsHelp}`);
      return 2;
    }
    io.err(`certs: ${(e as Error).message}`);
    return 1;
  }
}
