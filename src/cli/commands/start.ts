import { ConfigLoadError, loadConfigFile } from '../../config/load-config.js';
import { resolveSecrets } from '../../config/secrets.js';
import { runEdgePrimary, runEdgeWorker, WORKER_ENV, workerCount, type WorkerLaunch } from '../../edge-cluster.js';
import { runEdgeProcess } from '../../edge-runtime.js';
import { parseFlags, type CommandIo } from '../args.js';

export const startHelp = `Usage: sips-edge start --config FILE

Runs the edge with FILE (YAML; see README "Configuration"). Prints one JSON log line per event
to stdout; the first "listening" line lists every bound listener and the admin address.

Signals:
  SIGHUP   reload TLS certificates, keys and CRLs (a broken file keeps the old one)
  SIGTERM  drain: new INVITEs get 503 + Retry-After, running transactions finish, then exit
           (at most edge.drainTimeoutSeconds)
  SIGINT   stop now

With edge.workers > 1 (or auto) the process is a primary with that many worker processes on
shared ports (docs/workers.md); signals go to the primary, which passes them on.`;

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
  const opts = { configFile: flags.config, secrets: resolveSecrets(config, process.env) };
  const launch = workerLaunch(process.env);
  if (launch !== null) return runEdgeWorker(config, opts, launch);
  if (workerCount(config) > 1) return runEdgePrimary(config, opts);
  return runEdgeProcess(config, opts);
}

/** A worker of a primary (edge-cluster.ts) is told its slot, the bound ports and the shared secrets by its environment. */
function workerLaunch(env: NodeJS.ProcessEnv): WorkerLaunch | null {
  const slot = Number(env[WORKER_ENV.slot] ?? '');
  if (!Number.isInteger(slot) || slot < 1) return null;
  const ports = env[WORKER_ENV.ports] ?? '';
  const secret = env[WORKER_ENV.ticketSecret] ?? '';
  const routeKey = env[WORKER_ENV.routeKey] ?? '';
  return {
    slot,
    workers: Math.max(1, Number(env[WORKER_ENV.workers] ?? '1') || 1),
    ports: ports === '' ? null : ports.split(',').map(Number),
    ...(secret !== '' ? { ticketSecret: Buffer.from(secret, 'hex') } : {}),
    ...(routeKey !== '' ? { routeKey } : {}),
  };
}
