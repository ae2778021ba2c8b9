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
  timeout: { env: `${R}TIMEOUT`, flag: 'timeout', help: 'seconds, 0.1 to 3600, before a request gives up, and a silent input is reopened (serial) or reconnected (network); default 20' },
  sleep: { env: `${R}SLEEP`, flag: 'sleep', help: 'minimum seconds between forwarded telegrams, up to 86400; default 0 (forward each)' },
  debugLogging: { env: `${R}DEBUG_LOGGING`, flag: 'debug-logging', boolean: true, help: 'log every telegram; default false' },
  logLevel: { env: `${D}LOG_LEVEL`, flag: 'log-level', help: 'error, warn, info or debug; default info' },
  crcCheck: { env: `${D}CRC_CHECK`, flag: 'crc-check', boolean: true, help: 'drop telegrams whose CRC is wrong; default true' },
  caFile: { env: `${D}CA_FILE`, flag: 'ca-file', help: 'PEM file of extra CAs to trust for HTTPS (self-signed servers)' },
  insecure: { env: `${D}INSECURE`, flag: 'insecure', boolean: true, help: 'skip HTTPS certificate checks; default false' },
  dataDir: { env: `${D}DATA_DIR`, flag: 'data-dir', help: 'where state and the spool are kept (a relative path is taken from the working directory at start); default /var/lib/dsmr-datalogger' },
  statsInterval: { env: `${D}STATS_INTERVAL`, flag: 'stats-interval', help: 'seconds between statistics lines, up to 604800 (7 days); 0 turns them off; default 600' },
  spoolMaxMb: { env: `${D}SPOOL_MAX_MB`, flag: 'spool-max-mb', help: 'size bound of each server\'s spool in MB; default about 225 (3 days of DSMR 5 at one telegram a second)' },
  mqttUrl: { env: `${D}MQTT_URL`, flag: 'mqtt-url', help: 'comma-separated MQTT brokers, mqtt://host[:port] or mqtts://host[:port]; each is an output of its own' },
  mqttUsername: { env: `${D}MQTT_USERNAME`, help: 'user name for the MQTT brokers (environment or env file only)' },
  mqttPassword: { env: `${D}MQTT_PASSWORD`, help: 'password for the MQTT brokers (environment or env file only)' },
  mqttClientId: { env: `${D}MQTT_CLIENT_ID`, flag: 'mqtt-client-id', help: 'MQTT client id; default dsmr-datalogger-<host name>' },
  mqttTopicPrefix: { env: `${D}MQTT_TOPIC_PREFIX`, flag: 'mqtt-topic-prefix', help: 'first level of every topic published; default dsmr (what Home Assistant\'s DSMR Reader integration reads)' },
  mqttCaFile: { env: `${D}MQTT_CA_FILE`, flag: 'mqtt-ca-file', help: 'PEM file of extra CAs to trust for mqtts:// (self-signed brokers)' },
  mqttInsecure: { env: `${D}MQTT_INSECURE`, flag: 'mqtt-insecure', boolean: true, help: 'skip mqtts:// certificate checks; default false' },
  mqttInterval: { env: `${D}MQTT_INTERVAL`, flag: 'mqtt-interval', help: 'minimum seconds between readings published to MQTT; default 0 (each); independent of SLEEP' },
  mqttDiscovery: { env: `${D}MQTT_DISCOVERY`, flag: 'mqtt-discovery', boolean: true, help: 'publish Home Assistant MQTT discovery configs; default true' },
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
  /** Settings given as flags (parseCommandLine), each with its origin. */
  flags?: RawSettings;
  env: Record<string, string | undefined>;
  envFile?: { path: string; entries: Map<string, EnvFileEntry> };
}

export type RawSettings = Partial<Record<SettingName, RawValue>>;

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
  Object.assign(raw, sources.flags);
  return raw;
}

/** Our own prefix is ours alone, so an unknown name there is almost surely a typo worth a warning. */
export function unknownOwnSettings(env: Record<string, string | undefined>, envFile?: Map<string, EnvFileEntry>): string[] {
  const known = new Set((Object.values(SETTINGS) as SettingSpec[]).flatMap((s) => [s.env, ...(s.aliases ?? [])]));
  const names = [...Object.keys(env), ...(envFile ? [...envFile.keys()] : [])];
  return [...new Set(names.filter((n) => (n.startsWith(D) || n.startsWith(R)) && !known.has(n)))];
}
