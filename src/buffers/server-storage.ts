import { createHash } from 'node:crypto';
import { join } from 'node:path';
import type { Config, ServerConfig } from '../config/config.ts';
import type { Logger } from '../log/logger.ts';
import type { Backlog } from './outbox.ts';
import { MemoryBacklog } from './memory-backlog.ts';

/** A file-name-safe name per server that stays the same across restarts, so a backlog finds its server again. */
export function serverId(server: ServerConfig): string {
  const url = new URL(server.url);
  const readable = `${url.hostname}-${url.port || (url.protocol === 'https:' ? '443' : '80')}`.replace(/[^A-Za-z0-9.-]/g, '_');
  return `${readable}-${createHash('sha256').update(server.url).digest('hex').slice(0, 8)}`;
}

export async function openBacklog(config: Config, server: ServerConfig, _log: Logger): Promise<Backlog> {
  void join(config.dataDir, 'spool', serverId(server));
  return new MemoryBacklog();
}
