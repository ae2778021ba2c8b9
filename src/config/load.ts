import { accessSync, constants, readFileSync } from 'node:fs';
import { ConfigError } from './config-error.ts';
import type { EnvFileEntry } from './env-file.ts';
import { parseEnvFile } from './env-file.ts';
import { collectSettings, takeEnvFileFlag, unknownOwnSettings } from './settings.ts';
import type { Config } from './config.ts';
import { parseConfig } from './config.ts';

export interface LoadedConfig {
  config: Config;
  /** Names under our prefixes that no setting uses: likely typos, worth a warning. */
  unknown: string[];
}

/** An env file of KEY=VALUE lines, read and parsed; an unreadable one is a configuration error. */
export function readEnvFile(path: string): { path: string; entries: Map<string, EnvFileEntry> } {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(`--env-file ${path} cannot be read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  return { path, entries: parseEnvFile(text, path) };
}

/** Reads the settings from the flags, the environment and the env file, and validates every one of them. */
export function loadConfig(argv: string[], env: Record<string, string | undefined>): LoadedConfig {
  const { envFile, rest } = takeEnvFileFlag(argv);
  const file = envFile === undefined ? undefined : readEnvFile(envFile);
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
