import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Config, ServerConfig } from '../config/config.ts';
import { ConfigError } from '../config/config-error.ts';
import { loadConfig } from '../config/load.ts';
import type { Logger } from '../log/logger.ts';
import { createLogger } from '../log/logger.ts';
import { Outbox } from '../buffers/outbox.ts';
import { openBacklog, serverId } from '../buffers/server-storage.ts';
import { RejectedFile } from '../buffers/rejected-file.ts';
import { DsmrReaderApi } from '../sinks/dsmr-reader-api.ts';
import { Pipeline } from '../pipeline.ts';
import type { Source } from '../sources/source.ts';
import { SerialSource } from '../sources/serial.ts';
import { TcpSource } from '../sources/tcp.ts';
import { FileSource } from '../sources/file.ts';
import { formatVersion } from './build-info.ts';
import { ensureNativeCachePath } from './native-cache.ts';
import { StatsReporter } from '../log/stats.ts';

/** SIGTERM must end us well within supervisor's stopwaitsecs; a request in flight gets this long to finish. */
const STOP_GRACE_MS = 5000;
const STOP_DEADLINE_MS = 9500;

/** The datalogger itself. Resolves with the exit status. */
export async function runDatalogger(argv: string[], env: Record<string, string | undefined>): Promise<number> {
  const { config, unknown } = loadConfig(argv, env);
  const log = createLogger(config.logLevel);
  prepareDataDir(config);
  for (const name of unknown) log.warn(`${name} is not a setting this program knows; it is ignored (see --help for the names)`);

  const source = await createSource(config, log);
  const ca = config.caFile ? readFileSync(config.caFile) : undefined;
  const apis = await Promise.all(config.servers.map((server) => DsmrReaderApi.create(server, { timeoutMs: config.timeoutMs, ca, insecure: config.insecure })));
  const backlogs = await Promise.all(config.servers.map((server) => openBacklog(config, server, log)));
  const outboxes = config.servers.map((server, i) => {
    const rejected = new RejectedFile(join(config.dataDir, 'rejected', `${serverId(server)}.txt`), log);
    return new Outbox({ name: server.host, sink: apis[i], backlog: backlogs[i], log, setAside: (t, reason) => rejected.add(t, reason) });
  });

  log.info(`${formatVersion()} starting: input ${source.description}; ${config.servers.map(describeServer).join(', ')}; data in ${config.dataDir}`);
  if (config.insecure) log.warn('HTTPS certificates are not checked (DSMR_DATALOGGER_INSECURE)');
  for (const [i, outbox] of outboxes.entries()) {
    if (outbox.queued > 0) log.info(`${config.servers[i].host}: ${outbox.queued} telegram(s) from an earlier run go out first`);
    outbox.start();
  }

  return new Promise<number>((resolve) => {
    let stopping = false;
    let firstTelegramSeen = false;
    const stats = new StatsReporter(log, config.statsIntervalMs, () => ({ pipeline: pipeline.stats, framer: pipeline.framer.stats, servers: config.servers.map((s, i) => ({ name: s.host, outbox: outboxes[i] })) }));
    const stop = async (why: string, code: number) => {
      if (stopping) return;
      stopping = true;
      log.info(`${why}: stopping`);
      // Whatever happens below, exit before supervisor would reach for SIGKILL.
      setTimeout(() => resolve(code), STOP_DEADLINE_MS).unref();
      stats.stop();
      await source.stop();
      pipeline.stop();
      await Promise.all(outboxes.map((o) => o.stop(STOP_GRACE_MS)));
      await Promise.all(backlogs.map((b) => b.close()));
      for (const api of apis) api.close();
      const waiting = outboxes.reduce((n, o) => n + o.queued, 0);
      log.info(`stopped${waiting ? `; ${waiting} telegram(s) kept for the next start` : ''}`);
      resolve(code);
    };
    const pipeline = new Pipeline({
      source,
      outboxes,
      crcCheck: config.crcCheck,
      minIntervalMs: config.minIntervalMs,
      log,
      decryption: { key: config.decryptionKey, aad: config.decryptionAad },
      onValidTelegram: () => {
        // install.sh's set-up check waits for this line: proof that the meter, the port and its settings work.
        if (!firstTelegramSeen) log.info(`first telegram read from ${source.description}`);
        firstTelegramSeen = true;
        if (source instanceof SerialSource) source.confirmLine();
      },
      onEnd: () => void drainThenStop(),
      onFailure: (err) => {
        log.error(err.message);
        void stop('input failed', 1);
      },
    });
    const drainThenStop = async () => {
      const waiting = () => outboxes.reduce((n, o) => n + o.queued, 0);
      if (waiting() > 0) log.info(`input ended; waiting until ${waiting()} telegram(s) are delivered`);
      while (waiting() > 0 && !stopping) await new Promise((r) => setTimeout(r, 100));
      await stop('input ended, everything delivered', 0);
    };
    process.once('SIGTERM', () => void stop('SIGTERM received', 0));
    process.once('SIGINT', () => void stop('SIGINT received', 0));
    pipeline.start();
    stats.start();
  });
}

function describeServer(server: ServerConfig): string {
  const key = server.key;
  const masked = key.length > 8 ? `${key.slice(0, 2)}…${key.slice(-2)}` : '…';
  return `server ${server.host} (key ${masked})`;
}

function prepareDataDir(config: Config): void {
  try {
    mkdirSync(config.dataDir, { recursive: true });
  } catch (err) {
    throw new ConfigError(`DSMR_DATALOGGER_DATA_DIR is "${config.dataDir}", which cannot be created (${(err as NodeJS.ErrnoException).code}): expected a directory this user can write`);
  }
}

async function createSource(config: Config, log: Logger): Promise<Source> {
  const input = config.input;
  if (input.kind === 'network') return new TcpSource({ host: input.host, port: input.port, silenceMs: config.timeoutMs, log });
  if (input.kind === 'file') return new FileSource(input.path);
  const underDeno = 'Deno' in globalThis;
  const useStty = input.backend === 'stty' || (input.backend === 'auto' && underDeno);
  if (useStty) {
    const { sttyBackend } = await import('../sources/serial-stty.ts');
    return new SerialSource({ path: input.path, line: input.line, backend: sttyBackend, backendName: 'stty', log });
  }
  ensureNativeCachePath(config.dataDir);
  if (input.backend === 'auto' && !(await nativeAddonLoads(log))) {
    const { sttyBackend } = await import('../sources/serial-stty.ts');
    return new SerialSource({ path: input.path, line: input.line, backend: sttyBackend, backendName: 'stty', log });
  }
  const { nativeBackend } = await import('../sources/serial-native.ts');
  return new SerialSource({ path: input.path, line: input.line, backend: nativeBackend, backendName: 'serialport', log });
}

// A platform without a prebuilt serialport addon (an unusual ARM board, a musl system) still has stty: use it rather
// than retry an open that can never work.
async function nativeAddonLoads(log: Logger): Promise<boolean> {
  try {
    await import('serialport');
    return true;
  } catch (err) {
    log.warn(`serialport's native addon does not load here (${(err as Error).message.split('\n')[0]}); reading the serial port through stty instead`);
    return false;
  }
}
