/** One doctor line: what was checked, the verdict, why, and (for warn/fail) how to fix it. */
export type CheckStatus = 'pass' | 'warn' | 'fail';

export interface CheckResult {
  /** Stable id, e.g. edge.chain, trunk.lab.lb01.voice.euc1.pure.cloud */
  readonly id: string;
  readonly status: CheckStatus;
  readonly reason: string;
  readonly fix?: string;
  /** SIPS_ERR_* or a TLS failure reason, when there is one. */
  readonly code?: string;
}

export const pass = (id: string, reason: string): CheckResult => ({ id, status: 'pass', reason });
export const warn = (id: string, reason: string, fix: string, code?: string): CheckResult => ({ id, status: 'warn', reason, fix, ...(code !== undefined ? { code } : {}) });
export const fail = (id: string, reason: string, fix: string, code?: string): CheckResult => ({ id, status: 'fail', reason, fix, ...(code !== undefined ? { code } : {}) });

/** `FAIL  edge.name  reason [code] -> fix: ...` — one line per check. */
export function formatCheck(r: CheckResult): string {
  const code = r.code !== undefined ? ` [${r.code}]` : '';
  const fix = r.fix !== undefined && r.status !== 'pass' ? ` -> fix: ${r.fix}` : '';
  return `${r.status.toUpperCase().padEnd(4)}  ${r.id}: ${r.reason}${code}${fix}`;
}

export function summarize(results: readonly CheckResult[]): string {
  const n = (s: CheckStatus): number => results.filter((r) => r.status === s).length;
  return `${n('pass')} pass, ${n('warn')} warn, ${n('fail')} fail`;
}
