#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import { processIo, UsageError, type CommandIo } from './args.js';
import { parseCommand } from './commands/parse.js';
import { minimumNodeMajor, unsupportedNode } from './node-version.js';

type Command = (argv: readonly string[], io: CommandIo) => Promise<number>;

/** Commands load lazily so `sips-edge parse` does not pay for TLS or the proxy. */
const COMMANDS: Record<string, { summary: string; load: () => Promise<Command> }> = {
  start: { summary: 'start --config FILE: run the edge', load: async () => (await import('./commands/start.js')).startCommand },
  parse: { summary: 'parse one SIP message and print it as JSON', load: async () => parseCommand },
  certs: {
    summary: 'certs lab --out DIR: generate the lab PKI',
    load: async () => {
      const m = await import('./commands/certs.js');
      return (argv) => m.certsCommand([...argv]);
    },
  },
  route: {
    summary: "route --explain URI: where a request goes and why",
    load: async () => (await import('./commands/route.js')).routeCommand,
  },
  lab: { summary: 'run the lab: simulated region + edge + PBX simulator', load: async () => (await import('./commands/lab.js')).labCommand },
  config: { summary: 'config check FILE: validate a config file', load: async () => (await import('./commands/config-check.js')).configCommand },
  doctor: { summary: 'doctor --config FILE: check certificates, trunks and config', load: async () => (await import('./commands/doctor.js')).doctorCommand },
  version: { summary: 'print the version', load: async () => versionCommand },
};

const HELP = `Usage: sips-edge <command> [options]   (every command takes --help)

Commands:
${Object.entries(COMMANDS).map(([n, c]) => `  ${n.padEnd(10)} ${c.summary}`).join('\n')}`;

interface PackageJson {
  readonly version: string;
  readonly engines?: { readonly node?: string };
}

function packageJson(): PackageJson {
  return JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as PackageJson;
}

async function versionCommand(argv: readonly string[], io: CommandIo): Promise<number> {
  if (argv.includes('--help')) {
    io.out('Usage: sips-edge version\n\nPrints the sips-edge version and the Node.js version it runs on.');
    return 0;
  }
  const pkg = packageJson();
  io.out(`sips-edge ${pkg.version} (node ${process.version})`);
  return 0;
}

export async function main(argv: readonly string[], io: CommandIo = processIo): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    io.out(HELP);
    return name === undefined ? 2 : 0;
  }
  const cmd = COMMANDS[name];
  if (cmd === undefined) {
    io.err(`unknown command "${name}"\n\n${HELP}`);
    return 2;
  }
  const minMajor = name === 'version' ? null : minimumNodeMajor(packageJson().engines?.node);
  const tooOld = minMajor === null ? null : unsupportedNode(process.version, minMajor);
  if (tooOld !== null) {
    io.err(`sips-edge ${name}: ${tooOld}`);
    return 2;
  }
  try {
    return await (await cmd.load())(rest, io);
  } catch (e) {
    if (e instanceof UsageError) {
      io.err(`sips-edge ${name}: ${e.message} (see sips-edge ${name} --help)`);
      return 2;
    }
    throw e;
  }
}

main(process.argv.slice(2)).then(
  (code) => { process.exitCode = code; },
  (e: unknown) => {
    process.stderr.write(`sips-edge: ${e instanceof Error ? e.stack ?? e.message : String(e)}\n`);
    process.exitCode = 1;
  },
);
