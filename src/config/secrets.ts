import type { EdgeConfig } from './schema.js';

/** The environment as the CLI hands it in (only the edge of the program reads `process.env`). */
export type Environment = Readonly<Record<string, string | undefined>>;

/**
 * The secret values the config names by environment variable, read once at the edge of the program
 * (the CLI) and passed in: the stack itself never reads the environment.
 */
export interface EdgeSecrets {
  /** The value of `edge.routeKeys.env` (comma-separated keys); undefined when not configured or unset. */
  readonly routeKeys?: string;
  /** Per `tls.identities[i]`: the value of its `passphraseEnv`, undefined when none or unset. */
  readonly passphrases: readonly (string | undefined)[];
}

export function resolveSecrets(config: EdgeConfig, env: Environment): EdgeSecrets {
  const rk = config.edge.routeKeys?.env;
  const routeKeys = rk === undefined ? undefined : env[rk];
  return {
    ...(routeKeys !== undefined ? { routeKeys } : {}),
    passphrases: config.tls.identities.map((id) => (id.passphraseEnv === undefined ? undefined : env[id.passphraseEnv])),
  };
}

/** No secrets from the environment (tests, tools that present no certificate). */
export const NO_SECRETS: EdgeSecrets = { passphrases: [] };
