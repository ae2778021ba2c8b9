import { isAbsolute, resolve } from 'node:path';
import { ConfigError } from './config-error.ts';
import type { RawSettings, RawValue, SettingName } from './settings.ts';
import { SETTINGS } from './settings.ts';
import type { LogLevel } from '../log/logger.ts';
import type { LineSettings, Parity } from '../sources/serial-settings.ts';
import { LINE_115200_8N1, LINE_9600_7E1 } from '../sources/serial-settings.ts';
import { parseAadSetting, parseHexKey, type AadSetting } from '../transforms/decrypt.ts';
import { parseMqttConfig, type MqttConfig } from '../sinks/mqtt/config.ts';
import { parseDsmrReaderServers, type ServerConfig } from '../sinks/dsmr-reader/config.ts';

export type { MqttConfig } from '../sinks/mqtt/config.ts';
export type { ServerConfig } from '../sinks/dsmr-reader/config.ts';
import { DEFAULT_LISTEN, isLoopback, parseListen, type ListenAddress } from '../status/address.ts';

export type SerialBackendChoice = 'auto' | 'native' | 'stty';

export type InputConfig =
  | { kind: 'serial'; path: string; line: LineSettings | 'auto'; backend: SerialBackendChoice }
  | { kind: 'network'; host: string; port: number }
  | { kind: 'file'; path: string };


export interface Config {
  input: InputConfig;
  servers: ServerConfig[];
  /** MQTT brokers, each an output of its own; [] when MQTT is not configured. */
  mqtt: MqttConfig[];
  timeoutMs: number;
  minIntervalMs: number;
  logLevel: LogLevel;
  crcCheck: boolean;
  caFile?: string;
  insecure: boolean;
  /** Absolute. */
  dataDir: string;
  /** The relative path the user gave, which dataDir resolves against the working directory. */
  dataDirGiven?: string;
  statsIntervalMs: number;
  /** Bound of each server's spool; the spool's own default (3 days of DSMR 5) when unset. */
  spoolMaxBytes?: number;
  decryptionKey?: Buffer;
  /** How the AAD of encrypted frames is formed; undefined: the Luxembourg authentication key. */
  decryptionAad?: AadSetting;
  statusEndpoint: StatusEndpointConfig;
}

export interface StatusEndpointConfig {
  /** undefined: turned off. */
  listen?: ListenAddress;
  token?: string;
  /** /health: longest silence of the meter. */
  silenceMs: number;
  /** /health: longest time an output may refuse, or deliver nothing while telegrams wait. */
  stallMs: number;
}

export const DEFAULT_DATA_DIR = '/var/lib/dsmr-datalogger';

export function fail(raw: RawValue, expected: string): never {
  throw new ConfigError(`${raw.origin} is "${raw.value}": expected ${expected}`);
}

export function missing(name: SettingName, why: string): never {
  const spec = SETTINGS[name];
  const flag = 'flag' in spec ? ` (or --${spec.flag})` : '';
  throw new ConfigError(`${spec.env}${flag} is not set: ${why}`);
}

const TRUE = new Set(['1', 'true', 'yes', 'on', 't', 'y']);
const FALSE = new Set(['0', 'false', 'no', 'off', 'f', 'n']);

export function bool(raw: RawValue | undefined, fallback: boolean): boolean {
  if (!raw) return fallback;
  const v = raw.value.trim().toLowerCase();
  if (TRUE.has(v)) return true;
  if (FALSE.has(v)) return false;
  return fail(raw, 'true or false');
}

/** Node's timers hold at most 2^31-1 ms (about 24.8 days); a longer one fires at once, and a repeating one every ms. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

interface DurationRule {
  min: number;
  /** The largest sensible value; every duration setting has one, and all lie well within MAX_TIMER_MS. */
  max: number;
  /** What 0 means, when it is taken. */
  zero?: string;
  example: number;
}

export function seconds(raw: RawValue | undefined, fallback: number, rule: DurationRule): number {
  if (!raw) return fallback;
  const v = raw.value.trim();
  const n = /^\d+(\.\d+)?$/.test(v) ? Number(v) : NaN;
  const ok = n === 0 ? rule.zero !== undefined : n >= rule.min && n <= rule.max;
  if (!ok || n * 1000 > MAX_TIMER_MS) {
    const range = rule.min === 0 ? `from 0 (${rule.zero}) to ${rule.max}${describeSpan(rule.max)}` : `from ${rule.min} to ${rule.max}${describeSpan(rule.max)}${rule.zero ? `, or 0 (${rule.zero})` : ''}`;
    return fail(raw, `a number of seconds ${range}, e.g. ${rule.example}`);
  }
  return n;
}

function describeSpan(s: number): string {
  if (s >= 86_400 && s % 86_400 === 0) return ` (${s / 86_400} day${s === 86_400 ? '' : 's'})`;
  if (s >= 3600 && s % 3600 === 0) return ` (${s / 3600} hour${s === 3600 ? '' : 's'})`;
  return '';
}

function wholeNumber(raw: RawValue, min: number, max: number, expected: string): number {
  const v = raw.value.trim();
  const n = /^\d+$/.test(v) ? Number(v) : NaN;
  if (!(n >= min && n <= max)) return fail(raw, expected);
  return n;
}

function oneOf<T extends string>(raw: RawValue | undefined, fallback: T, allowed: Record<string, T>, expected: string): T {
  if (!raw) return fallback;
  const v = allowed[raw.value.trim().toLowerCase()];
  if (v === undefined) return fail(raw, expected);
  return v;
}

const DSMR_VERSIONS: Record<string, LineSettings | 'auto'> = {
  auto: 'auto',
  '2': LINE_9600_7E1,
  '2.2': LINE_9600_7E1,
  '3': LINE_9600_7E1,
  '3.0': LINE_9600_7E1,
  '4': LINE_115200_8N1,
  '4.0': LINE_115200_8N1,
  '4.2': LINE_115200_8N1,
  '5': LINE_115200_8N1,
  '5.0': LINE_115200_8N1,
  be: LINE_115200_8N1,
  lu: LINE_115200_8N1,
};

const STOP_BITS: Record<string, LineSettings['stopBits']> = { '1': 1, '1.5': 1.5, '2': 2 };

const PARITIES: Record<string, Parity> = { n: 'none', none: 'none', e: 'even', even: 'even', o: 'odd', odd: 'odd', m: 'mark', mark: 'mark', s: 'space', space: 'space' };

function serialLine(raw: RawSettings): LineSettings | 'auto' {
  const rawVersion = raw.dsmrVersion;
  const preset = rawVersion ? DSMR_VERSIONS[rawVersion.value.trim().toLowerCase()] : 'auto';
  if (preset === undefined) fail(rawVersion!, 'auto, 2.2, 3, 4, 5, be (Belgium) or lu (Luxembourg)');
  const explicit = raw.serialBaudrate || raw.serialBytesize || raw.serialParity || raw.serialStopbits || raw.serialXonxoff || raw.serialRtscts;
  if (preset === 'auto' && !explicit) return 'auto';
  // Settings given one by one refine the preset; with auto and explicit settings, DSMR-reader's own default is the base.
  const base = preset === 'auto' ? LINE_115200_8N1 : preset;
  return {
    baudRate: raw.serialBaudrate ? wholeNumber(raw.serialBaudrate, 50, 4_000_000, 'a baud rate such as 115200 (DSMR 4/5) or 9600 (DSMR 2.2/3)') : base.baudRate,
    dataBits: raw.serialBytesize ? (wholeNumber(raw.serialBytesize, 5, 8, '7 or 8 (data bits)') as LineSettings['dataBits']) : base.dataBits,
    parity: oneOf(raw.serialParity, base.parity, PARITIES, 'N (none), E (even) or O (odd)'),
    stopBits: raw.serialStopbits ? (STOP_BITS[raw.serialStopbits.value.trim()] ?? fail(raw.serialStopbits, '1, 1.5 or 2')) : base.stopBits,
    xonxoff: bool(raw.serialXonxoff, base.xonxoff),
    rtscts: bool(raw.serialRtscts, base.rtscts),
  };
}

function input(raw: RawSettings): InputConfig {
  const method = oneOf(raw.inputMethod, 'serial', { serial: 'serial', ipv4: 'network', ipv6: 'network', network: 'network', tcp: 'network', file: 'file' }, 'serial, ipv4 or file');
  if (method === 'network') {
    if (!raw.networkHost) missing('networkHost', 'the input method ipv4 needs the host of the P1 network bridge');
    if (!raw.networkPort) missing('networkPort', 'the input method ipv4 needs the TCP port of the P1 network bridge');
    const host = raw.networkHost.value.trim();
    if (!/^[A-Za-z0-9.\-:[\]]+$/.test(host)) fail(raw.networkHost, 'a host name or IP address such as 192.168.1.20');
    return { kind: 'network', host: host.replace(/^\[(.*)\]$/, '$1'), port: wholeNumber(raw.networkPort, 1, 65535, 'a TCP port number from 1 to 65535') };
  }
  if (method === 'file') {
    if (!raw.inputFile) missing('inputFile', 'the input method file needs a capture file to replay, or - for stdin');
    return { kind: 'file', path: raw.inputFile.value };
  }
  const path = raw.serialPort?.value.trim() || '/dev/ttyUSB0';
  if (!path.startsWith('/')) fail(raw.serialPort!, 'an absolute device path such as /dev/ttyUSB0 or /dev/serial/by-id/...');
  const backend = oneOf<SerialBackendChoice>(raw.serialBackend, 'auto', { auto: 'auto', native: 'native', stty: 'stty' }, 'auto, native or stty');
  return { kind: 'serial', path, line: serialLine(raw), backend };
}



export function splitList(value: string): string[] {
  return value.split(',').map((s) => s.trim()).filter((s) => s !== '');
}

function decryptionKey(raw: RawValue | undefined): Buffer | undefined {
  if (!raw) return undefined;
  const key = parseHexKey(raw.value);
  if (!key) fail({ value: '(hidden)', origin: raw.origin }, 'the 16-byte key from your grid operator as 32 hex digits');
  return key;
}

function decryptionAad(raw: RawValue | undefined): AadSetting {
  const parsed = parseAadSetting(raw?.value);
  if (typeof parsed === 'string') fail({ value: '(hidden)', origin: raw!.origin }, parsed.replace(/^expected /, ''));
  return parsed;
}

// A relative data directory is resolved against the working directory once, at start, and the start line says so
// (describeDataDir): handy for a trial in a shell, and the spool never moves if the program later changes directory.
function dataDir(raw: RawValue | undefined): Pick<Config, 'dataDir' | 'dataDirGiven'> {
  if (!raw) return { dataDir: DEFAULT_DATA_DIR };
  const path = raw.value;
  if (path.trim() === '' || path.trim() !== path) fail(raw, `a directory path without leading or trailing spaces, e.g. ${DEFAULT_DATA_DIR}`);
  return isAbsolute(path) ? { dataDir: path } : { dataDir: resolve(path), dataDirGiven: path };
}

/** The data directory for the start line. */
export function describeDataDir(config: Pick<Config, 'dataDir' | 'dataDirGiven'>): string {
  return config.dataDirGiven === undefined ? config.dataDir : `${config.dataDir} (${config.dataDirGiven} resolved against the working directory)`;
}

export function parseConfig(raw: RawSettings): Config {
  const debug = bool(raw.debugLogging, false);
  const logLevel = oneOf<LogLevel>(raw.logLevel, debug ? 'debug' : 'info', { error: 'error', warn: 'warn', warning: 'warn', info: 'info', debug: 'debug' }, 'error, warn, info or debug');
  const inputConfig = input(raw);
  const apiServers = parseDsmrReaderServers(raw);
  const mqtt = parseMqttConfig(raw);
  if (apiServers.length === 0 && mqtt.length === 0) {
    throw new ConfigError(`no output is set: name a DSMR-reader server in ${SETTINGS.apiHosts.env} (e.g. http://dsmr.local), an MQTT broker in ${SETTINGS.mqttUrl.env} (e.g. mqtt://192.168.1.5), or both`);
  }
  return {
    input: inputConfig,
    servers: apiServers,
    mqtt,
    timeoutMs: seconds(raw.timeout, 20, { min: 0.1, max: 3600, example: 20 }) * 1000,
    minIntervalMs: seconds(raw.sleep, 0, { min: 0, max: 86_400, zero: 'forward each telegram', example: 5 }) * 1000,
    logLevel,
    crcCheck: bool(raw.crcCheck, true),
    caFile: raw.caFile?.value,
    insecure: bool(raw.insecure, false),
    ...dataDir(raw.dataDir),
    statsIntervalMs: seconds(raw.statsInterval, 600, { min: 1, max: 7 * 86_400, zero: 'no statistics lines', example: 600 }) * 1000,
    spoolMaxBytes: raw.spoolMaxMb ? wholeNumber(raw.spoolMaxMb, 1, 1_000_000, 'a whole number of megabytes, e.g. 240') * 1024 * 1024 : undefined,
    decryptionKey: decryptionKey(raw.decryptionKey),
    decryptionAad: decryptionAad(raw.decryptionAad),
    statusEndpoint: statusEndpoint(raw),
  };
}

/** Live power readings tell whether someone is home: off this machine, they are only served with a token. */
export function statusEndpoint(raw: RawSettings): StatusEndpointConfig {
  const parsed = raw.httpListen ? parseListen(raw.httpListen.value) : DEFAULT_LISTEN;
  if (typeof parsed === 'object' && 'error' in parsed) fail(raw.httpListen!, parsed.error);
  const token = raw.httpToken?.value.trim() || undefined;
  if (token !== undefined && !/^[\x21-\x7e]{16,}$/.test(token)) {
    fail({ value: '(hidden)', origin: raw.httpToken!.origin }, 'at least 16 printable characters without spaces, e.g. from `openssl rand -hex 16`');
  }
  const listen = parsed === 'off' ? undefined : parsed;
  if (listen && !isLoopback(listen.host) && token === undefined) {
    throw new ConfigError(`${raw.httpListen!.origin} is "${raw.httpListen!.value}", reachable from other machines, but ${SETTINGS.httpToken.env} is not set: live power readings tell whether someone is home; set a token, or listen on 127.0.0.1`);
  }
  return {
    listen,
    token,
    silenceMs: seconds(raw.healthSilence, 60, { min: 1, max: 86_400, example: 60 }) * 1000,
    stallMs: seconds(raw.healthStall, 300, { min: 1, max: 7 * 86_400, example: 300 }) * 1000,
  };
}
