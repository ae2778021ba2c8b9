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
import { MinimumInterval } from '../transforms/min-interval.ts';
import type { Sink } from '../sinks/sink.ts';

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
  const mqtt = await createMqttOutputs(config, log);
  const allOutboxes = [...outboxes, ...mqtt.outboxes];

  const outputs = [...config.servers.map(describeServer), ...config.mqtt.map((m) => `MQTT broker ${m.url}${m.username !== undefined ? ' (with a password)' : ''}`)];
  log.info(`${formatVersion()} starting: input ${source.description}; ${outputs.join(', ')}; data in ${config.dataDir}`);
  if (config.insecure) log.warn('HTTPS certificates are not checked (DSMR_DATALOGGER_INSECURE)');
  if (config.mqtt.some((m) => m.tls && m.insecure)) log.warn('MQTT broker certificates are not checked (DSMR_DATALOGGER_MQTT_INSECURE)');
  const names = [...config.servers.map((s) => s.host), ...config.mqtt.map((m) => m.url)];
  for (const [i, outbox] of allOutboxes.entries()) {
    if (outbox.queued > 0) log.info(`${names[i]}: ${outbox.queued} telegram(s) from an earlier run go out first`);
    outbox.start();
  }

  return new Promise<number>((resolve) => {
    let stopping = false;
    const stats = new StatsReporter(log, config.statsIntervalMs, () => ({ pipeline: pipeline.stats, framer: pipeline.framer.stats, servers: names.map((name, i) => ({ name, outbox: allOutboxes[i] })) }));
    const stop = async (why: string, code: number) => {
      if (stopping) return;
      stopping = true;
      log.info(`${why}: stopping`);
      // Whatever happens below, exit before supervisor would reach for SIGKILL.
      setTimeout(() => resolve(code), STOP_DEADLINE_MS).unref();
      stats.stop();
      await source.stop();
      pipeline.stop();
      await Promise.all(allOutboxes.map((o) => o.stop(STOP_GRACE_MS)));
      await Promise.all([...backlogs, ...mqtt.backlogs].map((b) => b.close()));
      for (const api of apis) api.close();
      await Promise.all(mqtt.sinks.map((sink) => sink.close()));
      const waiting = allOutboxes.reduce((n, o) => n + o.queued, 0);
      log.info(`stopped${waiting ? `; ${waiting} telegram(s) kept for the next start` : ''}`);
      resolve(code);
    };
    const pipeline = new Pipeline({
      source,
      // SLEEP paces the DSMR-reader servers only; each MQTT broker has its own DSMR_DATALOGGER_MQTT_INTERVAL.
      outboxes: [
        paced(outboxes, config.minIntervalMs, () => pipeline.stats.skippedByInterval++),
        ...mqtt.outboxes.map((o, i) => paced([o], config.mqtt[i].minIntervalMs, () => {})),
      ],
      crcCheck: config.crcCheck,
      minIntervalMs: 0,
      log,
      decryption: { key: config.decryptionKey, aad: config.decryptionAad },
      onValidTelegram: () => (source instanceof SerialSource ? source.confirmLine() : undefined),
      onEnd: () => void drainThenStop(),
      onFailure: (err) => {
        log.error(err.message);
        void stop('input failed', 1);
      },
    });
    const drainThenStop = async () => {
      const waiting = () => allOutboxes.reduce((n, o) => n + o.queued, 0);
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

/** Outputs that share a minimum interval between telegrams. */
function paced(outboxes: Outbox[], intervalMs: number, skipped: () => void): Pick<Outbox, 'enqueue'> {
  const interval = new MinimumInterval(intervalMs);
  return {
    enqueue(telegram) {
      if (!interval.admit(Date.now())) return skipped();
      for (const outbox of outboxes) outbox.enqueue(telegram);
    },
  };
}

/**
 * Each MQTT broker as one more outbox with a spool of its own, beside the DSMR-reader ones. mqtt.js and the MQTT
 * code are loaded only when a broker is configured, so a datalogger without MQTT neither grows nor starts slower.
 */
async function createMqttOutputs(config: Config, log: Logger): Promise<{ sinks: Sink[]; backlogs: Awaited<ReturnType<typeof openBacklog>>[]; outboxes: Outbox[] }> {
  if (config.mqtt.length === 0) return { sinks: [], backlogs: [], outboxes: [] };
  const { MqttSink } = await import('../sinks/mqtt/sink.ts');
  const sinks = config.mqtt.map((broker) => new MqttSink(broker, { timeoutMs: config.timeoutMs }));
  // The spool is named after the broker's address, as a server's is after its URL; MQTT has no API key.
  const places = config.mqtt.map((broker) => ({ host: broker.url, url: broker.url, key: '' }));
  const backlogs = await Promise.all(places.map((place) => openBacklog(config, place, log)));
  const outboxes = places.map((place, i) => {
    const rejected = new RejectedFile(join(config.dataDir, 'rejected', `${serverId(place)}.txt`), log);
    return new Outbox({ name: place.host, sink: sinks[i], backlog: backlogs[i], log, setAside: (t, reason) => rejected.add(t, reason) });
  });
  return { sinks, backlogs, outboxes };
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
