// One MQTT broker as an output: a telegram is delivered once the broker acknowledged every publish made for it.
// The parts, as in Vector's sinks: config.ts (settings), fields.ts + encoder.ts (what a telegram becomes),
// discovery.ts (Home Assistant configs), request building here (which messages one telegram needs on this
// connection), service.ts (the connection), and the outbox that drives it all (queue, spool, retries, order).
import type { DeliveryResult, Sink } from '../sink.ts';
import type { MqttConfig } from './config.ts';
import { DISCOVERY_PREFIX, discoveryConfigs } from './discovery.ts';
import { encodeTelegram, topics, type Publish } from './encoder.ts';
import { readTelegram } from './fields.ts';
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
    }
    const messages = this.buildRequest(telegram);
    const result = await this.connection.publishAll(connection, messages);
    if (result.outcome === 'delivered') for (const m of messages) if (m.topic.startsWith(`${DISCOVERY_PREFIX}/`)) this.discovered.set(m.topic, m.payload as string);
    return result;
  }

  async probe(): Promise<boolean> {
    return !('outcome' in (await this.connection.connect()));
  }

  close(): Promise<void> {
    return this.connection.close();
  }

  /** The discovery configs this telegram adds or changes, then the telegram itself. */
  private buildRequest(telegram: Buffer): Publish[] {
    const reading = readTelegram(telegram);
    const prefix = this.config.topicPrefix;
    const discovery = this.config.discovery ? discoveryConfigs(prefix, reading).filter((m) => this.discovered.get(m.topic) !== m.payload) : [];
    return [...discovery, ...encodeTelegram(prefix, telegram, reading)];
  }
}
