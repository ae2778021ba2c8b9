import { accessSync, constants, readFileSync } from 'node:fs';
import { ConfigError } from './config-error.ts';
import { parseEnvFile } from './env-file.ts';
import { collectSettings, takeEnvFileFlag, unknownOwnSettings } from './settings.ts';
import type { Config } from './config.ts';
import { parseConfig } from './config.ts';

export interface LoadedConfig {
  config: Config;
  /** Names under our prefixes that no setting uses: likely typos, worth a warning. */
  unknown: string[];
}

/** Reads the settings from the flags, the environment and the env file, and validates every one of them. */
export function loadConfig(argv: string[], env: Record<string, string | undefined>): LoadedConfig {
  const { envFile, rest } = takeEnvFileFlag(argv);
  let file;
  if (envFile !== undefined) {
    let text: string;
    try {
      text = readFileSync(envFile, 'utf8');
    } catch (err) {
      throw new ConfigError(`--env-file ${envFile} cannot be read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
    file = { path: envFile, entries: parseEnvFile(text, envFile) };
  }
  const raw = collectSettings({ argv: rest, env, envFile: file });
  const config = parseConfig(raw);
  if (config.caFile) {
    try {
      readFileSync(config.caFile);
    } catch (err) {
      throw new ConfigError(`${raw.caFile!.origin} is "${config.caFile}": expected a readable PEM file of CA certificates (${(err as NodeJS.ErrnoException).code})`);
    }
  }
  if (config.input.kind === 'file' && config.input.path !== '-') {
    try {
      accessSync(config.input.path, constants.R_OK);
    } catch (err) {
      throw new ConfigError(`${raw.inputFile!.origin} is "${config.input.path}": expected a readable capture file, or - for stdin (${(err as NodeJS.ErrnoException).code})`);
    }
  }
  return { config, unknown: unknownOwnSettings(env, file?.entries) };
}
