/** A setting is missing or wrong: one line for the user, and exit status 2. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

export const CONFIG_ERROR_EXIT_CODE = 2;
