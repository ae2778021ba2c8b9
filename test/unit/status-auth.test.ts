// Who may read the endpoint, and where it may listen: the token rules and the listen setting, as functions.
import { parseCommandLine } from '../../src/config/argv.ts';
import { describe, expect, it } from 'vitest';
import { isAuthorized, sameSecret } from '../../src/status/auth.ts';
import { isLoopback, localUrl, parseListen } from '../../src/status/address.ts';
import { statusEndpoint } from '../../src/config/config.ts';
import { collectSettings } from '../../src/config/settings.ts';
import { ConfigError } from '../../src/config/config-error.ts';

const TOKEN = 'a-token-of-32-characters-0123456';
const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

describe('isAuthorized', () => {
  it('lets everything through when no token is set', () => {
    for (const path of ['/', '/status', '/metrics', '/health']) expect(isAuthorized(path, undefined, undefined)).toBe(true);
  });

  it('with a token: /health stays open, every other path needs the token', () => {
    expect(isAuthorized('/health', undefined, TOKEN)).toBe(true);
    for (const path of ['/', '/status', '/metrics', '/nope', '/health/']) {
      expect(isAuthorized(path, undefined, TOKEN)).toBe(false);
      expect(isAuthorized(path, `Bearer ${TOKEN}`, TOKEN)).toBe(true);
      expect(isAuthorized(path, `bearer ${TOKEN}`, TOKEN)).toBe(true);
    }
  });

  it('refuses a wrong, a longer, a shorter or an empty token, and other schemes', () => {
    for (const header of [`Bearer ${TOKEN}x`, `Bearer ${TOKEN.slice(0, -1)}`, 'Bearer ', 'Bearer', TOKEN, `Token ${TOKEN}`, `Bearer ${TOKEN} extra`]) {
      expect(isAuthorized('/status', header, TOKEN), header).toBe(false);
    }
  });

  it('takes the token as the password of Basic, whatever the user name: what a phone browser can send', () => {
    expect(isAuthorized('/', basic('me', TOKEN), TOKEN)).toBe(true);
    expect(isAuthorized('/', basic('', TOKEN), TOKEN)).toBe(true);
    expect(isAuthorized('/', basic(TOKEN, 'wrong'), TOKEN)).toBe(false);
    expect(isAuthorized('/', 'Basic !!!', TOKEN)).toBe(false);
  });

  it('sameSecret compares whole strings', () => {
    expect(sameSecret('abc', 'abc')).toBe(true);
    expect(sameSecret('abc', 'abd')).toBe(false);
    expect(sameSecret('abc', 'abcabc')).toBe(false);
    expect(sameSecret('', '')).toBe(false);
  });
});

describe('the listen address', () => {
  it('parses host:port, [v6]:port and off', () => {
    expect(parseListen('127.0.0.1:7523')).toEqual({ host: '127.0.0.1', port: 7523 });
    expect(parseListen(' [::1]:8000 ')).toEqual({ host: '::1', port: 8000 });
    expect(parseListen('pi.local:80')).toEqual({ host: 'pi.local', port: 80 });
    expect(parseListen('127.0.0.1:0')).toEqual({ host: '127.0.0.1', port: 0 });
    expect(parseListen('OFF')).toBe('off');
    for (const bad of ['7523', '127.0.0.1', '127.0.0.1:70000', 'http://127.0.0.1:7523', '::1:7523']) expect(parseListen(bad), bad).toHaveProperty('error');
  });

  it('knows loopback from the rest', () => {
    for (const host of ['127.0.0.1', '127.1.2.3', '::1', 'localhost', 'LOCALHOST']) expect(isLoopback(host), host).toBe(true);
    for (const host of ['0.0.0.0', '::', '192.168.1.5', 'pi.local', '128.0.0.1']) expect(isLoopback(host), host).toBe(false);
  });

  it('is reached on this machine through loopback when it listens on every address', () => {
    expect(localUrl({ host: '0.0.0.0', port: 7523 })).toBe('http://127.0.0.1:7523');
    expect(localUrl({ host: '::', port: 7523 })).toBe('http://[::1]:7523');
    expect(localUrl({ host: '192.168.1.5', port: 80 })).toBe('http://192.168.1.5:80');
  });
});

describe('the endpoint settings', () => {
  const settings = (env: Record<string, string>, argv: string[] = []) =>
    statusEndpoint(collectSettings({ flags: parseCommandLine(argv, { command: '', settings: 'all' }).settings, env }));

  it('is on at 127.0.0.1:7523 by default, with the health limits of 60 s and 300 s', () => {
    expect(settings({})).toEqual({ listen: { host: '127.0.0.1', port: 7523 }, token: undefined, silenceMs: 60_000, stallMs: 300_000 });
    expect(settings({ DSMR_DATALOGGER_HTTP_LISTEN: 'off' }).listen).toBeUndefined();
    expect(settings({ DSMR_DATALOGGER_HEALTH_SILENCE: '30', DSMR_DATALOGGER_HEALTH_STALL: '600' })).toMatchObject({ silenceMs: 30_000, stallMs: 600_000 });
  });

  it('refuses to listen off loopback without a token: one line naming both settings', () => {
    expect(() => settings({ DSMR_DATALOGGER_HTTP_LISTEN: '0.0.0.0:7523' })).toThrow(ConfigError);
    expect(() => settings({ DSMR_DATALOGGER_HTTP_LISTEN: '0.0.0.0:7523' })).toThrow(/DSMR_DATALOGGER_HTTP_LISTEN is "0.0.0.0:7523".*DSMR_DATALOGGER_HTTP_TOKEN is not set/);
    expect(settings({ DSMR_DATALOGGER_HTTP_LISTEN: '0.0.0.0:7523', DSMR_DATALOGGER_HTTP_TOKEN: TOKEN })).toMatchObject({ listen: { host: '0.0.0.0', port: 7523 }, token: TOKEN });
  });

  it('takes the token from the environment only, never a flag; a short one is refused without showing it', () => {
    expect(() => settings({}, ['--http-token', TOKEN])).toThrow(/--http-token is not taken on the command line.*DSMR_DATALOGGER_HTTP_TOKEN/);
    let message = '';
    try {
      settings({ DSMR_DATALOGGER_HTTP_TOKEN: 'short' });
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toMatch(/DSMR_DATALOGGER_HTTP_TOKEN is "\(hidden\)": expected at least 16 printable characters/);
    expect(message).not.toContain('short');
  });

  it('names a bad listen address and what is expected', () => {
    expect(() => settings({ DSMR_DATALOGGER_HTTP_LISTEN: 'everywhere' })).toThrow(/DSMR_DATALOGGER_HTTP_LISTEN is "everywhere": expected host:port such as 127.0.0.1:7523/);
    expect(() => settings({}, ['--http-listen', '1.2.3.4:99999'])).toThrow(/--http-listen is "1.2.3.4:99999": expected a TCP port from 0 to 65535/);
    expect(() => settings({ DSMR_DATALOGGER_HEALTH_SILENCE: '0' })).toThrow(/DSMR_DATALOGGER_HEALTH_SILENCE is "0"/);
  });
});
