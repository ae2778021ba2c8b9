import { join } from 'node:path';
import type { Config } from '../config/config.ts';
import { ConfigError } from '../config/config-error.ts';
import type { Logger } from '../log/logger.ts';
import { DEFAULT_SPOOL_MAX_BYTES, describeSpoolEvent, Spool, SpoolFormatError } from './spool/index.ts';

const DEFAULT_PORTS: Record<string, string> = { 'http:': '80', 'https:': '443', 'mqtt:': '1883', 'mqtts:': '8883' };

/**
 * A file-name-safe name per consumer (a server's API endpoint, a broker's URL) that stays the same across restarts
 * and releases, so a backlog finds its consumer again.
 */
export function storageId(address: string): string {
  const url = new URL(address);
  const readable = `${url.hostname}-${url.port || DEFAULT_PORTS[url.protocol] || '0'}`.replace(/[^A-Za-z0-9.-]/g, '_');
  return `${readable}-${fnv1a(address)}`;
}

// Tells apart two servers on one host and port (different path prefixes); a plain hash, so that node:crypto is not
// loaded, and kept in memory, by every datalogger for this alone.
function fnv1a(text: string): string {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) hash = Math.imul(hash ^ text.charCodeAt(i), 0x01000193) >>> 0;
  return hash.toString(16).padStart(8, '0');
}

/** The consumer's durable backlog under the data directory; its disk events are logged once per state change. */
export async function openBacklog(config: Config, consumer: { name: string; url: string }, log: Logger): Promise<Spool> {
  const dir = join(config.dataDir, 'spool', storageId(consumer.url));
  try {
    return await Spool.open({
      dir,
      maxBytes: config.spoolMaxBytes ?? DEFAULT_SPOOL_MAX_BYTES,
      onEvent: (event) => {
        const { level, message } = describeSpoolEvent(event);
        log[level](`${consumer.name}: ${message}`);
      },
    });
  } catch (err) {
    if (err instanceof SpoolFormatError) throw new ConfigError(`DSMR_DATALOGGER_DATA_DIR: ${err.message}`);
    throw new ConfigError(`DSMR_DATALOGGER_DATA_DIR: the spool ${dir} cannot be used (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}): expected a directory this user can write`);
  }
}
