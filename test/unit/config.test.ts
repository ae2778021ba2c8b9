import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/config.ts';
import { ConfigError } from '../../src/config/config-error.ts';
import { parseEnvFile } from '../../src/config/env-file.ts';
import { collectSettings, takeEnvFileFlag, unknownOwnSettings } from '../../src/config/settings.ts';
import { LINE_115200_8N1, LINE_9600_7E1 } from '../../src/sources/serial-settings.ts';

const SERVER = { DSMRREADER_REMOTE_DATALOGGER_API_HOSTS: 'http://dsmr.local', DSMRREADER_REMOTE_DATALOGGER_API_KEYS: 'secret-key' };

function configFrom(env: Record<string, string>, argv: string[] = [], envFile?: string) {
  const file = envFile === undefined ? undefined : { path: 'test.env', entries: parseEnvFile(envFile, 'test.env') };
  return parseConfig(collectSettings({ argv, env, envFile: file }));
}

function errorOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error('expected a ConfigError');
}

describe('configuration', () => {
  it('takes DSMR-reader remote-datalogger settings unchanged', () => {
    const c = configFrom({
      DSMRREADER_REMOTE_DATALOGGER_INPUT_METHOD: 'serial',
      DSMRREADER_REMOTE_DATALOGGER_SERIAL_PORT: '/dev/serial/by-id/usb-FTDI_P1-if00-port0',
      DSMRREADER_REMOTE_DATALOGGER_SERIAL_BAUDRATE: '9600',
      DSMRREADER_REMOTE_DATALOGGER_SERIAL_BYTESIZE: '7',
      DSMRREADER_REMOTE_DATALOGGER_SERIAL_PARITY: 'E',
      DSMRREADER_REMOTE_DATALOGGER_API_HOSTS: 'http://one.local, https://two.local:8443/dsmr/',
      DSMRREADER_REMOTE_DATALOGGER_API_KEYS: 'key1,key2',
      DSMRREADER_REMOTE_DATALOGGER_TIMEOUT: '5',
      DSMRREADER_REMOTE_DATALOGGER_SLEEP: '0.5',
      DSMRREADER_REMOTE_DATALOGGER_DEBUG_LOGGING: 'True',
    });
    expect(c.input).toEqual({ kind: 'serial', path: '/dev/serial/by-id/usb-FTDI_P1-if00-port0', line: LINE_9600_7E1, backend: 'auto' });
    expect(c.servers).toEqual([
      { host: 'http://one.local', url: 'http://one.local/api/v1/datalogger/dsmrreading', key: 'key1' },
      { host: 'https://two.local:8443/dsmr', url: 'https://two.local:8443/dsmr/api/v1/datalogger/dsmrreading', key: 'key2' },
    ]);
    expect(c.timeoutMs).toBe(5000);
    expect(c.minIntervalMs).toBe(500);
    expect(c.logLevel).toBe('debug');
  });

  it('has quiet, safe defaults', () => {
    const c = configFrom(SERVER);
    expect(c.input).toEqual({ kind: 'serial', path: '/dev/ttyUSB0', line: 'auto', backend: 'auto' });
    expect(c.minIntervalMs).toBe(0);
    expect(c.timeoutMs).toBe(20_000);
    expect(c.logLevel).toBe('info');
    expect(c.crcCheck).toBe(true);
    expect(c.dataDir).toBe('/var/lib/dsmr-datalogger');
    expect(c.statsIntervalMs).toBe(600_000);
  });

  it('accepts the Docker image name for the serial port', () => {
    expect(configFrom({ ...SERVER, DSMRREADER_REMOTE_DATALOGGER_SERIAL_DEVICE: '/dev/ttyAMA0' }).input).toMatchObject({ path: '/dev/ttyAMA0' });
  });

  it('picks serial settings from the DSMR version, refined by explicit ones', () => {
    expect(configFrom({ ...SERVER, DSMR_DATALOGGER_DSMR_VERSION: '2.2' }).input).toMatchObject({ line: LINE_9600_7E1 });
    expect(configFrom({ ...SERVER, DSMR_DATALOGGER_DSMR_VERSION: 'be' }).input).toMatchObject({ line: LINE_115200_8N1 });
    expect(configFrom({ ...SERVER, DSMR_DATALOGGER_DSMR_VERSION: '5', DSMR_DATALOGGER_SERIAL_XONXOFF: 'yes' }).input).toMatchObject({ line: { ...LINE_115200_8N1, xonxoff: true } });
    // An explicit setting with auto means: no probing, DSMR-reader's own default as the base.
    expect(configFrom({ ...SERVER, DSMRREADER_REMOTE_DATALOGGER_SERIAL_BAUDRATE: '115200' }).input).toMatchObject({ line: LINE_115200_8N1 });
  });

  it('reads a network bridge', () => {
    const c = configFrom({ ...SERVER, DSMRREADER_REMOTE_DATALOGGER_INPUT_METHOD: 'ipv4', DSMRREADER_REMOTE_DATALOGGER_NETWORK_HOST: '192.168.1.20', DSMRREADER_REMOTE_DATALOGGER_NETWORK_PORT: '23' });
    expect(c.input).toEqual({ kind: 'network', host: '192.168.1.20', port: 23 });
  });

  it('lets flags win over the environment, and the environment over the env file', () => {
    const file = 'DSMRREADER_REMOTE_DATALOGGER_SLEEP=1\nDSMRREADER_REMOTE_DATALOGGER_TIMEOUT=3\nDSMR_DATALOGGER_STATS_INTERVAL=60\n';
    const c = configFrom({ ...SERVER, DSMRREADER_REMOTE_DATALOGGER_SLEEP: '2', DSMRREADER_REMOTE_DATALOGGER_TIMEOUT: '4' }, ['--sleep', '5'], file);
    expect(c.minIntervalMs).toBe(5000);
    expect(c.timeoutMs).toBe(4000);
    expect(c.statsIntervalMs).toBe(60_000);
  });

  it('reads env files like DSMR-reader .env files', () => {
    const entries = parseEnvFile('# comment\n\nexport A=1\nB = "two words" \nC=\'x#y\'\nD=plain # trailing\n', 'f');
    expect([...entries].map(([k, v]) => [k, v.value])).toEqual([['A', '1'], ['B', 'two words'], ['C', 'x#y'], ['D', 'plain']]);
    expect(errorOf(() => parseEnvFile('A=1\nnot a setting\n', '/etc/x.env'))).toBe('/etc/x.env:2: expected KEY=VALUE, found "not a setting"');
  });

  it('splits out --env-file before anything else', () => {
    expect(takeEnvFileFlag(['--sleep', '1', '--env-file', '/etc/d.env'])).toEqual({ envFile: '/etc/d.env', rest: ['--sleep', '1'] });
    expect(takeEnvFileFlag(['--env-file=/x'])).toEqual({ envFile: '/x', rest: [] });
  });

  it.each([
    [{ DSMRREADER_REMOTE_DATALOGGER_API_KEYS: 'k' }, 'DSMRREADER_REMOTE_DATALOGGER_API_HOSTS (or --api-hosts) is not set'],
    [{ DSMRREADER_REMOTE_DATALOGGER_API_HOSTS: 'http://a' }, 'DSMRREADER_REMOTE_DATALOGGER_API_KEYS is not set'],
    [{ ...SERVER, DSMRREADER_REMOTE_DATALOGGER_API_HOSTS: 'ftp://a' }, 'DSMRREADER_REMOTE_DATALOGGER_API_HOSTS is "ftp://a": expected an http:// or https:// address'],
    [{ ...SERVER, DSMRREADER_REMOTE_DATALOGGER_SERIAL_BYTESIZE: '9' }, 'DSMRREADER_REMOTE_DATALOGGER_SERIAL_BYTESIZE is "9": expected 7 or 8'],
    [{ ...SERVER, DSMRREADER_REMOTE_DATALOGGER_SERIAL_PORT: 'ttyUSB0' }, 'DSMRREADER_REMOTE_DATALOGGER_SERIAL_PORT is "ttyUSB0": expected an absolute device path'],
    [{ ...SERVER, DSMRREADER_REMOTE_DATALOGGER_TIMEOUT: '0' }, 'DSMRREADER_REMOTE_DATALOGGER_TIMEOUT is "0": expected a number of seconds of at least 0.1'],
    [{ ...SERVER, DSMRREADER_REMOTE_DATALOGGER_INPUT_METHOD: 'usb' }, 'DSMRREADER_REMOTE_DATALOGGER_INPUT_METHOD is "usb": expected serial, ipv4 or file'],
    [{ ...SERVER, DSMRREADER_REMOTE_DATALOGGER_INPUT_METHOD: 'ipv4', DSMRREADER_REMOTE_DATALOGGER_NETWORK_HOST: 'h', DSMRREADER_REMOTE_DATALOGGER_NETWORK_PORT: '70000' }, 'DSMRREADER_REMOTE_DATALOGGER_NETWORK_PORT is "70000": expected a TCP port number from 1 to 65535'],
    [{ ...SERVER, DSMR_DATALOGGER_DSMR_VERSION: '6' }, 'DSMR_DATALOGGER_DSMR_VERSION is "6": expected auto, 2.2, 3, 4, 5, be (Belgium) or lu (Luxembourg)'],
    [{ ...SERVER, DSMR_DATALOGGER_CRC_CHECK: 'maybe' }, 'DSMR_DATALOGGER_CRC_CHECK is "maybe": expected true or false'],
    [{ ...SERVER, DSMR_DATALOGGER_DECRYPTION_KEY: 'abc' }, 'DSMR_DATALOGGER_DECRYPTION_KEY is "(hidden)": expected the 16-byte key'],
  ])('names the setting and what is expected: %j', (env, message) => {
    expect(errorOf(() => configFrom(env as Record<string, string>))).toContain(message);
  });

  it('never takes secrets on the command line, and never echoes them', () => {
    expect(errorOf(() => configFrom(SERVER, ['--api-keys', 'abc']))).toContain('not taken on the command line');
    expect(errorOf(() => configFrom({ ...SERVER, DSMRREADER_REMOTE_DATALOGGER_API_KEYS: 'bad key' }))).not.toContain('bad key');
  });

  it('names the env file and line a bad value came from', () => {
    expect(errorOf(() => configFrom(SERVER, [], '\nDSMRREADER_REMOTE_DATALOGGER_SLEEP=soon\n'))).toBe('DSMRREADER_REMOTE_DATALOGGER_SLEEP (test.env:2) is "soon": expected a number of seconds, 0 or more, e.g. 5');
  });

  it('warns about unknown names under our prefixes only', () => {
    expect(unknownOwnSettings({ DSMR_DATALOGGER_DATADIR: '/x', DSMR_DATALOGGER_DATA_DIR: '/y', HOME: '/root' })).toEqual(['DSMR_DATALOGGER_DATADIR']);
  });
});
