import { ConfigLoadError, loadConfigFile } from '../../config/load-config.js';
import type { EdgeConfig } from '../../config/schema.js';
import { semanticIssues } from '../../doctor/config-semantics.js';
import { parseFlags, UsageError, type CommandIo } from '../args.js';

export const configHelp = `Usage: sips-edge config check FILE [--no-files]

Loads and validates FILE without starting anything: YAML syntax (with the line), unknown keys,
types, ranges and enums, cross references (trunk and peer names, overlapping listeners, a TLS
listener without an identity, passphrase environment variables), region codes against the regions
table, and that every file the config names (certificates, keys, CRLs, trust roots, regions file)
exists and is readable. Relative paths are resolved against FILE's directory.

  --no-files   skip the file checks (e.g. to check a config on a machine without its certificates)

Prints "ok: FILE" and exits 0, or prints every problem as "  key.path: what is wrong" and exits 1.
Exit 2 on usage errors.`;

export async function configCommand(argv: readonly string[], io: CommandIo): Promise<number> {
  const { flags, positional } = parseFlags(argv, { help: 'boolean', 'no-files': 'boolean' });
  if (flags.help) {
    io.out(configHelp);
    return 0;
  }
  const [sub, file, ...rest] = positional;
  if (sub !== 'check') throw new UsageError(sub === undefined ? 'subcommand required: config check FILE' : `unknown subcommand "${sub}"`);
  if (file === undefined) throw new UsageError('config check needs a FILE');
  if (rest.length) throw new UsageError(`unexpected arguments: ${rest.join(' ')}`);
  let config: EdgeConfig;
  try {
    config = loadConfigFile(file, process.env);
  } catch (e) {
    if (e instanceof ConfigLoadError) {
      io.err(e.message);
      return 1;
    }
    throw e;
  }
  const issues = semanticIssues(config, { files: flags['no-files'] !== true });
  if (issues.length) {
    io.err(new ConfigLoadError(file, issues).message);
    return 1;
  }
  io.out(`ok: ${file}`);
  return 0;
}
