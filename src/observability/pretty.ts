/**
 * A compact human-readable line for a terminal (no pino-pretty dependency): pino writes its JSON
 * line here and we print `HH:MM:SS.mmm LEVEL component message key=value ...` instead.
 * Only used when stdout is a TTY; pipes and files get the JSON unchanged.
 */
import type { DestinationStream } from 'pino';

const LEVELS: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO ', 40: 'WARN ', 50: 'ERROR', 60: 'FATAL' };
const COLORS: Record<number, string> = { 10: '\x1b[90m', 20: '\x1b[36m', 30: '\x1b[32m', 40: '\x1b[33m', 50: '\x1b[31m', 60: '\x1b[35m' };
const RESET = '\x1b[0m';
/** Keys shown elsewhere in the line, or noise on a terminal. */
const SKIP = new Set(['level', 'severity', 'time', 'msg', 'component', 'pid', 'hostname', 'sip']);

function clock(time: unknown): string {
  const d = typeof time === 'number' || typeof time === 'string' ? new Date(time) : new Date();
  return Number.isNaN(d.getTime()) ? String(time) : d.toISOString().slice(11, 23);
}

function value(v: unknown): string {
  if (typeof v === 'string') return /[\s"=]/.test(v) || v === '' ? JSON.stringify(v) : v;
  if (typeof v === 'number' || typeof v === 'boolean' || v === null) return String(v);
  return JSON.stringify(v);
}

/** One JSON log line -> one readable line (plus the SIP trace, indented, when there is one). */
export function formatPrettyLine(json: string, color = false): string {
  let o: Record<string, unknown>;
  try {
    const parsed: unknown = JSON.parse(json);
    if (typeof parsed !== 'object' || parsed === null) return json;
    o = parsed as Record<string, unknown>;
  } catch {
    return json;
  }
  const level = typeof o['level'] === 'number' ? o['level'] : 30;
  const name = LEVELS[level] ?? String(level);
  const lvl = color ? `${COLORS[level] ?? ''}${name}${RESET}` : name;
  const component = typeof o['component'] === 'string' ? ` ${o['component']}` : '';
  const msg = typeof o['msg'] === 'string' ? ` ${o['msg']}` : '';
  const fields = Object.keys(o).filter((k) => !SKIP.has(k)).map((k) => `${k}=${value(o[k])}`);
  let line = `${clock(o['time'])} ${lvl}${component}${msg}${fields.length > 0 ? '  ' + fields.join(' ') : ''}\n`;
  if (typeof o['sip'] === 'string') line += o['sip'].replace(/\r\n|\n/g, '\n    | ').replace(/^/, '    | ').trimEnd() + '\n';
  return line;
}

/** A pino destination that prints `formatPrettyLine` output to `out` (stdout by default). */
export function prettyDestination(out: { write(s: string): unknown } = process.stdout, color = true): DestinationStream {
  return {
    write(chunk: string): void {
      // pino hands over one line per call, newline-terminated.
      for (const line of chunk.split('\n')) if (line !== '') out.write(formatPrettyLine(line, color));
    },
  };
}
