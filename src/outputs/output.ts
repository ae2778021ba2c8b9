// One consumer of telegrams (a DSMR-reader server, an MQTT broker): its own pace, its own queue and backlog, its own
// delivery. Outputs never wait for each other; a new kind of output is a new Sink, nothing else.
import type { Logger } from '../log/logger.ts';
import type { Clock } from '../core/clock.ts';
import type { OutputStatus } from '../core/status.ts';
import type { Sink } from '../sinks/sink.ts';
import type { Backlog } from '../buffers/backlog.ts';
import { Outbox } from '../buffers/outbox.ts';
import { MinimumInterval } from '../transforms/min-interval.ts';
import { DeliveryDriver, type RetryPolicies } from './delivery-driver.ts';

export interface OutputOptions {
  /** Stable label: the output's address as the user wrote it (secrets masked). */
  name: string;
  sink: Sink;
  backlog: Backlog;
  clock: Clock;
  log: Logger;
  /** Minimum time between telegrams this output takes (DSMR-reader's SLEEP, MQTT's interval); 0 takes each. */
  minIntervalMs: number;
  setAside(telegram: Buffer, reason: string): void;
  retry?: RetryPolicies;
  random?: () => number;
  memoryLimit?: number;
}

export class Output {
  readonly name: string;
  private readonly outbox: Outbox;
  private readonly driver: DeliveryDriver;
  private readonly interval: MinimumInterval;
  private skippedByInterval = 0;

  constructor(private readonly options: OutputOptions) {
    this.name = options.name;
    this.outbox = new Outbox(options.backlog, options.memoryLimit);
    this.interval = new MinimumInterval(options.minIntervalMs);
    this.driver = new DeliveryDriver({ ...options, outbox: this.outbox });
  }

  /** Telegrams waiting, in memory and on disk. */
  get queued(): number {
    return this.outbox.queued;
  }

  /** Resolves once nothing waits to be delivered (at once if nothing does). One waiter at a time. */
  whenDrained(): Promise<void> {
    return this.outbox.whenEmpty();
  }

  start(): void {
    if (this.outbox.spooled > 0) this.options.log.info(`${this.name}: ${this.outbox.spooled} telegram(s) from an earlier run go out first`);
    this.driver.start();
  }

  /** A checked telegram, read at readAt. */
  offer(telegram: Buffer, readAt: number): void {
    if (!this.interval.admit(readAt)) {
      this.skippedByInterval++;
      return;
    }
    this.outbox.enqueue(telegram, readAt);
  }

  /** Stops delivering; what was not delivered is written to the backlog. Waits at most graceMs for a request in flight. */
  async stop(graceMs: number): Promise<void> {
    await this.driver.stop(graceMs);
    this.outbox.spill();
    await this.outbox.flush();
  }

  async close(): Promise<void> {
    await this.outbox.close();
    await this.options.sink.close();
  }

  status(): OutputStatus {
    const { driver, outbox, options } = this;
    return {
      name: this.name,
      kind: options.sink.kind,
      target: options.sink.target,
      state: driver.state,
      since: driver.since,
      lastAnswer: driver.lastAnswer,
      lastAnswerAt: driver.lastAnswerAt,
      lastDeliveredAt: driver.lastDeliveredAt,
      queuedInMemory: outbox.inMemory,
      spooledTelegrams: outbox.spooled,
      spooledBytes: outbox.spooledBytes,
      oldestWaitingAt: outbox.oldestReadAt,
      delivered: driver.stats.delivered,
      rejected: driver.stats.rejected,
      skippedByInterval: this.skippedByInterval,
      droppedSpoolFull: options.backlog.stats.droppedFull,
      spoolWriteErrors: options.backlog.stats.writeErrors,
    };
  }
}
