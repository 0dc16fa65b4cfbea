/**
 * pino JSON logs (stdout; a compact line format when stdout is a TTY), one child per component
 * with its bindings serialized once, and the two SIP-specific log shapes: one line per
 * transaction outcome (info) and full SIP traces (debug).
 *
 * Keys never reach a log: every SIP text passes through `redactSdpKeys` (SDES `inline:` keys,
 * `k=` lines, MIKEY), every string field and message argument is passed through it again as a
 * backstop, and TLS key material (`key`, `passphrase`, ...) is censored by path.
 */
import pino from 'pino';
import type { DestinationStream, LevelWithSilent, Logger, LoggerOptions as PinoOptions } from 'pino';
import { hostPort } from '../message/host-port.js';
import { redactSdpKeys, redactSipMessage } from '../sdp/redact-sdp-keys.js';
import { LogDestination } from './log-destination.js';
import { prettyDestination } from './pretty.js';

export type { Logger } from 'pino';
import type { TransactionDoneEvent } from '../diagnostics.js';

export interface LoggerOptions {
  readonly level: LevelWithSilent;
  /** Where lines go; default stdout: JSON through a LogDestination (batched per loop turn; a pipe never blocks the loop), or the pretty format when stdout is a TTY. */
  readonly destination?: DestinationStream;
  /** Force (true) or forbid (false) the pretty format on the default destination. */
  readonly pretty?: boolean;
  /** Extra fields on every line, e.g. `{ edge: 'edge1.example.com' }`. */
  readonly base?: Readonly<Record<string, string | number>>;
}

/**
 * Field names whose values are secret wherever they appear (TLS private keys, passphrases, key
 * logs): censored in a line's own fields and one object level below them, and in child bindings
 * (their top level: the edge binds only names such as `component`).
 */
const SECRET_NAMES = ['key', 'passphrase', 'privateKey', 'secret', 'keylog', 'masterKey'] as const;
export const SECRET_FIELDS: ReadonlySet<string> = new Set(SECRET_NAMES);

const CENSOR = '[redacted]';

/**
 * One value made fit to log: SDP keys redacted in a string, secret fields censored and SDP keys
 * redacted in an object's own fields (an Error keeps what pino's serializer prints of it). The same
 * object comes back when nothing needed changing, so a clean line allocates nothing here.
 */
function cleanValue(v: unknown): unknown {
  if (typeof v === 'string') return redactSdpKeys(v);
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return v;
  const inner = v as Record<string, unknown>;
  // An Error's message and stack are not own enumerable fields, and may quote an SDP line.
  const dirtyError = v instanceof Error && (redactSdpKeys(v.message) !== v.message || (v.stack !== undefined && redactSdpKeys(v.stack) !== v.stack));
  for (const k of dirtyError ? [''] : Object.keys(inner)) {
    const iv = inner[k];
    if (dirtyError || SECRET_FIELDS.has(k) || (typeof iv === 'string' && redactSdpKeys(iv) !== iv)) {
      // An Error's copy keeps its prototype, so pino's serializer still names its type.
      const copy = (v instanceof Error ? Object.create(Object.getPrototypeOf(v) as object) : {}) as Record<string, unknown>;
      if (v instanceof Error) {
        copy['message'] = redactSdpKeys(v.message);
        copy['stack'] = v.stack === undefined ? undefined : redactSdpKeys(v.stack);
      }
      for (const [a, b] of Object.entries(inner)) copy[a] = SECRET_FIELDS.has(a) ? CENSOR : typeof b === 'string' ? redactSdpKeys(b) : b;
      return copy;
    }
  }
  return v;
}

/**
 * A line's own fields (pino's `formatters.log`): secret names censored, SDP keys redacted, one
 * object level deep. pino's `redact` censors the top-level names (there they cost nothing, and they
 * cover child bindings, which formatters do not see); until 2026-12-03 it had the nested ones as
 * wildcard paths too (`*.key`), which run a redactor over every object-valued field: 10 of the 14 µs
 * of a `transaction` line, three lines a call at `info` (bench/observer.ts).
 */
function redactFields(o: Record<string, unknown>): Record<string, unknown> {
  let out: Record<string, unknown> | null = null;
  for (const k of Object.keys(o)) {
    const v = o[k];
    const r = SECRET_FIELDS.has(k) && v !== undefined ? CENSOR : cleanValue(v);
    if (r !== v) (out ??= { ...o })[k] = r;
  }
  return out ?? o;
}

export function pinoOptions(opts: LoggerOptions): PinoOptions {
  return {
    level: opts.level,
    base: { pid: process.pid, ...opts.base },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: { paths: [...SECRET_NAMES], censor: CENSOR },
    formatters: {
      level: (label, number) => ({ level: number, severity: label }),
      log: redactFields,
    },
    hooks: {
      // The message and printf-style arguments: a SIP text pasted into a message is redacted too.
      logMethod(args, method) {
        const clean = args.map((a: unknown) => (typeof a === 'string' ? redactSdpKeys(a) : a)) as Parameters<typeof method>;
        method.apply(this, clean);
      },
    },
  };
}

export function createLogger(opts: LoggerOptions): Logger {
  let dest = opts.destination;
  if (dest === undefined) {
    const pretty = opts.pretty ?? process.stdout.isTTY === true;
    dest = pretty ? prettyDestination(process.stdout, process.stdout.isTTY === true) : new LogDestination(1, undefined, opts.base);
  }
  return pino(pinoOptions(opts), dest);
}

const children = new WeakMap<Logger, Map<string, Logger>>();

/** A child per component (`transport`, `proxy`, `tls`, ...), created once: pino serializes its bindings at creation. */
export function componentLogger(root: Logger, component: string): Logger {
  let map = children.get(root);
  if (map === undefined) children.set(root, (map = new Map()));
  let child = map.get(component);
  if (child === undefined) map.set(component, (child = root.child({ component })));
  return child;
}

export { hostPort };

/** The address and port a trace shows for each end (an Endpoint, a peer address). */
type HostPort = Parameters<typeof hostPort>[0];

/** One SIP message as it crossed the wire (decrypted), for debug traces. */
export interface SipTrace {
  readonly direction: 'in' | 'out';
  readonly transport: string;
  readonly local: HostPort;
  readonly remote: HostPort;
  readonly data: Buffer | string;
}

/** First line of a SIP message (request or status line), at most 200 characters. */
export function startLine(text: string): string {
  const end = text.indexOf('\r\n');
  const line = end < 0 ? text : text.slice(0, end);
  return line.length > 200 ? `${line.slice(0, 200)}...` : line;
}

/** Full SIP trace at `debug`, keys redacted (a body that cannot be read is replaced whole). Free when debug is off (one level check). */
export function logSipTrace(log: Logger, t: SipTrace): void {
  if (!log.isLevelEnabled('debug')) return;
  const raw = typeof t.data === 'string' ? t.data : t.data.toString('utf8');
  const sip = redactSipMessage(raw);
  log.debug({
    event: 'sip',
    dir: t.direction,
    transport: t.transport,
    local: hostPort(t.local),
    remote: hostPort(t.remote),
    bytes: typeof t.data === 'string' ? Buffer.byteLength(t.data) : t.data.length,
    sip,
  }, `SIP ${t.direction === 'in' ? '<-' : '->'} ${startLine(sip)}`);
}

/** One line per proxied transaction outcome (info). */
export type TransactionOutcome = Omit<TransactionDoneEvent, 'fromSide' | 'toSide'> & {
  /** `inbound` = vendor to inside, `outbound` = inside to vendor. */
  readonly direction: string;
};

export function logTransactionOutcome(log: Logger, e: Omit<TransactionOutcome, 'direction'>, direction: TransactionOutcome['direction']): void {
  if (!log.isLevelEnabled('info')) return;
  log.info({
    event: 'transaction',
    callId: e.callId,
    method: e.method,
    direction,
    peer: e.peer,
    transport: e.transport,
    status: e.status,
    durationMs: Math.round(e.durationMs),
    route: e.route,
    target: e.target,
    code: e.code,
    ...(e.media !== undefined ? { media: e.media } : {}),
  }, `${e.method} ${e.status} ${direction}`);
}
