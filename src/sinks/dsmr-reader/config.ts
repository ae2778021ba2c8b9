// The DSMR-reader outputs' settings, validated at start: every mistake is one line naming the setting (exit 2).
import { ConfigError } from '../../config/config-error.ts';
import { fail, missing, splitList } from '../../config/config.ts';
import type { RawSettings } from '../../config/settings.ts';
import { SETTINGS } from '../../config/settings.ts';

export interface ServerConfig {
  /** scheme://host[:port][/prefix] as the user wrote it, for logs. */
  host: string;
  /** The full API endpoint telegrams are posted to. */
  url: string;
  key: string;
}

export const API_PATH = '/api/v1/datalogger/dsmrreading';

/** Every server named in DSMRREADER_REMOTE_DATALOGGER_API_HOSTS, each with its key; [] when none is. */
export function parseDsmrReaderServers(raw: RawSettings): ServerConfig[] {
  if (!raw.apiHosts) {
    if (raw.apiKeys) missing('apiHosts', `${raw.apiKeys.origin} is set: name its DSMR-reader server, e.g. http://dsmr.local`);
    return [];
  }
  if (!raw.apiKeys) missing('apiKeys', `give one API key per host in ${SETTINGS.apiHosts.env} (DSMR-reader: Configuration > API)`);
  const hosts = splitList(raw.apiHosts.value);
  const keys = splitList(raw.apiKeys.value);
  if (hosts.length === 0) fail(raw.apiHosts, 'a comma-separated list of server addresses such as http://dsmr.local');
  if (keys.length !== hosts.length) {
    throw new ConfigError(`${raw.apiKeys.origin} has ${keys.length} key(s) but ${raw.apiHosts.origin} has ${hosts.length} host(s): give exactly one API key per host, in the same order`);
  }
  return hosts.map((host, i) => {
    const shown = { value: withoutPassword(host), origin: raw.apiHosts!.origin };
    let url: URL;
    try {
      url = new URL(host);
    } catch {
      return fail(shown, 'scheme://host[:port], e.g. http://dsmr.local or https://192.168.1.10:8443');
    }
    if ((url.protocol !== 'http:' && url.protocol !== 'https:') || url.search || url.hash || url.username || url.password) {
      fail(shown, 'an http:// or https:// address without query, fragment or credentials');
    }
    // The API path is appended, as DSMR-reader's own datalogger does; a host given with the full path is taken as it is.
    let prefix = url.pathname.replace(/\/+$/, '');
    if (prefix.endsWith(API_PATH)) prefix = prefix.slice(0, -API_PATH.length);
    if (!/^[\x21-\x7e]+$/.test(keys[i])) fail({ value: '(hidden)', origin: raw.apiKeys!.origin }, `key ${i + 1} without spaces or control characters`);
    return { host: `${url.origin}${prefix}`, url: `${url.origin}${prefix}${API_PATH}`, key: keys[i] };
  });
}

/** A host as the user wrote it, with any password in it replaced, for an error line. */
function withoutPassword(host: string): string {
  return host.replace(/^([^/?#]*\/\/[^/?#@]*?:)[^/?#]*@/, '$1(hidden)@');
}
