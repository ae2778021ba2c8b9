// `check` for a broker: connect once with the installed settings and say whether it takes us, publishing nothing.
import type { ProbeResult } from '../dsmr-reader/check.ts';
import type { MqttConfig } from './config.ts';
import { askBroker } from './service.ts';
import { topics } from './encoder.ts';

export async function probeBroker(broker: MqttConfig, timeoutMs: number): Promise<ProbeResult> {
  const trusted = async () => (await import('../trust.ts')).trustedCertificates(broker.ca);
  const result = await askBroker(broker, { timeoutMs, availabilityTopic: topics(broker.topicPrefix).availability, trusted });
  const host = `MQTT broker ${broker.url}`;
  if (result.outcome === 'delivered') return { host, outcome: 'ok', message: `connected${broker.username !== undefined ? ' and the user name and password are accepted' : ''}` };
  if (result.outcome === 'refused') return { host, outcome: 'key-rejected', message: result.reason };
  return { host, outcome: 'unreachable', message: `unreachable (${result.reason})` };
}
