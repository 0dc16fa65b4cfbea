/**
 * Typed errors with stable codes. Every code is `SIPS_ERR_<AREA>_<WHAT>` and is listed in
 * docs/errors.md (a test keeps the two in step), so an operator can grep one string from a log line
 * to a metric label to the `Warning: 399` header of a SIP response.
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
