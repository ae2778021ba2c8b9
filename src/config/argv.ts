// The one command-line layer of every subcommand: its own options, the settings of the table as flags, the settings
// file, --help, and positional arguments. Every mistake is a ConfigError naming the argument (exit status 2).
import { ConfigError } from './config-error.ts';
import type { RawSettings, SettingName, SettingSpec } from './settings.ts';
import { SETTINGS } from './settings.ts';

export interface OptionSpec {
  /** Takes a value (--name VALUE or --name=VALUE); without, a switch that stands alone. */
  value?: boolean;
}

export interface CommandSpec {
  /** The subcommand as typed, for "see dsmr-datalogger NAME --help"; '' for the datalogger itself. */
  command: string;
  /** The command's own options, by name without "--". */
  options?: Record<string, OptionSpec>;
  /** Settings of the table that may be given as flags: every one, or these. */
  settings?: 'all' | readonly SettingName[];
  /** Takes --settings FILE (or --env-file FILE), the KEY=VALUE file the other settings are read from. */
  settingsFile?: boolean;
  /** How many positional arguments it takes ("-" counts as one); none by default. */
  positionals?: number;
}

export interface SettingsFileArg {
  path: string;
  /** The flag as the user typed it, for messages. */
  flag: string;
}

export interface CommandArgs {
  help: boolean;
  /** The command's own options: a switch as "true", else its value. */
  options: Map<string, string>;
  /** Settings given as flags, each with its origin "--flag". */
  settings: RawSettings;
  settingsFile?: SettingsFileArg;
  positionals: string[];
}

/**
 * The primary name of the settings-file flag. Node (20.6 and later) takes any `--env-file` on its command line as its
 * own option, even after the script name (nodejs/node#54232): `node bundle.cjs --env-file X` never reaches us when X
 * is missing or unreadable. `--settings` is a name Node does not know, so it behaves the same everywhere; `--env-file`
 * stays accepted, and reaches us in the single executables (their SEA execArgv ends with `--`) and in install.sh's
 * launcher (`node -- bundle.cjs`).
 */
export const SETTINGS_FILE_FLAG = 'settings';
const SETTINGS_FILE_FLAGS = new Set([SETTINGS_FILE_FLAG, 'env-file']);

/** Settings without a flag are secrets; the flag a user would guess for one (--api-keys, --mqtt-password) is refused. */
const SECRET_FLAGS: Record<string, string> = Object.fromEntries(
  (Object.values(SETTINGS) as SettingSpec[])
    .filter((s) => !s.flag)
    .map((s) => [s.env.replace(/^(DSMRREADER_REMOTE_DATALOGGER_|DSMR_DATALOGGER_)/, '').toLowerCase().replace(/_/g, '-'), s.env]),
);

const byFlag = new Map<string, SettingName>(
  (Object.entries(SETTINGS) as [SettingName, SettingSpec][]).filter(([, s]) => s.flag).map(([name, s]) => [s.flag!, name]),
);

export function parseCommandLine(argv: readonly string[], spec: CommandSpec): CommandArgs {
  const see = `see dsmr-datalogger ${spec.command ? `${spec.command} ` : ''}--help`;
  const args: CommandArgs = { help: false, options: new Map(), settings: {}, positionals: [] };
  const allowed = (name: SettingName) => spec.settings === 'all' || (spec.settings ?? []).includes(name);
  // --help wins over any mistake beside it: whoever asks for help gets it.
  const end = argv.indexOf('--');
  if ((end < 0 ? argv : argv.slice(0, end)).some((arg) => arg === '-h' || arg === '--help')) return { ...args, help: true };
  let optionsEnded = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (optionsEnded || arg === '-' || !arg.startsWith('-')) {
      if (args.positionals.length >= (spec.positionals ?? 0)) {
        throw new ConfigError(spec.positionals ? `one input at a time, got "${args.positionals.join('" and "')}" and "${arg}"` : `unexpected argument "${arg}" (${see})`);
      }
      args.positionals.push(arg);
      continue;
    }
    if (arg === '--') {
      optionsEnded = true;
      continue;
    }
    if (!arg.startsWith('--')) throw new ConfigError(`unknown option ${arg} (${see})`);
    const eq = arg.indexOf('=');
    const flag = arg.slice(2, eq < 0 ? undefined : eq);
    const inline = eq < 0 ? undefined : arg.slice(eq + 1);
    // A value is the next argument unless that is an option itself: "--count --fast" is a missing value.
    const takeValue = (): string | undefined => {
      if (inline !== undefined) return inline;
      const next = argv[i + 1];
      if (next === undefined || (next.startsWith('--') && next.length > 2)) return undefined;
      i++;
      return next;
    };

    const own = spec.options?.[flag];
    const setting = byFlag.get(flag);
    if (own) {
      if (!own.value) {
        if (inline !== undefined) throw new ConfigError(`--${flag} takes no value`);
        args.options.set(flag, 'true');
      } else {
        const value = takeValue();
        if (value === undefined) throw new ConfigError(`--${flag} needs a value (${see})`);
        args.options.set(flag, value);
      }
    } else if (spec.settingsFile && SETTINGS_FILE_FLAGS.has(flag)) {
      const path = takeValue();
      if (path === undefined || path === '') throw new ConfigError(`--${flag} needs the path of a file of KEY=VALUE lines`);
      if (args.settingsFile) throw new ConfigError(`--${args.settingsFile.flag} and --${flag} both name a settings file: give one`);
      args.settingsFile = { path, flag };
    } else if (setting && allowed(setting)) {
      const settingSpec: SettingSpec = SETTINGS[setting];
      let value: string | undefined;
      if (settingSpec.boolean && inline === undefined && (argv[i + 1] === undefined || argv[i + 1].startsWith('-'))) value = 'true';
      else value = takeValue();
      if (value === undefined) throw new ConfigError(`--${flag} needs a value: ${settingSpec.help}`);
      args.settings[setting] = { value, origin: `--${flag}` };
    } else if (SECRET_FLAGS[flag]) {
      throw new ConfigError(`--${flag} is not taken on the command line, where any user could read it: set ${SECRET_FLAGS[flag]} in the environment or the --${SETTINGS_FILE_FLAG} file`);
    } else {
      throw new ConfigError(`unknown option --${flag} (${see})`);
    }
  }
  return args;
}
