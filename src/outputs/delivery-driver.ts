// Delivers one output's queue to its sink, one telegram at a time, in meter order: retries with backoff, hands a
// slow answer's followers over to the backlog, sets aside what the consumer refuses for good, and tracks the
// consumer's state so that each change is said once.
import type { Logger } from '../log/logger.ts';
import type { Clock, Timer } from '../core/clock.ts';
import type { OutputState } from '../core/status.ts';
import type { DeliveryResult, Sink } from '../sinks/sink.ts';
import type { Outbox } from '../buffers/outbox.ts';
import type { BackoffPolicy } from '../policy/backoff.ts';
import { backoffDelay, DELIVERY_POLICY, REFUSED_POLICY } from '../policy/backoff.ts';

export interface RetryPolicies {
  unavailable: BackoffPolicy;
  refused: BackoffPolicy;
}

export interface DeliveryDriverOptions {
  /** The output, as the user wrote it, for logs. */
  name: string;
  sink: Sink;
  outbox: Outbox;
  clock: Clock;
  log: Logger;
  /**
   * A telegram the consumer refused for good, with its reason: kept for the user to inspect, never retried. The
   * bytes are valid during the call only (a view of the backlog's batch buffer): copy them to keep them.
   */
  setAside(telegram: Buffer, reason: string): void;
  random?: () => number;
  retry?: RetryPolicies;
}

const REPLAY_BATCH = 32;
/** The spool promises that a telegram read while its consumer is unreachable is written within a second. */
export const SLOW_ANSWER_MS = 1000;
const BACKLOG_RETRY_MS = 5000;

export class DeliveryDriver {
  readonly stats = { delivered: 0, rejected: 0 };
  state: OutputState = 'up';
  since: number;
  lastAnswer: string | undefined;
  lastAnswerAt: number | undefined;
  lastDeliveredAt: number | undefined;

  private attempt = 0;
  private backlogFailing = false;
  private lastRejectReason = '';
  private stopping = false;
  /** stop() took what was waiting over to the backlog; a request still in flight must not touch the queues. */
  private handedOver = false;
  private interruptPause: (() => void) | undefined;
  private loop: Promise<void> | undefined;

  constructor(private readonly options: DeliveryDriverOptions) {
    this.since = options.clock.now();
  }

  start(): void {
    this.loop = this.run();
  }

  /** Stops delivering; waits at most graceMs for a request in flight. The outbox's contents are the caller's after. */
  async stop(graceMs: number): Promise<void> {
    this.stopping = true;
    this.options.outbox.wakeUp();
    this.interruptPause?.();
    let timer: Timer | undefined;
    await Promise.race([this.loop, new Promise<void>((resolve) => (timer = this.options.clock.setTimeout(resolve, graceMs)))]);
    this.options.clock.clearTimeout(timer);
    this.handedOver = true;
  }

  private async run(): Promise<void> {
    const { outbox, clock } = this.options;
    while (!this.stopping) {
      const batch = await this.readNext();
      if (batch === undefined) continue;
      if (batch.length === 0) {
        // stop() may have come while the backlog was read: its wake-up is then gone, so look before waiting.
        if (this.stopping) return;
        await outbox.whenMore();
        continue;
      }
      // A telegram's acknowledgement (a cursor write while replaying) runs beside the next one's post, not before
      // it: a kill meanwhile sends those two again (at least once), and the cursor never passes an undelivered one.
      let acknowledging: Promise<boolean | undefined> | undefined;
      for (const telegram of batch) {
        if (this.stopping) return;
        // A consumer that takes long to answer may be gone: what the meter sends meanwhile goes to disk, not only memory.
        const slow = clock.setTimeout(() => {
          if (!this.handedOver) outbox.spill();
        }, SLOW_ANSWER_MS);
        const result = await this.options.sink.post(telegram);
        clock.clearTimeout(slow);
        if (this.handedOver) return;
        this.noteAnswer(result);
        // If the backlog cannot record one, it goes again later with those after it: at least once, never lost.
        if (acknowledging && !(await acknowledging)) break;
        acknowledging = undefined;
        if (result.outcome === 'delivered' || result.outcome === 'rejected') {
          if (result.outcome === 'delivered') {
            this.stats.delivered++;
            this.lastDeliveredAt = clock.now();
          } else this.reject(telegram, result.reason);
          this.consumerAnswered();
          acknowledging = this.backlogCall(() => outbox.done(telegram).then(() => true));
        } else {
          outbox.spill();
          this.consumerFailed(result.outcome, result.reason);
          await this.pause(this.retryDelay(result));
          break;
        }
      }
      await acknowledging;
    }
  }

  /** The next batch; undefined (after a pause) when the backlog could not be read. */
  private readNext(): Promise<Buffer[] | undefined> {
    return this.backlogCall(() => this.options.outbox.next(REPLAY_BATCH));
  }

  /** A disk that fails a read or an acknowledgement is said once and tried again after a pause (undefined). */
  private async backlogCall<T>(call: () => Promise<T>): Promise<T | undefined> {
    try {
      const value = await call();
      if (this.backlogFailing) {
        this.backlogFailing = false;
        this.options.log.info(`${this.options.name}: the backlog can be read again`);
      }
      return value;
    } catch (err) {
      if (!this.backlogFailing) this.options.log.error(`${this.options.name}: the backlog cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); trying again`);
      this.backlogFailing = true;
      await this.pause(BACKLOG_RETRY_MS);
      return undefined;
    }
  }

  private retryDelay(result: Extract<DeliveryResult, { outcome: 'unavailable' | 'refused' }>): number {
    const retry = this.options.retry ?? { unavailable: DELIVERY_POLICY, refused: REFUSED_POLICY };
    const policy = result.outcome === 'refused' ? retry.refused : retry.unavailable;
    const backoff = backoffDelay(policy, this.attempt++, this.options.random);
    return result.outcome === 'unavailable' ? Math.max(backoff, result.retryAfterMs ?? 0) : backoff;
  }

  private noteAnswer(result: DeliveryResult): void {
    this.lastAnswer = result.outcome === 'delivered' ? (result.answer ?? 'delivered') : result.reason;
    this.lastAnswerAt = this.options.clock.now();
  }

  private reject(telegram: Buffer, reason: string): void {
    this.stats.rejected++;
    this.options.setAside(telegram, reason);
    // A consumer that cannot parse one telegram usually cannot parse the next either: say it once per reason.
    const log = this.options.log;
    if (reason !== this.lastRejectReason) log.warn(`${this.options.name} rejected a telegram: ${reason}; it is set aside and delivery goes on`);
    else log.debug(`${this.options.name} rejected a telegram: ${reason}`);
    this.lastRejectReason = reason;
  }

  private consumerAnswered(): void {
    this.attempt = 0;
    if (this.state !== 'up') {
      this.changeState('up');
      this.options.log.info(`${this.options.name} is back; ${this.options.outbox.queued} telegram(s) waiting are being delivered`);
    }
  }

  private consumerFailed(state: 'unavailable' | 'refused', reason: string): void {
    if (this.state === state) return;
    this.changeState(state);
    const log = this.options.log;
    if (state === 'refused') log.error(`${this.options.name}: ${reason}; keeping all telegrams and retrying slowly until this is fixed`);
    else log.warn(`${this.options.name} unavailable (${reason}); keeping telegrams and retrying`);
  }

  private changeState(state: OutputState): void {
    this.state = state;
    this.since = this.options.clock.now();
  }

  private pause(ms: number): Promise<void> {
    const { clock } = this.options;
    return new Promise<void>((resolve) => {
      const timer = clock.setTimeout(done, ms);
      function done() {
        clock.clearTimeout(timer);
        resolve();
      }
      this.interruptPause = done;
    }).finally(() => (this.interruptPause = undefined));
  }
}
