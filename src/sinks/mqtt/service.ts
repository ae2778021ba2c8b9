// The network side of one MQTT output: one persistent connection to the broker, through mqtt.js, and publishes that
// count only once the broker acknowledged them (QoS 1, PUBACK).
//
// mqtt.js is set up so that it keeps nothing and retries nothing on its own: the output's outbox owns the queue, the
// durable backlog, the order and the retries, for every output kind alike. Left to itself, mqtt.js would
//   - reconnect every second forever (reconnectPeriod), also against a broker that refuses our password, and with
//     no backoff: we reconnect instead when the outbox next asks us to deliver (or probe), which is its backoff;
//   - queue publishes made while offline and re-send unacknowledged ones after a reconnect: copies the outbox knows
//     nothing about, which would reach the broker after telegrams the outbox sent later and break meter order. With
//     reconnectPeriod 0 and a clean session, a connection that drops takes its unacknowledged publishes with it
//     (mqtt.js fails their callbacks), the telegram counts as not delivered, and the outbox sends it again, in order;
//   - queue QoS 0 messages while offline (queueQoSZero): we send none, and it stays off so none could pile up;
//   - hold a copy of each publish until its PUBACK, for those re-sends (its outgoing store): keep-nothing-store.ts.
// A clean session (clean: true) also means the broker keeps no session of ours between connections: we subscribe to
// nothing, and a message whose PUBACK was lost is simply sent again by the outbox (at least once, never lost).
import { createConnection, isIP } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { MqttClient, IClientOptions } from 'mqtt';
import type { DeliveryResult } from '../sink.ts';
import type { MqttConfig } from './config.ts';
import type { Publish } from './encoder.ts';
import { KeepNothingStore } from './keep-nothing-store.ts';

export interface ServiceOptions {
  /** How long a connect, or the acknowledgements of one telegram's publishes, may take. */
  timeoutMs: number;
  availabilityTopic: string;
  /** Extra trusted CAs besides the system's, for mqtts:// (see trust.ts). */
  trusted?: () => Promise<string[]>;
}

/** Seconds between PINGREQs on an idle connection: a broker that vanished without a FIN is noticed within 1.5x this. */
const KEEPALIVE_S = 30;
/** A clean shutdown publishes "offline" and disconnects; a broker that does not answer gets no longer than this. */
const CLOSE_GRACE_MS = 2000;

// CONNACK codes that no retry can fix: MQTT 3.1.1 return codes and their MQTT 5 reason codes.
const REFUSALS: Record<number, string> = {
  1: 'does not speak MQTT 3.1.1 (CONNACK 1)',
  2: 'rejected the client id (CONNACK 2): check DSMR_DATALOGGER_MQTT_CLIENT_ID',
  4: 'refused the user name or password (CONNACK 4): check DSMR_DATALOGGER_MQTT_USERNAME and _PASSWORD',
  5: 'did not authorise this client (CONNACK 5): check the user name, password and the broker\'s ACL',
  0x84: 'does not speak this MQTT version (reason 0x84)',
  0x85: 'rejected the client id (reason 0x85): check DSMR_DATALOGGER_MQTT_CLIENT_ID',
  0x86: 'refused the user name or password (reason 0x86): check DSMR_DATALOGGER_MQTT_USERNAME and _PASSWORD',
  0x87: 'did not authorise this client (reason 0x87): check the user name, password and the broker\'s ACL',
  0x8c: 'refused the authentication method (reason 0x8C)',
};

type Connected = { client: MqttClient; generation: number };

// Within what every broker takes (MQTT 3.1.1 servers may refuse ids past 23 characters; common brokers take 128).
const MAX_CHECK_CLIENT_ID = 128;

export class BrokerConnection {
  private current: Connected | undefined;
  private connecting: Promise<Connected | DeliveryResult> | undefined;
  private generation = 0;
  private closed = false;
  /** The client still waiting for its CONNACK, so that close() can cut a broker that never answers. */
  private opening: MqttClient | undefined;

  constructor(
    private readonly config: MqttConfig,
    private readonly options: ServiceOptions,
  ) {}

  /** The connection, opened if need be: with a new generation number each time, so callers see a reconnect. */
  async connect(): Promise<Connected | DeliveryResult> {
    if (this.current?.client.connected) return this.current;
    this.drop();
    this.connecting ??= this.open().finally(() => (this.connecting = undefined));
    return this.connecting;
  }

  /**
   * Publishes every message in order, and resolves once the broker acknowledged them all. Never throws.
   * One completion for the whole telegram (a counter, not a promise per publish), and one write: mqtt.js corks the
   * socket for the tick, so all of a telegram's packets leave together.
   */
  publishAll(connection: Connected, messages: Publish[]): Promise<DeliveryResult> {
    const { client } = connection;
    return new Promise<DeliveryResult>((resolve) => {
      let left = messages.length;
      let nudgeArmed = false;
      let timer: ReturnType<typeof setTimeout> | undefined = undefined;
      const finish = (result: DeliveryResult) => {
        if (left < 0) return;
        left = -1;
        clearTimeout(timer);
        client.removeListener('close', onClose);
        if (result.outcome !== 'delivered') this.drop();
        resolve(result);
      };
      // A connection that drops leaves mqtt.js's callbacks pending until it is ended: the close decides first.
      const onClose = () => finish({ outcome: 'unavailable', reason: 'connection to the broker lost' });
      // Brokers without TCP_NODELAY (mosquitto's default) send the first PUBACK of a burst and hold the rest behind
      // Nagle until our kernel acknowledges it, which it delays by 40 ms: any packet of ours carries that
      // acknowledgement at once, so a PINGREQ after a read that left PUBACKs outstanding releases them.
      const nudge = () => {
        nudgeArmed = false;
        if (left > 0 && client.connected) client.sendPing();
      };
      const acked = (err?: Error) => {
        if (left <= 0) return;
        if (err) return finish(publishFailure(err));
        if (--left === 0) return finish({ outcome: 'delivered' });
        if (!nudgeArmed) {
          nudgeArmed = true;
          setImmediate(nudge);
        }
      };
      client.once('close', onClose);
      timer = setTimeout(() => finish({ outcome: 'unavailable', reason: `no PUBACK within ${this.options.timeoutMs / 1000} s` }), this.options.timeoutMs);
      if (left === 0) return finish({ outcome: 'delivered' });
      for (const m of messages) {
        if (left < 0) break;
        client.publish(m.topic, m.payload, { qos: 1, retain: m.retain }, acked);
      }
    });
  }

  /** Says "offline" (retained) and disconnects cleanly; a broker that does not answer is cut off. */
  async close(): Promise<void> {
    this.closed = true;
    this.opening?.end(true);
    const current = this.current;
    this.current = undefined;
    if (!current?.client.connected) {
      current?.client.end(true);
      return;
    }
    const { client } = current;
    const goodbye = client
      .publishAsync(this.options.availabilityTopic, 'offline', { qos: 1, retain: true })
      .then(() => client.endAsync(false))
      .catch(() => undefined);
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([goodbye, new Promise((resolve) => (timer = setTimeout(resolve, CLOSE_GRACE_MS)))]);
    clearTimeout(timer);
    client.end(true);
  }

  /** Forgets the connection; ending it forced fails whatever mqtt.js still held, so none of it is sent later. */
  private drop(): void {
    const current = this.current;
    this.current = undefined;
    current?.client.removeAllListeners('close');
    current?.client.end(true);
  }

  private async open(): Promise<Connected | DeliveryResult> {
    if (this.closed) return { outcome: 'unavailable', reason: 'closed' };
    const options = await clientOptions(this.config, this.options);
    let client: MqttClient;
    try {
      client = await connectClient(options);
    } catch (err) {
      return { outcome: 'unavailable', reason: `the MQTT library does not load: ${(err as Error).message}` };
    }
    this.opening = client;
    const outcome = await connackOf(client);
    this.opening = undefined;
    if (outcome || this.closed) {
      client.end(true);
      return outcome ?? { outcome: 'unavailable', reason: 'closed' };
    }
    const connection = { client, generation: ++this.generation };
    // Errors after the CONNACK (a reset, a keep-alive timeout) end in 'close'; publishAll and connect() see that.
    client.on('close', () => {
      if (this.current?.client === client) this.drop();
    });
    this.current = connection;
    const online = await this.publishAll(connection, [{ topic: this.options.availabilityTopic, payload: 'online', retain: true }]);
    return online.outcome === 'delivered' ? connection : online;
  }

}

const ignore = (): void => {};

type BrokerOptions = IClientOptions & { host: string; port: number };

/** The one connection set-up, for delivery and for `check`. */
async function clientOptions(c: MqttConfig, options: ServiceOptions): Promise<BrokerOptions> {
  // mqtt.js sets the TLS server name from the host itself (and leaves it out for an IP address).
  const tls = c.tls ? { ca: await options.trusted?.(), rejectUnauthorized: !c.insecure } : {};
  return {
    protocol: c.tls ? 'mqtts' : 'mqtt',
    host: c.host,
    port: c.port,
    clientId: c.clientId,
    username: c.username,
    password: c.password,
    protocolVersion: 4,
    clean: true,
    keepalive: KEEPALIVE_S,
    reconnectPeriod: 0,
    connectTimeout: options.timeoutMs,
    queueQoSZero: false,
    resubscribe: false,
    // mqtt.js would restart its keep-alive timer at every PUBACK (33 a telegram); a PINGREQ every 30 s on a busy
    // connection costs less.
    reschedulePings: false,
    // Else mqtt-packet builds a Buffer for each of the 65,536 two-byte numbers at the first packet: 6.5 MiB of heap
    // (and every GC walks it), to save one two-byte allocation per packet.
    writeCache: false,
    outgoingStore: new KeepNothingStore(),
    // mqtt.js traces each step of each packet through \`debug\` (a dozen calls a publish, each gathering its
    // arguments into an array even when tracing is off); we never turn that tracing on.
    log: ignore,
    will: { topic: options.availabilityTopic, payload: Buffer.from('offline'), qos: 1, retain: true },
    ...tls,
  };
}
/**
 * mqtt.js's client on a connection of our own: its connect() loads builders for every protocol at the first call,
 * WebSocket, SOCKS and node:tls among them (4 MiB resident, 48 Node modules). Only the client module is bundled
 * (scripts/lib/bundle.mjs), 138 of mqtt.js's 462 KB fewer to parse and keep in a set-up with MQTT.
 */
async function connectClient(options: BrokerOptions): Promise<MqttClient> {
  const Client = await loadClient();
  if (options.protocol !== 'mqtts') return new Client(() => createConnection({ host: options.host, port: options.port }), options);
  const tls = await import('node:tls');
  return new Client((client) => tlsConnection(tls, client, options), options);
}

/**
 * The client class. Its module is CommonJS marked __esModule: the bundle (esbuild) takes its `default` export as the
 * default, Node's and Deno's ES module loaders the whole exports object.
 */
async function loadClient(): Promise<typeof MqttClient> {
  const loaded = (await import('mqtt/lib/client')).default as typeof MqttClient | { default: typeof MqttClient };
  return 'default' in loaded ? loaded.default : loaded;
}

/** What mqtt.js's own mqtts:// builder does, without its SOCKS proxy. */
function tlsConnection(tls: typeof import('node:tls'), client: MqttClient, options: BrokerOptions): TLSSocket {
  const socket = tls.connect({
    host: options.host,
    port: options.port,
    // The server name is for a host name; an IP address is checked against the certificate as it is.
    servername: isIP(options.host) ? undefined : options.host,
    ca: options.ca,
    rejectUnauthorized: options.rejectUnauthorized !== false,
  });
  // Until the handshake is done, its failure (an untrusted certificate) is the client's error, which ends it.
  const failed = (err: Error) => {
    client.emit('error', err);
    socket.end();
  };
  socket.on('error', failed);
  socket.once('secureConnect', () => socket.removeListener('error', failed));
  return socket;
}

/** Resolves at the CONNACK with undefined, or with what stopped the connection. */
function connackOf(client: MqttClient): Promise<DeliveryResult | undefined> {
  return new Promise((resolve) => {
    // mqtt.js emits every error as an event; without a listener, one would crash the process.
    client.on('error', (err) => resolve(connectFailure(err)));
    client.once('connect', () => resolve(undefined));
    client.once('close', () => resolve({ outcome: 'unavailable', reason: 'connection closed before CONNACK' }));
  });
}

/**
 * Connects once and says whether the broker takes us, publishing nothing: under a client id of its own, so that the
 * running datalogger's session is not taken over, and without the last will (no "offline" for a check).
 */
export async function askBroker(config: MqttConfig, options: ServiceOptions): Promise<DeliveryResult> {
  const { will: _will, ...connection } = await clientOptions(config, options);
  const client = await connectClient({ ...connection, clientId: `${config.clientId.slice(0, MAX_CHECK_CLIENT_ID - 6)}-check` });
  const outcome = await connackOf(client);
  client.end(true);
  return outcome ?? { outcome: 'delivered', answer: 'CONNACK 0' };
}

function connectFailure(err: unknown): DeliveryResult {
  const e = err as Error & { code?: number | string };
  if (typeof e.code === 'number' && REFUSALS[e.code]) return { outcome: 'refused', reason: `the broker ${REFUSALS[e.code]}` };
  if (typeof e.code === 'number') return { outcome: 'unavailable', reason: `the broker refused the connection for now (CONNACK ${e.code})` };
  return { outcome: 'unavailable', reason: e.code ? `${e.code}${e.message && !e.message.includes(e.code) ? ` (${e.message})` : ''}` : e.message };
}

function publishFailure(err: unknown): DeliveryResult {
  const e = err as Error & { code?: number };
  // MQTT 5 brokers answer a forbidden publish with PUBACK 0x87; MQTT 3.1.1 ones cannot say so at all.
  if (e.code === 0x87) return { outcome: 'refused', reason: 'the broker does not authorise publishing to these topics (PUBACK 0x87): check its ACL' };
  return { outcome: 'unavailable', reason: e.message || 'publish failed' };
}
