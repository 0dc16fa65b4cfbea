/**
 * Typed errors with stable codes. Every code is `SIPS_ERR_<AREA>_<WHAT>` and is listed in
 * docs/errors.md (a test keeps the two in step), so an operator can grep one string from a log line
 * to a metric label to the `Warning: 399` header of a SIP response.
 *
 * Each layer keeps its own section of the error table (`ErrorSection`: parse-error.ts, error-responses.ts,
 * route-errors.ts, tls/reasons.ts, transport-error.ts, sdp/verdict.ts, CONFIG_ERRORS here): one row per code
 * with the status it travels with and the meaning docs/errors.md shows, so code, status, reason phrase and
 * doc cannot drift apart.
 *
 * Malformed bytes from the network are returned as values (`{ ok: false, error }`); `throw` is for
 * bugs and bad configuration.
 */
export class SipsError extends Error {
  readonly code: string;

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** A configuration problem: names the key path, the value and what was expected. */
export class ConfigError extends SipsError {
  readonly path: string;

  constructor(path: string, message: string) {
    super('SIPS_ERR_CONFIG_INVALID', `${path}: ${message}`);
    this.path = path;
  }
}

/** One row of the error table. */
export interface ErrorDef {
  /** Status line of the response the edge sends with this code; null when it never is one (startup error, detail of another code). */
  readonly status: number | null;
  /** Reason phrase for that status line. */
  readonly reason?: string;
  /** Other statuses the same code travels with, as docs/errors.md shows them after the first ("500", "dropped"). */
  readonly also?: string;
  /** The docs/errors.md meaning, word for word. */
  readonly meaning: string;
}

/** One layer's section of the error table. */
export type ErrorSection = Readonly<Record<string, ErrorDef>>;

export const CONFIG_ERRORS = {
  SIPS_ERR_CONFIG_INVALID: { status: null, meaning: 'the config file has problems; every one is listed with its key path, the value and what is expected; the edge does not start (exit 2)' },
} as const satisfies ErrorSection;
