import { accessSync, constants, readFileSync, statSync } from 'node:fs';
import type { SettingsFileArg } from './argv.ts';
import { ConfigError } from './config-error.ts';
import type { EnvFileEntry } from './env-file.ts';
import { parseEnvFile } from './env-file.ts';
import type { RawSettings } from './settings.ts';
import { collectSettings, unknownOwnSettings } from './settings.ts';
import type { Config } from './config.ts';
import { parseConfig } from './config.ts';

export interface LoadedConfig {
  config: Config;
  /** Names under our prefixes that no setting uses: likely typos, worth a warning. */
  unknown: string[];
}

export interface SettingsFile {
  path: string;
  entries: Map<string, EnvFileEntry>;
}

/** The settings file of KEY=VALUE lines, read and parsed; one that cannot be read is a configuration error. */
export function readSettingsFile({ path, flag }: SettingsFileArg): SettingsFile {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(`--${flag} ${path} cannot be read: ${whyUnreadable(path, err as NodeJS.ErrnoException)}`);
  }
  return { path, entries: parseEnvFile(text, path) };
}

function whyUnreadable(path: string, err: NodeJS.ErrnoException): string {
  if (err.code === 'ENOENT') return 'no such file (ENOENT)';
  if (err.code === 'EISDIR') return 'it is a directory, expected a file of KEY=VALUE lines (EISDIR)';
  if (err.code !== 'EACCES' && err.code !== 'EPERM') return err.code ?? err.message;
  // install.sh makes it root:dsmr 0640, since it holds the API keys: say who may read it.
  try {
    const { uid, gid, mode } = statSync(path);
    const owner = uid === 0 ? 'root' : String(uid);
    const group = groupName(gid);
    return `permission denied (${err.code}; it is ${owner}:${group}, mode ${(mode & 0o777).toString(8).padStart(4, '0')}): run it with sudo, or as a member of group ${group}`;
  } catch {
    return `permission denied (${err.code}): run it with sudo, or as a user who may read the file`;
  }
}

function groupName(gid: number): string {
  try {
    const line = readFileSync('/etc/group', 'utf8').split('\n').find((l) => l.split(':')[2] === String(gid));
    return line?.split(':')[0] || String(gid);
  } catch {
    return String(gid);
  }
}

/** The raw settings from the flags, the environment and the settings file, before validation. */
export function loadSettings(flags: RawSettings, settingsFile: SettingsFileArg | undefined, env: Record<string, string | undefined>): { raw: RawSettings; file?: SettingsFile } {
  const file = settingsFile === undefined ? undefined : readSettingsFile(settingsFile);
  return { raw: collectSettings({ flags, env, envFile: file }), file };
}

/** Reads the settings from the flags, the environment and the settings file, and validates every one of them. */
export function loadConfig(args: { settings: RawSettings; settingsFile?: SettingsFileArg }, env: Record<string, string | undefined>): LoadedConfig {
  const { raw, file } = loadSettings(args.settings, args.settingsFile, env);
  const config = parseConfig(raw);
  if (config.caFile) {
    try {
      readFileSync(config.caFile);
    } catch (err) {
      throw new ConfigError(`${raw.caFile!.origin} is "${config.caFile}": expected a readable PEM file of CA certificates (${(err as NodeJS.ErrnoException).code})`);
    }
  }
  if (config.input.kind === 'file' && config.input.path !== '-') {
    const expected = `${raw.inputFile!.origin} is "${config.input.path}": expected a readable capture file, or - for stdin`;
    try {
      accessSync(config.input.path, constants.R_OK);
    } catch (err) {
      throw new ConfigError(`${expected} (${(err as NodeJS.ErrnoException).code})`);
    }
    if (statSync(config.input.path).isDirectory()) throw new ConfigError(`${expected} (it is a directory)`);
  }
  return { config, unknown: unknownOwnSettings(env, file?.entries) };
}
