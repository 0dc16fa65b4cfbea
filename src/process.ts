/**
 * One edge process: runs the edge from a config, wires observability, handles signals, and
 * resolves with the exit code when it has stopped.
 */
import type { EdgeConfig } from './config/schema.js';
import { runEdge, type RunningEdge } from './run-edge.js';

export interface ProcessOptions {
  readonly configFile: string;
  readonly crlUrlOverrides?: Readonly<Record<string, string>>;
}

type Level = 'info' | 'warn' | 'error';

function jsonLog(level: Level, msg: string, fields: Record<string, unknown> = {}): void {
  process.stdout.write(JSON.stringify({ level, time: new Date().toISOString(), msg, ...fields }) + '\n');
}

export async function startProcess(config: EdgeConfig, opts: ProcessOptions): Promise<number> {
  const log = jsonLog;
  let running: RunningEdge;
  try {
    running = await runEdge(config, {
      log,
      ...(opts.crlUrlOverrides ? { crlUrlOverrides: opts.crlUrlOverrides } : {}),
      observer: {
        transactionDone: (e) => log('info', 'transaction', { ...e }),
        localReply: (e) => log('info', 'local reply', { ...e }),
      },
      onHealthChange: (c) => log(c.up ? 'info' : 'warn', c.up ? 'upstream up' : 'upstream down', { ...c }),
    });
  } catch (e) {
    log('error', 'start failed', { error: (e as Error).message, code: (e as { code?: string }).code ?? null });
    return 1;
  }
  log('info', 'listening', { config: opts.configFile, listeners: running.edge.listeners, edge: config.edge.name });
  return new Promise<number>((resolve) => {
    let stopping = false;
    const finish = (code: number) => {
      process.off('SIGHUP', onHup);
      process.off('SIGTERM', onTerm);
      process.off('SIGINT', onInt);
      log('info', 'stopped', { code });
      resolve(code);
    };
    const onHup = () => {
      const r = running.edge.reloadCertificates();
      for (const e of r.errors) log('error', 'certificate reload refused; keeping the old one', { error: e.message });
      log('info', 'certificates reloaded', { reloaded: r.reloaded, refused: r.errors.length });
    };
    const onTerm = () => {
      if (stopping) return;
      stopping = true;
      log('info', 'draining', { timeoutSeconds: config.edge.drainTimeoutSeconds });
      running.drain(config.edge.drainTimeoutSeconds * 1000).then(() => finish(0), () => finish(1));
    };
    const onInt = () => {
      if (stopping) return;
      stopping = true;
      running.stop().then(() => finish(0), () => finish(1));
    };
    process.on('SIGHUP', onHup);
    process.on('SIGTERM', onTerm);
    process.on('SIGINT', onInt);
  });
}
