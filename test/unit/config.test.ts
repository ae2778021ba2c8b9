import { describe, expect, it } from 'vitest';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describeDataDir, MAX_TIMER_MS, parseConfig } from '../../src/config/config.ts';
import { loadConfig } from '../../src/config/load.ts';
import { ConfigError } from '../../src/config/config-error.ts';
import { parseEnvFile } from '../../src/config/env-file.ts';
import { parseCommandLine } from '../../src/config/argv.ts';
import { collectSettings, unknownOwnSettings } from '../../src/config/settings.ts';
import { LINE_115200_8N1, LINE_9600_7E1 } from '../../src/sources/serial-settings.ts';

const SERVER = { DSMRREADER_REMOTE_DATALOGGER_API_HOSTS: 'http://dsmr.local', DSMRREADER_REMOTE_DATALOGGER_API_KEYS: 'secret-key' };

function configFrom(env: Record<string, string>, argv: string[] = [], envFile?: string) {
  const file = envFile === undefined ? undefined : { path: 'test.env', entries: parseEnvFile(envFile, 'test.env') };
  const flags = parseCommandLine(argv, { command: '', settings: 'all', settingsFile: true }).settings;
  return parseConfig(collectSettings({ flags, env, envFile: file }));
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

  it('takes the settings file as --settings FILE, or as --env-file FILE', () => {
    const run = { command: '', settings: 'all', settingsFile: true } as const;
    expect(parseCommandLine(['--sleep', '1', '--env-file', '/etc/d.env'], run)).toMatchObject({ settingsFile: { path: '/etc/d.env', flag: 'env-file' }, settings: { sleep: { value: '1', origin: '--sleep' } } });
    expect(parseCommandLine(['--settings=/x'], run).settingsFile).toEqual({ path: '/x', flag: 'settings' });
    expect(errorOf(() => parseCommandLine(['--settings', '/a', '--env-file', '/b'], run))).toBe('--settings and --env-file both name a settings file: give one');
    expect(errorOf(() => parseCommandLine(['--settings'], run))).toBe('--settings needs the path of a file of KEY=VALUE lines');
  });

  it.each([
    [{ DSMRREADER_REMOTE_DATALOGGER_API_KEYS: 'k' }, 'DSMRREADER_REMOTE_DATALOGGER_API_HOSTS (or --api-hosts) is not set'],
    [{ DSMRREADER_REMOTE_DATALOGGER_API_HOSTS: 'http://a' }, 'DSMRREADER_REMOTE_DATALOGGER_API_KEYS is not set'],
    [{ ...SERVER, DSMRREADER_REMOTE_DATALOGGER_API_HOSTS: 'ftp://a' }, 'DSMRREADER_REMOTE_DATALOGGER_API_HOSTS is "ftp://a": expected an http:// or https:// address'],
    [{ ...SERVER, DSMRREADER_REMOTE_DATALOGGER_SERIAL_BYTESIZE: '9' }, 'DSMRREADER_REMOTE_DATALOGGER_SERIAL_BYTESIZE is "9": expected 7 or 8'],
    [{ ...SERVER, DSMRREADER_REMOTE_DATALOGGER_SERIAL_PORT: 'ttyUSB0' }, 'DSMRREADER_REMOTE_DATALOGGER_SERIAL_PORT is "ttyUSB0": expected an absolute device path'],
    [{ ...SERVER, DSMRREADER_REMOTE_DATALOGGER_TIMEOUT: '0' }, 'DSMRREADER_REMOTE_DATALOGGER_TIMEOUT is "0": expected a number of seconds from 0.1 to 3600 (1 hour), e.g. 20'],
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
    expect(errorOf(() => configFrom(SERVER, [], '\nDSMRREADER_REMOTE_DATALOGGER_SLEEP=soon\n'))).toBe('DSMRREADER_REMOTE_DATALOGGER_SLEEP (test.env:2) is "soon": expected a number of seconds from 0 (forward each telegram) to 86400 (1 day), e.g. 5');
  });

  it('warns about unknown names under our prefixes only', () => {
    expect(unknownOwnSettings({ DSMR_DATALOGGER_DATADIR: '/x', DSMR_DATALOGGER_DATA_DIR: '/y', HOME: '/root' })).toEqual(['DSMR_DATALOGGER_DATADIR']);
  });

  it.each([
    ['DSMR_DATALOGGER_STATS_INTERVAL', '3000000', 'from 1 to 604800 (7 days), or 0 (no statistics lines)'],
    // Just beyond what a Node timer holds: it would fire every millisecond.
    ['DSMR_DATALOGGER_STATS_INTERVAL', String(Math.ceil(MAX_TIMER_MS / 1000)), 'from 1 to 604800 (7 days), or 0 (no statistics lines)'],
    ['DSMRREADER_REMOTE_DATALOGGER_TIMEOUT', '3601', 'from 0.1 to 3600 (1 hour)'],
    ['DSMRREADER_REMOTE_DATALOGGER_SLEEP', '86401', 'from 0 (forward each telegram) to 86400 (1 day)'],
  ])('bounds every duration: %s=%s is refused', (name, value, expected) => {
    expect(errorOf(() => configFrom({ ...SERVER, [name]: value }))).toBe(`${name} is "${value}": expected a number of seconds ${expected}, e.g. ${name.endsWith('SLEEP') ? 5 : name.endsWith('TIMEOUT') ? 20 : 600}`);
  });

  it('takes every duration up to its bound, within what a timer holds', () => {
    const c = configFrom({ ...SERVER, DSMR_DATALOGGER_STATS_INTERVAL: '604800', DSMRREADER_REMOTE_DATALOGGER_TIMEOUT: '3600', DSMRREADER_REMOTE_DATALOGGER_SLEEP: '86400' });
    expect([c.statsIntervalMs, c.timeoutMs, c.minIntervalMs]).toEqual([604_800_000, 3_600_000, 86_400_000]);
    expect(Math.max(c.statsIntervalMs, c.timeoutMs, c.minIntervalMs)).toBeLessThanOrEqual(MAX_TIMER_MS);
  });

  it.each([['  '], [''], [' /var/lib/x']])('refuses a blank data directory, or one with spaces around it: %j', (value) => {
    expect(errorOf(() => configFrom(SERVER, ['--data-dir', value]))).toBe(`--data-dir is "${value}": expected a directory path without leading or trailing spaces, e.g. /var/lib/dsmr-datalogger`);
  });

  it('resolves a relative data directory against the working directory, and says so', () => {
    const c = configFrom({ ...SERVER, DSMR_DATALOGGER_DATA_DIR: 'data/here' });
    expect(c.dataDir).toBe(resolve('data/here'));
    expect(describeDataDir(c)).toBe(`${resolve('data/here')} (data/here resolved against the working directory)`);
    expect(describeDataDir(configFrom({ ...SERVER, DSMR_DATALOGGER_DATA_DIR: '/srv/dsmr' }))).toBe('/srv/dsmr');
  });

  it('refuses a host with credentials without showing the password', () => {
    const message = errorOf(() => configFrom({ ...SERVER, DSMRREADER_REMOTE_DATALOGGER_API_HOSTS: 'https://admin:pa55w0rd@dsmr.local:8443/x' }));
    expect(message).toBe('DSMRREADER_REMOTE_DATALOGGER_API_HOSTS is "https://admin:(hidden)@dsmr.local:8443/x": expected an http:// or https:// address without query, fragment or credentials');
    expect(errorOf(() => configFrom({ ...SERVER, DSMRREADER_REMOTE_DATALOGGER_API_HOSTS: 'http://u:p@ss@h' }))).not.toContain('p@ss');
  });

  it('refuses an input file that is a directory at start', () => {
    const env = { ...SERVER, DSMRREADER_REMOTE_DATALOGGER_INPUT_METHOD: 'file', DSMR_DATALOGGER_INPUT_FILE: tmpdir() };
    expect(errorOf(() => loadConfig({ settings: {} }, env))).toBe(`DSMR_DATALOGGER_INPUT_FILE is "${tmpdir()}": expected a readable capture file, or - for stdin (it is a directory)`);
  });

  it('says a settings file is missing, and which flag named it', () => {
    const path = join(tmpdir(), 'dsmr-no-such-settings.env');
    expect(errorOf(() => loadConfig({ settings: {}, settingsFile: { path, flag: 'settings' } }, SERVER))).toBe(`--settings ${path} cannot be read: no such file (ENOENT)`);
    expect(errorOf(() => loadConfig({ settings: {}, settingsFile: { path: tmpdir(), flag: 'env-file' } }, SERVER))).toContain(`--env-file ${tmpdir()} cannot be read: it is a directory`);
  });
});

describe('the command line of every command', () => {
  const inspect = { command: 'inspect', options: { ndjson: {} }, settingsFile: true, positionals: 1 } as const;
  const simulate = { command: 'simulate', options: { count: { value: true }, fast: {} } } as const;
  const detect = { command: 'detect', options: { seconds: { value: true } }, settings: ['serialPort'] } as const;

  it('takes options, switches, settings, positionals and --help', () => {
    expect(parseCommandLine(['-', '--ndjson', '--env-file=/e'], inspect)).toEqual({ help: false, options: new Map([['ndjson', 'true']]), settings: {}, settingsFile: { path: '/e', flag: 'env-file' }, positionals: ['-'] });
    expect(parseCommandLine(['--count', '3', '--fast'], simulate).options).toEqual(new Map([['count', '3'], ['fast', 'true']]));
    expect(parseCommandLine(['--serial-port=/dev/ttyS1', '--seconds', '5'], detect)).toMatchObject({ settings: { serialPort: { value: '/dev/ttyS1', origin: '--serial-port' } }, options: new Map([['seconds', '5']]) });
    for (const spec of [inspect, simulate, detect]) expect(parseCommandLine(['-h'], spec).help).toBe(true);
    expect(parseCommandLine(['--no-such-thing', '--help'], simulate).help).toBe(true);
  });

  it('takes a setting switch alone or with a value', () => {
    const run = { command: '', settings: 'all' } as const;
    expect(parseCommandLine(['--insecure', '--crc-check', 'false', '--debug-logging=no'], run).settings).toEqual({
      insecure: { value: 'true', origin: '--insecure' },
      crcCheck: { value: 'false', origin: '--crc-check' },
      debugLogging: { value: 'no', origin: '--debug-logging' },
    });
  });

  it.each([
    [['--colour'], simulate, 'unknown option --colour (see dsmr-datalogger simulate --help)'],
    [['-x'], simulate, 'unknown option -x (see dsmr-datalogger simulate --help)'],
    [['stdout'], simulate, 'unexpected argument "stdout" (see dsmr-datalogger simulate --help)'],
    [['--count'], simulate, '--count needs a value (see dsmr-datalogger simulate --help)'],
    [['--count', '--fast'], simulate, '--count needs a value (see dsmr-datalogger simulate --help)'],
    [['--fast=yes'], simulate, '--fast takes no value'],
    [['a', 'b'], inspect, 'one input at a time, got "a" and "b"'],
    [['--settings', '/x'], simulate, 'unknown option --settings (see dsmr-datalogger simulate --help)'],
    // A setting that is not this command's is an unknown option here.
    [['--api-hosts', 'http://a'], detect, 'unknown option --api-hosts (see dsmr-datalogger detect --help)'],
    [['--api-keys', 'k'], detect, '--api-keys is not taken on the command line, where any user could read it: set DSMRREADER_REMOTE_DATALOGGER_API_KEYS in the environment or the --settings file'],
    [['--serial-port'], detect, '--serial-port needs a value: serial device; default /dev/ttyUSB0'],
  ] as const)('%j for %s: one ConfigError naming the argument', (argv, spec, message) => {
    expect(errorOf(() => parseCommandLine(argv, spec))).toBe(message);
  });
});
