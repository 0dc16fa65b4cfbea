/**
 * Label values with bounded cardinality. Prometheus keeps one series per label combination, so a
 * value that comes from the network (a method, a reason string) is checked against a table or a
 * pattern and folded into `other` past a fixed number of distinct values per label. Call-IDs and
 * addresses are never labels.
 */
import type { Side } from '../diagnostics.js';

/** RFC 3261 §27.4 methods plus the common extensions; anything else counts as `other`. */
const METHODS: ReadonlySet<string> = new Set([
  'INVITE', 'ACK', 'BYE', 'CANCEL', 'OPTIONS', 'REGISTER', 'PRACK', 'SUBSCRIBE', 'NOTIFY', 'PUBLISH',
  'INFO', 'REFER', 'MESSAGE', 'UPDATE',
]);

export const OTHER = 'other';

export function methodLabel(method: string): string {
  return METHODS.has(method) ? method : OTHER;
}

/** A SIP status as a label: 100..699, else `other` (0 = no response sent, e.g. a drop). */
export function statusLabel(status: number): string {
  return Number.isInteger(status) && ((status >= 100 && status <= 699) || status === 0) ? String(status) : OTHER;
}

const TOKEN = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$/;

/**
 * Folds free-text label values: a value must look like a token (kebab-case reason, error code,
 * OpenSSL cipher name, host name) and at most `max` distinct values are kept per guard.
 */
export class LabelGuard {
  private readonly seen = new Set<string>();

  constructor(private readonly max: number = 64) {}

  label(value: string | null | undefined, empty = 'none'): string {
    if (value === null || value === undefined || value === '') return empty;
    if (this.seen.has(value)) return value;
    if (!TOKEN.test(value) || this.seen.size >= this.max) return OTHER;
    this.seen.add(value);
    return value;
  }
}

/** `inside -> outside` is the PBX calling out (outbound); the vendor calling in is inbound. */
export function directionOf(fromSide: Side): 'inbound' | 'outbound' {
  return fromSide === 'inside' ? 'outbound' : 'inbound';
}
