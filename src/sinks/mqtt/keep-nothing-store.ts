// mqtt.js's outgoing store, for a client that keeps nothing (service.ts): its default store holds a deep copy of
// every QoS 1 publish until the PUBACK, for re-sending after a reconnect, which this client never does (a clean
// session, no reconnect, a new client per connection; the outbox sends an unacknowledged telegram again).
// Those copies and the Map that held them outlived young-generation collections while their PUBACKs were on the
// way, so old space filled with them at 33 publishes a telegram: the MQTT set-up's peak was 8 MiB higher for it
// (docs/BENCHMARK.md). mqtt.js still makes the copy; it is garbage at once.
import { Readable } from 'node:stream';
import type { IStore } from 'mqtt';

type Packet = Parameters<IStore['put']>[0];
type Done = Parameters<IStore['put']>[1];
type PacketDone = Parameters<IStore['del']>[1];

export class KeepNothingStore implements IStore {
  put(_packet: Packet, done: Done): this {
    done();
    return this;
  }

  /**
   * Nothing to send again after a connect: mqtt.js emits 'connect' once this stream ends. It is typed as
   * readable-stream's Readable, whose read(), events and destroy() node:stream's has too.
   */
  createStream(): ReturnType<IStore['createStream']> {
    const empty = new Readable({ objectMode: true, read: () => undefined });
    empty.push(null);
    return empty as unknown as ReturnType<IStore['createStream']>;
  }

  /** At the PUBACK: mqtt.js completes the publish once the store says it let the packet go. */
  del(packet: Pick<Packet, 'messageId'>, done: PacketDone): this {
    done(undefined, packet as Packet);
    return this;
  }

  /** Asked only for QoS 2 (PUBREC) and incoming QoS 2, neither of which this client uses. */
  get(_packet: Pick<Packet, 'messageId'>, done: PacketDone): this {
    done(new Error('missing packet'));
    return this;
  }

  close(done: Done): void {
    done();
  }
}
