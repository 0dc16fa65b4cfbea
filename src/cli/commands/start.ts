import { ConfigLoadError, loadConfigFile } from '../../config/load-config.js';
import { resolveSecrets } from '../../config/secrets.js';
import { runEdgeProcess } from '../../edge-runtime.js';
import { parseFlags, type CommandIo } from '../args.js';

export const startHelp = `Usage: sips-edge start --config FILE

Runs the edge with FILE (YAML; see README "Configuration"). Prints one JSON log line per event
to stdout; the first "listening" line lists every bound listener and the admin address.

Signals:
  SIGHUP   reload TLS certificates, keys and CRLs (a broken file keeps the old one)
  SIGTERM  drain: new INVITEs get 503 + Retry-After, running transactions finish, then exit
           (at most edge.drainTimeoutSeconds)
  SIGINT   stop now`;

export async function startCommand(argv: readonly string[], io: CommandIo): Promise<number> {
  const { flags } = parseFlags(argv, { config: 'string', help: 'boolean' });
  if (flags.help) {
    io.out(startHelp);
    return 0;
  }
  if (flags.config === undefined) {
    io.err('sips-edge start: --config FILE is required (see sips-edge start --help)');
    return 2;
  }
  let config;
  try {
    config = loadConfigFile(flags.config, process.env);
  } catch (e) {
    if (e instanceof ConfigLoadError) {
      io.err(e.message);
      return 2;
    }
    throw e;
  }
  // The edge of the program: the environment is read here and passed in, never inside the stack.
  return runEdgeProcess(config, { configFile: flags.config, secrets: resolveSecrets(config, process.env) });
}
