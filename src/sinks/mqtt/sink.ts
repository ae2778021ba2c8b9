// One MQTT broker as an output: a telegram is delivered once the broker acknowledged every publish made for it.
// The parts, as in Vector's sinks: config.ts (settings), fields.ts + encoder.ts (what a telegram becomes),
// discovery.ts (Home Assistant configs), request building here (which messages one telegram needs on this
// connection), service.ts (the connection), and the outbox that drives it all (queue, spool, retries, order).
import type { DeliveryResult, Sink } from '../sink.ts';
import type { MqttConfig } from './config.ts';
import { DISCOVERY_PREFIX, discoveryConfigs } from './discovery.ts';
import { encodeTelegram, topics, type Publish } from './encoder.ts';
import { readTelegram, type Reading } from './fields.ts';
import { BrokerConnection } from './service.ts';

export interface MqttSinkOptions {
  timeoutMs: number;
}

export class MqttSink implements Sink {
  readonly kind = 'mqtt';
  readonly target: string;
  private readonly connection: BrokerConnection;
  /** Discovery configs the broker acknowledged on the current connection, topic to payload. */
  private discovered = new Map<string, string>();
  /** What the configs acknowledged last were built from (see sensorsOf): the same sensors need no new configs. */
  private discoveredSensors = '';
  private generation = -1;

  constructor(private readonly config: MqttConfig, options: MqttSinkOptions) {
    this.target = config.url;
    this.connection = new BrokerConnection(config, {
      timeoutMs: options.timeoutMs,
      availabilityTopic: topics(config.topicPrefix).availability,
      // TLS costs megabytes; only an mqtts:// broker loads it.
      trusted: async () => (await import('../trust.ts')).trustedCertificates(config.ca),
    });
  }

  async post(telegram: Buffer): Promise<DeliveryResult> {
    const connection = await this.connection.connect();
    if ('outcome' in connection) return connection;
    // A broker restarted without persistence has lost the retained configs: send them again on each connection.
    if (connection.generation !== this.generation) {
      this.generation = connection.generation;
      this.discovered.clear();
      this.discoveredSensors = '';
    }
    const reading = readTelegram(telegram);
    const sensors = this.config.discovery ? sensorsOf(reading) : '';
    const messages = this.buildRequest(telegram, reading, sensors);
    const result = await this.connection.publishAll(connection, messages);
    if (result.outcome === 'delivered' && sensors !== this.discoveredSensors) {
      for (const m of messages) if (m.topic.startsWith(`${DISCOVERY_PREFIX}/`)) this.discovered.set(m.topic, m.payload as string);
      this.discoveredSensors = sensors;
    }
    return result;
  }

  async probe(): Promise<boolean> {
    return !('outcome' in (await this.connection.connect()));
  }

  close(): Promise<void> {
    return this.connection.close();
  }

  /** The discovery configs this telegram adds or changes, then the telegram itself. */
  private buildRequest(telegram: Buffer, reading: Reading, sensors: string): Publish[] {
    const prefix = this.config.topicPrefix;
    const published = encodeTelegram(prefix, telegram, reading);
    // Configs are built only when the sensors differ from those last acknowledged, not for every telegram.
    if (!this.config.discovery || sensors === this.discoveredSensors) return published;
    const discovery = discoveryConfigs(prefix, reading).filter((m) => this.discovered.get(m.topic) !== m.payload);
    return [...discovery, ...published];
  }
}

/** Everything a reading's discovery configs are built from, and nothing that changes with each telegram (the values). */
export function sensorsOf(reading: Reading): string {
  const { meter, mbus, fields } = reading;
  let key = `${meter.id}\t${meter.header}\t${meter.manufacturer}`;
  for (const m of mbus) key += `\n${m.channel}\t${m.medium}\t${m.id}`;
  for (const f of fields) key += `\n${f.name}\t${f.group}\t${f.quantity}\t${f.unit}\t${f.device}\t${f.title}`;
  return key;
}
