import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ConfigLoadError, PACKAGE_ROOT } from '../../config/load-config.js';
import type { EdgeConfig } from '../../config/schema.js';
import { formatReport, startLab, type LabEdge, type LabEdgeHooks } from '../../lab/run-lab.js';
import { createLogger, formatPrettyLine } from '../../observability/index.js';
import { resolveSecrets } from '../../config/secrets.js';
import { startObservedEdge } from '../../edge-runtime.js';
import { parseFlags, UsageError } from '../args.js';

export const labHelp = `Usage: sips-edge lab [--once] [--out DIR] [--ports fixed|ephemeral] [--config FILE]

Runs the lab on loopback: a simulated vendor region (lb01..lb04.voice.euc1.pure.cloud as TLS SIP
servers enforcing the trunk policy, the Request-URI forms and SRTP), the edge itself with the lab
config, a PBX simulator, and (when /usr/bin/rtpengine is installed) its own rtpengine with a carrier
simulator that speaks RTP only. Places calls in TGRP, DNIS and FQDN mode, with and without SRTP,
from the region to the PBX, and carrier RTP <-> vendor SRTP calls with real media both ways, then
prints a report (expected vs actual).

  --once             exit after the report (exit 1 if any call differs from its expected outcome)
  --out DIR          lab PKI directory, generated when missing (default $SIPS_EDGE_LAB_DIR or ./.lab)
  --ports MODE       fixed (default: edge TLS 127.0.0.1:5061, inside UDP+TCP 127.0.0.1:5060,
                     admin 127.0.0.1:9090) or ephemeral (port 0 everywhere; bound ports are printed);
                     also $SIPS_EDGE_LAB_PORTS
  --config FILE      edge config (default config/sips-edge.yaml of the package; its ../.lab/ paths
                     are mapped to the lab PKI directory)
  --report-json FILE also write the report rows as JSON
  --verbose          print the edge's info logs too

$SIPS_EDGE_LAB_RTPENGINE names another rtpengine binary (default /usr/bin/rtpengine). Without one
the lab says how to install it and runs without the carrier peer and its media rows.

Without --once the lab keeps running with the admin endpoints up, so a PBX can be pointed at the
edge's inside listener; Ctrl-C stops everything.`;

/**
 * The lab's edge: the same start as `sips-edge start` (startObservedEdge), its log lines printed as
 * lab output (warnings and errors; --verbose: the config's level).
 */
function labEdgeStarter(configFile: string): (config: EdgeConfig, hooks: LabEdgeHooks) => Promise<LabEdge> {
  return async (config, hooks) => {
    const log = createLogger({
      level: hooks.verbose ? config.logging.level : 'warn',
      destination: {
        write(chunk: string): void {
          for (const line of chunk.split('\n')) if (line !== '') hooks.progress(`  edge ${formatPrettyLine(line).trimEnd()}`);
        },
      },
    });
    const obs = await startObservedEdge(config, { configFile, secrets: resolveSecrets(config, process.env), onHealthChange: hooks.onHealthChange }, log);
    return {
      edge: obs.stack,
      health: obs.stack.health,
      admin: obs.admin === null ? null : { address: obs.admin.address, port: obs.admin.port },
      async stop() {
        await obs.stack.stop();
        await obs.close();
      },
    };
  };
}

export async function labCommand(argv: readonly string[], io: { out(t: string): void; err(t: string): void }): Promise<number> {
  const { flags, positional } = parseFlags(argv, { once: 'boolean', out: 'string', ports: 'string', config: 'string', 'report-json': 'string', verbose: 'boolean', help: 'boolean' });
  if (flags.help) {
    io.out(labHelp);
    return 0;
  }
  if (positional.length > 0) throw new UsageError(`unexpected argument ${positional[0]!}`);
  const ports = flags.ports ?? process.env['SIPS_EDGE_LAB_PORTS'] ?? 'fixed';
  if (ports !== 'fixed' && ports !== 'ephemeral') throw new UsageError(`--ports ${ports}: expected fixed or ephemeral`);
  const labDir = resolve(flags.out ?? process.env['SIPS_EDGE_LAB_DIR'] ?? '.lab');
  const configFile = resolve(flags.config ?? join(PACKAGE_ROOT, 'config/sips-edge.yaml'));

  let lab;
  try {
    lab = await startLab({ startEdge: labEdgeStarter(configFile), labDir, configFile, env: process.env, ephemeral: ports === 'ephemeral', progress: (l) => io.out(l), verbose: flags.verbose === true, ...(process.env['SIPS_EDGE_LAB_RTPENGINE'] ? { rtpengineBinary: process.env['SIPS_EDGE_LAB_RTPENGINE'] } : {}) });
  } catch (e) {
    if (e instanceof ConfigLoadError) {
      io.err(e.message);
      return 2;
    }
    const code = (e as NodeJS.ErrnoException).code;
    io.err(`sips-edge lab: could not start: ${(e as Error).message}${code === 'EADDRINUSE' ? ' (a fixed lab port is taken: stop what uses it, or run with --ports ephemeral)' : ''}`);
    return 1;
  }
  const a = lab.addresses;
  io.out(`ready: edge ${a.edgeOutside.name} tls ${a.edgeOutside.address}:${a.edgeOutside.port}, inside ${a.inside.map((l) => `${l.transport} ${l.address}:${l.port}`).join(' ')}${a.admin ? `, admin ${a.admin.address}:${a.admin.port}` : ''}`);

  let rows;
  try {
    rows = await lab.runCalls();
  } catch (e) {
    io.err(`sips-edge lab: calls failed: ${(e as Error).stack ?? String(e)}`);
    await lab.stop();
    return 1;
  }
  io.out('');
  io.out(formatReport(rows));
  if (flags['report-json'] !== undefined) writeFileSync(flags['report-json'], JSON.stringify({ addresses: a, rows }, null, 2) + '\n');
  const ok = rows.every((r) => r.pass);
  if (flags.once) {
    await lab.stop();
    return ok ? 0 : 1;
  }
  io.out('');
  io.out(`the lab keeps running: point a PBX at ${a.inside.map((l) => `${l.transport} ${l.address}:${l.port}`).join(' or ')}${a.admin ? `; metrics at http://${a.admin.address}:${a.admin.port}/metrics` : ''}; Ctrl-C stops`);
  return new Promise<number>((done) => {
    const stop = (): void => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      io.out('stopping the lab');
      lab.stop().then(() => done(ok ? 0 : 1), () => done(1));
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}
