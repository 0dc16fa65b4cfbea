import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const SCENARIOS = join(process.cwd(), 'test/fixtures/sipp');

export interface SippResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  /** Contents of the -trace_err / -trace_msg files written in the run directory. */
  readonly traces: string;
}

export { freeUdpPort } from './ports.js';

export interface SippOptions {
  readonly scenario: string;
  /** host:port to send to (UAC); omitted for a UAS. */
  readonly remote?: string;
  readonly port?: number;
  readonly service?: string;
  readonly calls?: number;
  readonly rate?: number;
  readonly timeoutSeconds?: number;
  readonly extra?: readonly string[];
}

/** Runs SIPp (Debian's sip-tester) to completion; every run is bounded by -timeout. */
/**
 * Resolves once something has bound UDP `port` (a SIPp UAS is listening). Reads /proc/net/udp
 * instead of probing with a bind, which could steal the port from SIPp. Bounded: rejects after `ms`.
 */
export async function udpBound(port: number, ms = 15_000): Promise<void> {
  const hex = `:${port.toString(16).toUpperCase().padStart(4, '0')} `;
  const end = Date.now() + ms;
  for (;;) {
    for (const f of ['/proc/net/udp', '/proc/net/udp6']) {
      let text = '';
      try { text = readFileSync(f, 'utf8'); } catch { continue; }
      // Column 2 is local_address as HEXIP:HEXPORT.
      if (text.split('\n').some((l) => (l.trim().split(/\s+/)[1] ?? '').endsWith(hex.trim()) && l.includes(hex))) return;
    }
    if (Date.now() > end) throw new Error(`nothing bound udp port ${port} within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export function runSipp(o: SippOptions & { port: number }): { done: Promise<SippResult>; kill(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'sipp-'));
  const args = [
    ...(o.remote ? [o.remote] : []),
    '-sf', join(SCENARIOS, o.scenario),
    '-i', '127.0.0.1',
    ...(o.port !== undefined ? ['-p', String(o.port)] : []),
    '-m', String(o.calls ?? 1),
    '-r', String(o.rate ?? 1),
    '-s', o.service ?? '4969123456789',
    '-timeout', `${o.timeoutSeconds ?? 30}s`,
    '-timeout_error',
    '-nostdin',
    '-trace_err', '-trace_msg',
    ...(o.extra ?? []),
  ];
  const p = spawn('sipp', args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  p.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
  p.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
  const done = new Promise<SippResult>((resolve) => {
    // 'close', not 'exit': at 'exit' the pipes may still hold SIPp's final screen (its counts), unread.
    p.once('close', (code) => {
      let traces = '';
      for (const f of readdirSync(dir)) if (f.endsWith('.log')) traces += `--- ${f}\n` + readFileSync(join(dir, f), 'utf8');
      rmSync(dir, { recursive: true, force: true });
      resolve({ code, stdout, stderr, traces });
    });
  });
  return { done, kill: () => { if (p.exitCode === null) p.kill('SIGKILL'); } };
}
