// The MQTT settings: valid set-ups (MQTT alone, with DSMR-reader, several brokers) and one clear line per mistake.
import { describe, expect, it } from 'vitest';
import { hostname } from 'node:os';
import { parseConfig } from '../../config/config.ts';
import { ConfigError } from '../../config/config-error.ts';
import { collectSettings } from '../../config/settings.ts';
import { parseCommandLine } from '../../config/argv.ts';
import { defaultClientId } from './config.ts';

const SERVER = { DSMRREADER_REMOTE_DATALOGGER_API_HOSTS: 'http://dsmr.local', DSMRREADER_REMOTE_DATALOGGER_API_KEYS: 'secret-key' };
const configFrom = (env: Record<string, string>, argv: string[] = []) =>
  parseConfig(collectSettings({ flags: parseCommandLine(argv, { command: '', settings: 'all', settingsFile: true }).settings, env }));

/** The one line a mistake gives: a ConfigError, so exit status 2. */
function configErrorOf(env: Record<string, string>, argv: string[] = []): string {
  let caught: unknown;
  try {
    configFrom(env, argv);
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(ConfigError);
  return (caught as ConfigError).message;
}

describe('MQTT settings', () => {
  it('MQTT alone, without any DSMR-reader server, is a valid set-up with the defaults', () => {
    const c = configFrom({ DSMR_DATALOGGER_MQTT_URL: 'mqtt://192.168.1.5' });
    expect(c.servers).toEqual([]);
    expect(c.mqtt).toEqual([
      {
        url: 'mqtt://192.168.1.5:1883',
        host: '192.168.1.5',
        port: 1883,
        tls: false,
        username: undefined,
        password: undefined,
        clientId: defaultClientId(hostname()),
        topicPrefix: 'dsmr',
        ca: undefined,
        insecure: false,
        discovery: true,
        minIntervalMs: 0,
      },
    ]);
  });

  it('takes several brokers, DSMR-reader servers beside them, and the shared settings from flags and environment', () => {
    const c = configFrom(
      { ...SERVER, DSMR_DATALOGGER_MQTT_URL: 'mqtt://a.local, mqtts://b.local:9883', DSMR_DATALOGGER_MQTT_USERNAME: 'meter', DSMR_DATALOGGER_MQTT_PASSWORD: 'p,w d' },
      ['--mqtt-topic-prefix', 'home/p1', '--mqtt-interval', '10', '--mqtt-discovery', 'false', '--mqtt-client-id', 'p1-reader', '--mqtt-insecure', '--sleep', '5'],
    );
    expect(c.servers).toHaveLength(1);
    expect(c.minIntervalMs).toBe(5000);
    expect(c.mqtt.map((m) => [m.url, m.tls, m.port])).toEqual([
      ['mqtt://a.local:1883', false, 1883],
      ['mqtts://b.local:9883', true, 9883],
    ]);
    for (const m of c.mqtt) {
      expect(m).toMatchObject({ username: 'meter', password: 'p,w d', topicPrefix: 'home/p1', minIntervalMs: 10_000, discovery: false, clientId: 'p1-reader', insecure: true });
    }
    expect(configFrom({ DSMR_DATALOGGER_MQTT_URL: 'mqtts://b.local' }).mqtt[0].port).toBe(8883);
  });

  it('derives a stable client id from the host name', () => {
    expect(defaultClientId('raspberrypi.local')).toBe('dsmr-datalogger-raspberrypi');
    expect(defaultClientId('my pi')).toBe('dsmr-datalogger-my_pi');
  });

  it('needs at least one output', () => {
    expect(configErrorOf({})).toBe(
      'no output is set: name a DSMR-reader server in DSMRREADER_REMOTE_DATALOGGER_API_HOSTS (e.g. http://dsmr.local), an MQTT broker in DSMR_DATALOGGER_MQTT_URL (e.g. mqtt://192.168.1.5), or both',
    );
  });

  it.each([
    [{ DSMR_DATALOGGER_MQTT_URL: 'http://broker' }, 'DSMR_DATALOGGER_MQTT_URL is "http://broker": expected an mqtt:// or mqtts:// address'],
    [{ DSMR_DATALOGGER_MQTT_URL: 'broker.local' }, 'DSMR_DATALOGGER_MQTT_URL is "broker.local": expected mqtt://host[:port] or mqtts://host[:port]'],
    [{ DSMR_DATALOGGER_MQTT_URL: 'mqtt://broker/dsmr' }, 'DSMR_DATALOGGER_MQTT_URL is "mqtt://broker/dsmr": expected mqtt://host[:port] without a path'],
    [{ DSMR_DATALOGGER_MQTT_URL: 'mqtt://broker:99999' }, 'DSMR_DATALOGGER_MQTT_URL is "mqtt://broker:99999": expected mqtt://host[:port]'],
    [{ DSMR_DATALOGGER_MQTT_URL: 'mqtt://a,mqtt://a:1883' }, 'DSMR_DATALOGGER_MQTT_URL is "mqtt://a,mqtt://a:1883": expected each broker once; mqtt://a:1883 is named twice'],
    [{ DSMR_DATALOGGER_MQTT_URL: ' , ' }, 'DSMR_DATALOGGER_MQTT_URL is " , ": expected a comma-separated list of brokers'],
    [{ DSMR_DATALOGGER_MQTT_URL: 'mqtt://b', DSMR_DATALOGGER_MQTT_PASSWORD: 'x' }, 'DSMR_DATALOGGER_MQTT_PASSWORD is set but DSMR_DATALOGGER_MQTT_USERNAME is not'],
    [{ DSMR_DATALOGGER_MQTT_URL: 'mqtt://b', DSMR_DATALOGGER_MQTT_TOPIC_PREFIX: 'dsmr/#' }, 'DSMR_DATALOGGER_MQTT_TOPIC_PREFIX is "dsmr/#": expected a topic prefix such as dsmr'],
    [{ DSMR_DATALOGGER_MQTT_URL: 'mqtt://b', DSMR_DATALOGGER_MQTT_TOPIC_PREFIX: '/dsmr' }, 'DSMR_DATALOGGER_MQTT_TOPIC_PREFIX is "/dsmr": expected a topic prefix'],
    [{ DSMR_DATALOGGER_MQTT_URL: 'mqtt://b', DSMR_DATALOGGER_MQTT_TOPIC_PREFIX: '$SYS' }, 'DSMR_DATALOGGER_MQTT_TOPIC_PREFIX is "$SYS": expected a topic prefix'],
    [{ DSMR_DATALOGGER_MQTT_URL: 'mqtt://b', DSMR_DATALOGGER_MQTT_INTERVAL: 'soon' }, 'DSMR_DATALOGGER_MQTT_INTERVAL is "soon": expected a number of seconds from 0 (publish every telegram) to 86400 (1 day), e.g. 10'],
    [{ DSMR_DATALOGGER_MQTT_URL: 'mqtt://b', DSMR_DATALOGGER_MQTT_DISCOVERY: 'perhaps' }, 'DSMR_DATALOGGER_MQTT_DISCOVERY is "perhaps": expected true or false'],
    [{ DSMR_DATALOGGER_MQTT_URL: 'mqtt://b', DSMR_DATALOGGER_MQTT_CLIENT_ID: 'two words' }, 'DSMR_DATALOGGER_MQTT_CLIENT_ID is "two words": expected a client id of 1 to 128 printable characters'],
    [{ DSMR_DATALOGGER_MQTT_URL: 'mqtt://b', DSMR_DATALOGGER_MQTT_CA_FILE: '/nonexistent/ca.pem' }, 'DSMR_DATALOGGER_MQTT_CA_FILE is "/nonexistent/ca.pem": expected a readable PEM file of CA certificates (ENOENT)'],
    [{ ...SERVER, DSMR_DATALOGGER_MQTT_TOPIC_PREFIX: 'x' }, 'DSMR_DATALOGGER_MQTT_TOPIC_PREFIX is set but DSMR_DATALOGGER_MQTT_URL is not'],
  ])('names the setting and what is expected: %j', (env, message) => {
    expect(configErrorOf(env as Record<string, string>)).toContain(message);
  });

  it('never takes credentials on the command line or in the address, and never echoes a password', () => {
    expect(configErrorOf({ DSMR_DATALOGGER_MQTT_URL: 'mqtt://b' }, ['--mqtt-password', 'pw'])).toBe(
      '--mqtt-password is not taken on the command line, where any user could read it: set DSMR_DATALOGGER_MQTT_PASSWORD in the environment or the --settings file',
    );
    expect(configErrorOf({ DSMR_DATALOGGER_MQTT_URL: 'mqtt://b' }, ['--mqtt-username', 'u'])).toContain('set DSMR_DATALOGGER_MQTT_USERNAME in the environment');
    const inUrl = configErrorOf({ DSMR_DATALOGGER_MQTT_URL: 'mqtt://user:hunter2@broker' });
    expect(inUrl).toContain('expected an address without credentials: set DSMR_DATALOGGER_MQTT_USERNAME and DSMR_DATALOGGER_MQTT_PASSWORD instead');
    expect(inUrl).not.toContain('hunter2');
    expect(configErrorOf({ DSMR_DATALOGGER_MQTT_URL: 'mqtt://b', DSMR_DATALOGGER_MQTT_USERNAME: 'u', DSMR_DATALOGGER_MQTT_PASSWORD: 'a\u0000b' })).not.toContain('a\u0000b');
  });
});
