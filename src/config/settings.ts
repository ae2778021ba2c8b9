import { ConfigError } from './config-error.ts';
import type { EnvFileEntry } from './env-file.ts';

// Every setting, by the name users know it by. DSMR-reader's remote-datalogger names work unchanged, so an existing
// set-up moves over as it is; settings DSMR-reader lacks use our own DSMR_DATALOGGER_ prefix.
export interface SettingSpec {
  env: string;
  /** Other environment names accepted for the same setting (the Docker image's names). */
  aliases?: string[];
  /** Command-line flag without "--"; absent for secrets, which must not show up in the process list. */
  flag?: string;
  /** A flag that may stand alone meaning "true". */
  boolean?: boolean;
  help: string;
}

const R = 'DSMRREADER_REMOTE_DATALOGGER_';
const D = 'DSMR_DATALOGGER_';

export const SETTINGS = {
  inputMethod: { env: `${R}INPUT_METHOD`, flag: 'input-method', help: 'serial, ipv4 (a TCP P1 bridge) or file (a capture, - for stdin); default serial' },
  serialPort: { env: `${R}SERIAL_PORT`, aliases: [`${R}SERIAL_DEVICE`], flag: 'serial-port', help: 'serial device; default /dev/ttyUSB0' },
  serialBaudrate: { env: `${R}SERIAL_BAUDRATE`, flag: 'serial-baudrate', help: 'bits per second, e.g. 115200 or 9600; default from the DSMR version' },
  serialBytesize: { env: `${R}SERIAL_BYTESIZE`, flag: 'serial-bytesize', help: '7 or 8 data bits; default from the DSMR version' },
  serialParity: { env: `${R}SERIAL_PARITY`, flag: 'serial-parity', help: 'N, E or O; default from the DSMR version' },
  serialStopbits: { env: `${D}SERIAL_STOPBITS`, flag: 'serial-stopbits', help: '1, 1.5 or 2; default 1' },
  serialXonxoff: { env: `${D}SERIAL_XONXOFF`, flag: 'serial-xonxoff', boolean: true, help: 'software flow control; default false' },
  serialRtscts: { env: `${D}SERIAL_RTSCTS`, flag: 'serial-rtscts', boolean: true, help: 'hardware flow control; default false' },
  serialBackend: { env: `${D}SERIAL_BACKEND`, flag: 'serial-backend', help: 'auto, native (serialport) or stty (no native code); default auto' },
  dsmrVersion: { env: `${D}DSMR_VERSION`, flag: 'dsmr-version', help: 'auto, 2.2, 3, 4, 5, be or lu: picks the serial settings; default auto' },
  networkHost: { env: `${R}NETWORK_HOST`, flag: 'network-host', help: 'host of the P1 network bridge (input method ipv4)' },
  networkPort: { env: `${R}NETWORK_PORT`, flag: 'network-port', help: 'TCP port of the P1 network bridge' },
  inputFile: { env: `${D}INPUT_FILE`, flag: 'input-file', help: 'capture to replay (input method file); - reads stdin' },
  apiHosts: { env: `${R}API_HOSTS`, flag: 'api-hosts', help: 'comma-separated DSMR-reader addresses, e.g. http://dsmr.local' },
  apiKeys: { env: `${R}API_KEYS`, help: 'comma-separated API keys, one per host (environment or env file only)' },
  timeout: { env: `${R}TIMEOUT`, flag: 'timeout', help: 'seconds before a request or a silent network input gives up; default 20' },
  sleep: { env: `${R}SLEEP`, flag: 'sleep', help: 'minimum seconds between forwarded telegrams; default 0 (forward each)' },
  debugLogging: { env: `${R}DEBUG_LOGGING`, flag: 'debug-logging', boolean: true, help: 'log every telegram; default false' },
  logLevel: { env: `${D}LOG_LEVEL`, flag: 'log-level', help: 'error, warn, info or debug; default info' },
  crcCheck: { env: `${D}CRC_CHECK`, flag: 'crc-check', boolean: true, help: 'drop telegrams whose CRC is wrong; default true' },
  caFile: { env: `${D}CA_FILE`, flag: 'ca-file', help: 'PEM file of extra CAs to trust for HTTPS (self-signed servers)' },
  insecure: { env: `${D}INSECURE`, flag: 'insecure', boolean: true, help: 'skip HTTPS certificate checks; default false' },
  dataDir: { env: `${D}DATA_DIR`, flag: 'data-dir', help: 'where state and the spool are kept; default /var/lib/dsmr-datalogger' },
  statsInterval: { env: `${D}STATS_INTERVAL`, flag: 'stats-interval', help: 'seconds between statistics lines; 0 turns them off; default 600' },
  spoolMaxMb: { env: `${D}SPOOL_MAX_MB`, flag: 'spool-max-mb', help: 'size bound of each server\'s spool in MB; default about 225 (3 days of DSMR 5 at one telegram a second)' },
  decryptionKey: { env: `${D}DECRYPTION_KEY`, help: '32 hex digits: the key of an encrypted (Luxembourg) meter (environment or env file only)' },
  decryptionAad: { env: `${D}DECRYPTION_AAD`, help: 'encrypted meters only: none, an authentication key of 32 hex digits, or a whole AAD of 34; default the Luxembourg one (environment or env file only)' },
  httpListen: { env: `${D}HTTP_LISTEN`, flag: 'http-listen', help: 'host:port of the local status endpoint (/, /status, /metrics, /health), or off; default 127.0.0.1:7523' },
  httpToken: { env: `${D}HTTP_TOKEN`, help: 'when set, every endpoint path but /health needs "Authorization: Bearer TOKEN"; required off loopback (environment or env file only)' },
  healthSilence: { env: `${D}HEALTH_SILENCE`, flag: 'health-silence', help: 'seconds without a telegram before /health says unhealthy; default 60' },
  healthStall: { env: `${D}HEALTH_STALL`, flag: 'health-stall', help: 'seconds an output may refuse, or deliver nothing while telegrams wait, before /health says unhealthy; default 300' },
} satisfies Record<string, SettingSpec>;

export type SettingName = keyof typeof SETTINGS;

/** A setting's value and where it came from, so an error can point the user at the right place. */
export interface RawValue {
  value: string;
  origin: string;
}

export interface SettingSources {
  argv: string[];
  env: Record<string, string | undefined>;
  envFile?: { path: string; entries: Map<string, EnvFileEntry> };
}

export type RawSettings = Partial<Record<SettingName, RawValue>>;

const byFlag = new Map<string, SettingName>(
  (Object.entries(SETTINGS) as [SettingName, SettingSpec][]).filter(([, s]) => s.flag).map(([name, s]) => [s.flag!, name]),
);

/** Flags win over the environment, the environment over the env file. */
export function collectSettings(sources: SettingSources): RawSettings {
  const raw: RawSettings = {};
  for (const [name, spec] of Object.entries(SETTINGS) as [SettingName, SettingSpec][]) {
    for (const env of [spec.env, ...(spec.aliases ?? [])]) {
      const fromFile = sources.envFile?.entries.get(env);
      if (fromFile && !raw[name]) raw[name] = { value: fromFile.value, origin: `${env} (${sources.envFile!.path}:${fromFile.line})` };
    }
    for (const env of [spec.env, ...(spec.aliases ?? [])]) {
      const fromEnv = sources.env[env];
      if (fromEnv !== undefined && fromEnv !== '') {
        raw[name] = { value: fromEnv, origin: env };
        break;
      }
    }
  }
  Object.assign(raw, parseFlags(sources.argv));
  return raw;
}

/** Splits out --env-file, which says where the other settings are, before anything else is read. */
export function takeEnvFileFlag(argv: string[]): { envFile?: string; rest: string[] } {
  const rest: string[] = [];
  let envFile: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--env-file') {
      envFile = argv[++i];
      if (envFile === undefined) throw new ConfigError('--env-file needs a path to a file of KEY=VALUE lines');
    } else if (arg.startsWith('--env-file=')) envFile = arg.slice('--env-file='.length);
    else rest.push(arg);
  }
  return { envFile, rest };
}

function parseFlags(argv: string[]): RawSettings {
  const raw: RawSettings = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (!arg.startsWith('--')) throw new ConfigError(`unexpected argument "${arg}": settings are given as --name value (see --help)`);
    const eq = arg.indexOf('=');
    const flag = arg.slice(2, eq < 0 ? undefined : eq);
    const name = byFlag.get(flag);
    if (!name) {
      const secret = { 'api-keys': SETTINGS.apiKeys.env, 'decryption-key': SETTINGS.decryptionKey.env, 'decryption-aad': SETTINGS.decryptionAad.env, 'http-token': SETTINGS.httpToken.env }[flag];
      if (secret) throw new ConfigError(`--${flag} is not taken on the command line, where any user could read it: set ${secret} in the environment or the --env-file`);
      throw new ConfigError(`unknown option --${flag} (see --help)`);
    }
    const spec: SettingSpec = SETTINGS[name];
    let value: string | undefined;
    if (eq >= 0) value = arg.slice(eq + 1);
    else if (spec.boolean && (argv[i + 1] === undefined || argv[i + 1].startsWith('--'))) value = 'true';
    else value = argv[++i];
    if (value === undefined) throw new ConfigError(`--${flag} needs a value: ${spec.help}`);
    raw[name] = { value, origin: `--${flag}` };
  }
  return raw;
}

/** Our own prefix is ours alone, so an unknown name there is almost surely a typo worth a warning. */
export function unknownOwnSettings(env: Record<string, string | undefined>, envFile?: Map<string, EnvFileEntry>): string[] {
  const known = new Set((Object.values(SETTINGS) as SettingSpec[]).flatMap((s) => [s.env, ...(s.aliases ?? [])]));
  const names = [...Object.keys(env), ...(envFile ? [...envFile.keys()] : [])];
  return [...new Set(names.filter((n) => (n.startsWith(D) || n.startsWith(R)) && !known.has(n)))];
}
