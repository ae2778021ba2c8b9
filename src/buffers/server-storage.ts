import { join } from 'node:path';
import type { Config, ServerConfig } from '../config/config.ts';
import { ConfigError } from '../config/config-error.ts';
import type { Logger } from '../log/logger.ts';
import { DEFAULT_SPOOL_MAX_BYTES, describeSpoolEvent, Spool, SpoolFormatError } from './spool/index.ts';

/** A file-name-safe name per server that stays the same across restarts, so a backlog finds its server again. */
export function serverId(server: ServerConfig): string {
  const url = new URL(server.url);
  const readable = `${url.hostname}-${url.port || (url.protocol === 'https:' ? '443' : '80')}`.replace(/[^A-Za-z0-9.-]/g, '_');
  return `${readable}-${fnv1a(server.url)}`;
}

// Tells apart two servers on one host and port (different path prefixes); a plain hash, so that node:crypto is not
// loaded, and kept in memory, by every datalogger for this alone.
function fnv1a(text: string): string {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) hash = Math.imul(hash ^ text.charCodeAt(i), 0x01000193) >>> 0;
  return hash.toString(16).padStart(8, '0');
}

/** The server's durable backlog under the data directory; its disk events are logged once per state change. */
export async function openBacklog(config: Config, server: ServerConfig, log: Logger): Promise<Spool> {
  const dir = join(config.dataDir, 'spool', serverId(server));
  try {
    return await Spool.open({
      dir,
      maxBytes: config.spoolMaxBytes ?? DEFAULT_SPOOL_MAX_BYTES,
      onEvent: (event) => {
        const { level, message } = describeSpoolEvent(event);
        log[level](`${server.host}: ${message}`);
      },
    });
  } catch (err) {
    if (err instanceof SpoolFormatError) throw new ConfigError(`DSMR_DATALOGGER_DATA_DIR: ${err.message}`);
    throw new ConfigError(`DSMR_DATALOGGER_DATA_DIR: the spool ${dir} cannot be used (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}): expected a directory this user can write`);
  }
}
