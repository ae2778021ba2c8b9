// The outgoing store that keeps nothing, under a real mqtt.js client talking to a scripted broker over an in-memory
// stream: QoS 1 publishes still complete at their PUBACK, and in their order; the client still says 'connect'.
import { describe, expect, it } from 'vitest';
import { Duplex, PassThrough } from 'node:stream';
import mqtt from 'mqtt';
import mqttPacket from 'mqtt-packet';
import { KeepNothingStore } from './keep-nothing-store.ts';

/** A broker that answers CONNECT with CONNACK and each PUBLISH with its PUBACK, once `ackAll` is called. */
function scriptedBroker() {
  const toClient = new PassThrough();
  const fromClient = new PassThrough();
  const parser = mqttPacket.parser({ protocolVersion: 4 });
  const held: number[] = [];
  const published: string[] = [];
  const send = (packet: object) => toClient.write(mqttPacket.generate(packet as mqttPacket.Packet));
  parser.on('packet', (packet: mqttPacket.Packet) => {
    if (packet.cmd === 'connect') send({ cmd: 'connack', returnCode: 0, sessionPresent: false });
    if (packet.cmd === 'publish') {
      published.push(packet.topic);
      held.push(packet.messageId!);
    }
  });
  fromClient.on('data', (chunk: Buffer) => parser.parse(chunk));
  const stream = Duplex.from({ readable: toClient, writable: fromClient });
  return {
    stream,
    published,
    ackAll: () => held.splice(0).forEach((messageId) => send({ cmd: 'puback', messageId })),
  };
}

describe('KeepNothingStore under mqtt.js', () => {
  it('lets QoS 1 publishes complete at their PUBACK, in order, with nothing held meanwhile', async () => {
    const broker = scriptedBroker();
    const store = new KeepNothingStore();
    const client = new mqtt.MqttClient(() => broker.stream, { protocolVersion: 4, clean: true, reconnectPeriod: 0, outgoingStore: store, log: () => {} });
    await new Promise<void>((resolve, reject) => {
      client.once('connect', () => resolve());
      client.once('error', reject);
    });
    const done: string[] = [];
    const topics = ['dsmr/reading/a', 'dsmr/reading/b', 'dsmr/reading/c'];
    const acked = topics.map(
      (topic) => new Promise<void>((resolve, reject) => client.publish(topic, '1', { qos: 1 }, (err) => (err ? reject(err) : (done.push(topic), resolve())))),
    );
    await new Promise((resolve) => setImmediate(resolve));
    expect(broker.published).toEqual(topics);
    expect(done).toEqual([]);
    // mqtt.js's own store would hold a copy of each of the three now.
    expect(Object.keys(store)).toEqual([]);
    broker.ackAll();
    await Promise.all(acked);
    expect(done).toEqual(topics);
    await new Promise<void>((resolve) => client.end(true, {}, () => resolve()));
  });

  it('has nothing to send again after a connect, and nothing to look up', async () => {
    const store = new KeepNothingStore();
    const stream = store.createStream();
    const read: unknown[] = [];
    stream.on('data', (packet: unknown) => read.push(packet));
    await new Promise((resolve) => stream.once('end', resolve));
    expect(read).toEqual([]);
    const looked = await new Promise<Error | undefined>((resolve) => store.get({ messageId: 1 }, (err) => resolve(err)));
    expect(looked?.message).toBe('missing packet');
  });
});
