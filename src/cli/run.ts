// `dsmr-datalogger [run]`: composition only. Settings become ports (a source, one output per consumer, the system
// clock, the logger), and the core does the rest.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CommandArgs } from '../config/argv.ts';
import type { Config, ServerConfig } from '../config/config.ts';
import { describeDataDir } from '../config/config.ts';
import { loadConfig } from '../config/load.ts';
import { lockDataDir, prepareDataDir } from '../buffers/data-dir.ts';
import type { StopSignals } from './stop-signals.ts';
import type { Logger } from '../log/logger.ts';
import { createLogger } from '../log/logger.ts';
import { openBacklog, storageId } from '../buffers/server-storage.ts';
import { RejectedFile } from '../buffers/rejected-file.ts';
import { DsmrReaderApi } from '../sinks/dsmr-reader/service.ts';
import type { Source } from '../sources/source.ts';
import { SerialSource } from '../sources/serial.ts';
import { TcpSource } from '../sources/tcp.ts';
import { FileSource } from '../sources/file.ts';
import { Output } from '../outputs/output.ts';
import { Datalogger } from '../core/datalogger.ts';
import { systemClock, type Clock } from '../core/clock.ts';
import { chooseSerialBackend } from '../sources/choose-backend.ts';
import { buildInfo, formatVersion } from './build-info.ts';
import { ensureNativeCachePath } from './native-cache.ts';
import type { Sink } from '../sinks/sink.ts';
import { startStatusEndpoint } from '../status/server.ts';
import { turnOffBufferPool } from '../platform/buffer-pool.ts';

/** The datalogger itself. Resolves with the exit status. */
export async function runDatalogger(args: CommandArgs, env: Record<string, string | undefined>, signals: StopSignals): Promise<number> {
  const { config, unknown } = loadConfig(args, env);
  // A process that runs for months: small Buffers must die young, not pile up in old space (buffer-pool.ts).
  turnOffBufferPool();
  const log = createLogger(config.logLevel);
  const clock = systemClock;
  prepareDataDir(config.dataDir);
  // Two dataloggers on one spool would both replay it: the second one names the first and exits 2.
  lockDataDir(config.dataDir);
  for (const name of unknown) log.warn(`${name} is not a setting this program knows; it is ignored (see --help for the names)`);

  const source = await createSource(config, clock, log);
  const outputs = [
    ...(await dsmrReaderOutputs(config, clock, log)),
    ...(await mqttOutputs(config, clock, log)),
  ];
  const consumers = [...config.servers.map(describeServer), ...config.mqtt.map((m) => `MQTT broker ${m.url}${m.username !== undefined ? ' (with a password)' : ''}`)];
  log.info(`${formatVersion()} starting: input ${source.description}; ${consumers.join(', ')}; data in ${describeDataDir(config)}`);
  if (config.insecure) log.warn('HTTPS certificates are not checked (DSMR_DATALOGGER_INSECURE)');
  if (config.mqtt.some((m) => m.tls && m.insecure)) log.warn('MQTT broker certificates are not checked (DSMR_DATALOGGER_MQTT_INSECURE)');

  const datalogger = new Datalogger({
    source,
    outputs,
    clock,
    log,
    version: buildInfo().version,
    crcCheck: config.crcCheck,
    decryption: { key: config.decryptionKey, aad: config.decryptionAad },
    statsIntervalMs: config.statsIntervalMs,
  });
  signals.onStopSignal((signal) => void datalogger.stop(`${signal} received`, 0));
  datalogger.start();
  // Started after the core, and never waited for: the endpoint must not delay delivery.
  const endpoint = startStatusEndpoint({ config: config.statusEndpoint, snapshot: () => datalogger.status(), clock, log });
  const code = await datalogger.done;
  await endpoint.close();
  return code;
}

async function dsmrReaderOutputs(config: Config, clock: Clock, log: Logger): Promise<Output[]> {
  const ca = config.caFile ? readFileSync(config.caFile) : undefined;
  return Promise.all(
    config.servers.map(async (server) => {
      const sink = await DsmrReaderApi.create(server, { timeoutMs: config.timeoutMs, ca, insecure: config.insecure });
      return output(config, { name: server.host, url: server.url }, sink, config.minIntervalMs, clock, log);
    }),
  );
}

/** mqtt.js is loaded only when a broker is configured: a set-up without MQTT does not carry it. */
async function mqttOutputs(config: Config, clock: Clock, log: Logger): Promise<Output[]> {
  if (config.mqtt.length === 0) return [];
  const { MqttSink } = await import('../sinks/mqtt/sink.ts');
  return Promise.all(config.mqtt.map((broker) => output(config, { name: broker.url, url: broker.url }, new MqttSink(broker, { timeoutMs: config.timeoutMs }), broker.minIntervalMs, clock, log)));
}

/** Every kind of consumer gets the same: its own spool and rejected file under the data directory, named after its address. */
async function output(config: Config, place: { name: string; url: string }, sink: Sink, minIntervalMs: number, clock: Clock, log: Logger): Promise<Output> {
  const backlog = await openBacklog(config, place, log);
  const rejected = new RejectedFile(join(config.dataDir, 'rejected', `${storageId(place.url)}.txt`), log);
  return new Output({ name: place.name, sink, backlog, clock, log, minIntervalMs, setAside: (t, reason) => rejected.add(t, reason) });
}

function describeServer(server: ServerConfig): string {
  const key = server.key;
  const masked = key.length > 8 ? `${key.slice(0, 2)}…${key.slice(-2)}` : '…';
  return `server ${server.host} (key ${masked})`;
}

async function createSource(config: Config, clock: Clock, log: Logger): Promise<Source> {
  const input = config.input;
  if (input.kind === 'network') return new TcpSource({ host: input.host, port: input.port, silenceMs: config.timeoutMs, log, clock });
  if (input.kind === 'file') return new FileSource(input.path, clock);
  const chosen = await chooseSerialBackend(input.backend, () => ensureNativeCachePath(config.dataDir));
  if (chosen.fallback) log.warn(chosen.fallback);
  return new SerialSource({ path: input.path, line: input.line, backend: chosen.backend, backendName: chosen.name, silenceMs: config.timeoutMs, log, clock });
}
