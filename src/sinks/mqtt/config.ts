// The MQTT outputs' settings, validated at start: every mistake is one line naming the setting (exit 2).
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { ConfigError } from '../../config/config-error.ts';
import { bool, fail, seconds, splitList } from '../../config/config.ts';
import type { RawSettings, RawValue } from '../../config/settings.ts';
import { SETTINGS } from '../../config/settings.ts';

export interface MqttConfig {
  /** scheme://host:port, as shown in logs and used to name the spool; never holds a secret. */
  url: string;
  host: string;
  port: number;
  tls: boolean;
  username?: string;
  password?: string;
  clientId: string;
  /** First topic level, e.g. "dsmr": {prefix}/raw, {prefix}/json, {prefix}/reading/<field>. */
  topicPrefix: string;
  /** Extra CAs (PEM) to trust for mqtts://. */
  ca?: Buffer;
  insecure: boolean;
  /** Home Assistant discovery configs under homeassistant/. */
  discovery: boolean;
  /** Minimum time between readings published to this broker; 0 publishes every telegram. */
  minIntervalMs: number;
}

export const DEFAULT_TOPIC_PREFIX = 'dsmr';
const DEFAULT_PORTS = { 'mqtt:': 1883, 'mqtts:': 8883 } as const;
// MQTT 3.1.1 servers must accept ids of 1..23 characters and may accept longer ones; mosquitto, EMQX and HiveMQ do.
const MAX_CLIENT_ID = 128;

/** Every broker named in DSMR_DATALOGGER_MQTT_URL, with the settings they share; [] when MQTT is not configured. */
export function parseMqttConfig(raw: RawSettings): MqttConfig[] {
  if (!raw.mqttUrl) {
    const stray = (['mqttUsername', 'mqttPassword', 'mqttClientId', 'mqttTopicPrefix', 'mqttCaFile', 'mqttInsecure', 'mqttInterval', 'mqttDiscovery'] as const).find((n) => raw[n]);
    if (stray) throw new ConfigError(`${raw[stray]!.origin} is set but ${SETTINGS.mqttUrl.env} is not: name the broker, e.g. mqtt://192.168.1.5`);
    return [];
  }
  const urls = splitList(raw.mqttUrl.value);
  if (urls.length === 0) fail(raw.mqttUrl, 'a comma-separated list of brokers such as mqtt://192.168.1.5 or mqtts://broker.local:8883');
  const shared = {
    ...credentials(raw),
    clientId: clientId(raw.mqttClientId),
    topicPrefix: topicPrefix(raw.mqttTopicPrefix),
    ca: caFile(raw.mqttCaFile),
    insecure: bool(raw.mqttInsecure, false),
    discovery: bool(raw.mqttDiscovery, true),
    minIntervalMs: seconds(raw.mqttInterval, 0, { min: 0, max: 86_400, zero: 'publish every telegram', example: 10 }) * 1000,
  };
  const brokers = urls.map((text) => ({ ...broker({ value: text, origin: raw.mqttUrl!.origin }), ...shared }));
  const seen = new Set<string>();
  for (const b of brokers) {
    if (seen.has(b.url)) fail(raw.mqttUrl, `each broker once; ${b.url} is named twice`);
    seen.add(b.url);
  }
  return brokers;
}

function broker(raw: RawValue): { url: string; host: string; port: number; tls: boolean } {
  let url: URL;
  try {
    url = new URL(raw.value);
  } catch {
    return fail(raw, 'mqtt://host[:port] or mqtts://host[:port], e.g. mqtt://192.168.1.5');
  }
  if (url.protocol !== 'mqtt:' && url.protocol !== 'mqtts:') fail(raw, 'an mqtt:// or mqtts:// address, e.g. mqtt://192.168.1.5');
  // Credentials in the address would show up in the process list and in logs: they have settings of their own.
  if (url.username || url.password) fail({ value: `${url.protocol}//(hidden)@${url.host}`, origin: raw.origin }, `an address without credentials: set ${SETTINGS.mqttUsername.env} and ${SETTINGS.mqttPassword.env} instead`);
  if ((url.pathname !== '' && url.pathname !== '/') || url.search || url.hash) fail(raw, 'mqtt://host[:port] without a path, query or fragment (the topics have their own setting)');
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  if (!host) fail(raw, 'mqtt://host[:port] with a host name or IP address');
  const tls = url.protocol === 'mqtts:';
  const port = url.port ? Number(url.port) : DEFAULT_PORTS[url.protocol as keyof typeof DEFAULT_PORTS];
  return { url: `${url.protocol}//${url.hostname}:${port}`, host, port, tls };
}

function credentials(raw: RawSettings): { username?: string; password?: string } {
  const username = raw.mqttUsername?.value;
  const password = raw.mqttPassword?.value;
  if (password !== undefined && username === undefined) {
    throw new ConfigError(`${raw.mqttPassword!.origin} is set but ${SETTINGS.mqttUsername.env} is not: MQTT sends a password only with a user name`);
  }
  if (username !== undefined && /[\u0000-\u001f]/.test(username)) fail(raw.mqttUsername!, 'a user name without control characters');
  if (password !== undefined && password.includes('\u0000')) fail({ value: '(hidden)', origin: raw.mqttPassword!.origin }, 'a password without NUL characters');
  return { username, password };
}

function clientId(raw: RawValue | undefined): string {
  if (!raw) return defaultClientId(hostname());
  const id = raw.value.trim();
  if (!/^[\x21-\x7e]+$/.test(id) || id.length > MAX_CLIENT_ID) fail(raw, `a client id of 1 to ${MAX_CLIENT_ID} printable characters without spaces`);
  return id;
}

/** Stable across restarts (a broker keeps a client's retained state apart by it) and unique per machine. */
export function defaultClientId(host: string): string {
  const name = host.split('.')[0].replace(/[^A-Za-z0-9_-]/g, '_') || 'host';
  return `dsmr-datalogger-${name}`.slice(0, MAX_CLIENT_ID);
}

function topicPrefix(raw: RawValue | undefined): string {
  if (!raw) return DEFAULT_TOPIC_PREFIX;
  const prefix = raw.value.trim();
  const levels = prefix.split('/');
  // Wildcards cannot be published to; "$" topics belong to the broker; empty levels make topics nobody expects.
  if (prefix === '' || /[#+\u0000]/.test(prefix) || prefix.startsWith('$') || levels.some((l) => l === '')) {
    fail(raw, 'a topic prefix such as dsmr or home/meter: no + or #, no leading $, no empty levels or surrounding /');
  }
  return prefix;
}

function caFile(raw: RawValue | undefined): Buffer | undefined {
  if (!raw) return undefined;
  try {
    return readFileSync(raw.value);
  } catch (err) {
    throw new ConfigError(`${raw.origin} is "${raw.value}": expected a readable PEM file of CA certificates (${(err as NodeJS.ErrnoException).code})`);
  }
}
