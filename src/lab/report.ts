/** The lab's report: one row per call, expected vs actual, printed as a plain-text table. */
import { mediaCell, type MediaRow } from './media/media-report.js';

export interface ReportRow {
  readonly id: string;
  readonly direction: 'outbound' | 'inbound';
  readonly mode: 'TGRP' | 'DNIS' | 'FQDN' | '-';
  readonly srtpOffered: boolean;
  /** The lb host that carried the call, or null when the call never reached the region. */
  readonly lbHost: string | null;
  readonly cipher: string | null;
  /** e.g. `ok lb02.voice.euc1.pure.cloud` (outbound: the edge checked the lb; inbound: the lb checked the edge). */
  readonly nameValidation: string;
  readonly srtp: string;
  /** Final status, or null when there was none. */
  readonly status: number | null;
  readonly outcome: string;
  readonly expectedStatus: number;
  readonly expected: string;
  readonly pass: boolean;
  /** Request-URI the region saw, warnings, errors. */
  readonly detail: string;
  /** The carrier rows: packets per direction (media-report.ts); absent for calls without real media. */
  readonly media?: readonly MediaRow[];
}

/** `inside->vendor 50/50/50/50, vendor->inside 50/50/-/50` (sent/received/authenticated/payload ok). */
export function mediaColumn(r: ReportRow): string {
  return r.media === undefined ? '-' : r.media.map((m) => `${m.flow} ${mediaCell(m)}`).join(', ');
}

const COLUMNS: readonly [string, (r: ReportRow) => string][] = [
  ['#', (r) => r.id],
  ['direction', (r) => r.direction],
  ['mode', (r) => r.mode],
  ['lb host', (r) => r.lbHost ?? '-'],
  ['TLS cipher', (r) => r.cipher ?? '-'],
  ['name validation', (r) => r.nameValidation],
  ['SRTP', (r) => r.srtp],
  ['SIP outcome', (r) => r.outcome],
  ['media sent/recv/auth/ok', mediaColumn],
  ['expected', (r) => r.expected],
  ['', (r) => (r.pass ? 'PASS' : 'FAIL')],
];

export function formatReport(rows: readonly ReportRow[]): string {
  const cells = rows.map((r) => COLUMNS.map(([, f]) => f(r)));
  const widths = COLUMNS.map(([h], i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const line = (c: readonly string[]): string => c.map((v, i) => v.padEnd(widths[i]!)).join(' | ').trimEnd();
  const out = [line(COLUMNS.map(([h]) => h)), widths.map((w) => '-'.repeat(w)).join('-+-'), ...cells.map(line)];
  const failed = rows.filter((r) => !r.pass);
  out.push('');
  out.push(failed.length === 0 ? `all ${rows.length} calls as expected` : `${failed.length} of ${rows.length} calls differ from the expected outcome: ${failed.map((r) => r.id).join(', ')}`);
  for (const r of failed) out.push(`  #${r.id}: expected ${r.expected}, got ${r.outcome}${r.detail ? ` (${r.detail})` : ''}`);
  return out.join('\n');
}
