import type { Logger } from '../log/logger.ts';
import type { DeliveryResult } from '../sinks/classify.ts';
import type { BackoffPolicy } from '../policy/backoff.ts';
import { backoffDelay, DELIVERY_POLICY, REFUSED_POLICY } from '../policy/backoff.ts';

/** Where a server's telegrams wait while it is away: on disk, so a restart loses nothing (see spool.ts). */
export interface Backlog {
  append(telegram: Buffer): void;
  readonly count: number;
  /** The oldest waiting telegrams, in order, without removing them. */
  readBatch(max: number): Promise<Buffer[]>;
  /** The first n of them were delivered (or set aside). */
  ack(n: number): Promise<void>;
  flush(): Promise<void>;
  close(): Promise<void>;
}

export interface Sink {
  post(telegram: Buffer): Promise<DeliveryResult>;
}

export interface OutboxOptions {
  /** The server, as the user wrote it, for logs. */
  name: string;
  sink: Sink;
  backlog: Backlog;
  log: Logger;
  /** A telegram the server refused for good, with its reason: kept for the user to inspect, never retried. */
  setAside(telegram: Buffer, reason: string): void;
  random?: () => number;
  /** How long to wait after a failure; the defaults suit a real server. */
  retry?: { unavailable: BackoffPolicy; refused: BackoffPolicy };
  now?: () => number;
}

/** What the status endpoint shows of a server's delivery. */
export interface DeliveryState {
  state: ServerState;
  since: number;
  lastAnswer?: string;
  lastAnswerAt?: number;
  lastDeliveredAt?: number;
  inMemory: number;
  /** When the telegrams now waiting began to wait; undefined for a backlog of an earlier run. */
  waitingSince?: number;
}

export interface OutboxStats {
  delivered: number;
  rejected: number;
}

type ServerState = 'up' | 'unavailable' | 'refused';

const REPLAY_BATCH = 256;
const MEMORY_QUEUE_LIMIT = 100;
/** The spool promises that a telegram read while its server is unreachable is written within a second. */
const SLOW_ANSWER_MS = 1000;

/**
 * One server's queue, delivered in meter order, one telegram at a time. While the server answers, telegrams wait in
 * memory only (healthy operation writes nothing to disk); from its first failure until the backlog has drained, they
 * go to the durable backlog, so that order holds and nothing read is lost.
 */
export class Outbox {
  readonly stats: OutboxStats = { delivered: 0, rejected: 0 };
  private memory: Buffer[] = [];
  private spooling = false;
  private state: ServerState = 'up';
  private attempt = 0;
  private lastRejectReason = '';
  private stopping = false;
  /** stop() took what was waiting over to the backlog; a request still in flight must not touch the queues. */
  private handedOver = false;
  private wake: (() => void) | undefined;
  private loop: Promise<void> | undefined;
  private readonly now: () => number;
  private delivery: Omit<DeliveryState, 'state' | 'inMemory'>;

  constructor(private readonly options: OutboxOptions) {
    this.now = options.now ?? Date.now;
    this.delivery = { since: this.now() };
  }

  get deliveryState(): DeliveryState {
    return { ...this.delivery, state: this.state, inMemory: this.memory.length };
  }

  /** Telegrams waiting for this server, in memory and on disk. */
  get queued(): number {
    return this.memory.length + this.options.backlog.count;
  }

  get isUp(): boolean {
    return this.state === 'up';
  }

  start(): void {
    // A backlog left by an earlier run goes out first, before anything read now.
    this.spooling = this.options.backlog.count > 0;
    this.loop = this.run();
  }

  enqueue(telegram: Buffer): void {
    if (this.queued === 0) this.delivery.waitingSince = this.now();
    if (this.spooling) this.options.backlog.append(telegram);
    else {
      this.memory.push(telegram);
      // A server that answers, but slower than the meter talks, must not make memory grow.
      if (this.memory.length > MEMORY_QUEUE_LIMIT) this.moveMemoryToBacklog();
    }
    this.wake?.();
  }

  /** Stops delivering; what was not delivered is written to the backlog. Waits at most graceMs for a request in flight. */
  async stop(graceMs: number): Promise<void> {
    this.stopping = true;
    this.wake?.();
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([this.loop, new Promise<void>((resolve) => (timer = setTimeout(resolve, graceMs)))]);
    clearTimeout(timer);
    this.handedOver = true;
    this.moveMemoryToBacklog();
    await this.options.backlog.flush();
  }

  private async run(): Promise<void> {
    while (!this.stopping) {
      const fromBacklog = this.options.backlog.count > 0;
      const batch = fromBacklog ? await this.options.backlog.readBatch(REPLAY_BATCH) : this.memory.slice(0, 1);
      if (batch.length === 0) {
        this.spooling = false;
        await new Promise<void>((resolve) => (this.wake = resolve));
        this.wake = undefined;
        continue;
      }
      for (const telegram of batch) {
        if (this.stopping) return;
        // A server that takes long to answer may be gone: what the meter sends meanwhile goes to disk, not only memory.
        const slow = setTimeout(() => {
          if (!this.handedOver) this.moveMemoryToBacklog();
        }, SLOW_ANSWER_MS);
        const result = await this.options.sink.post(telegram);
        clearTimeout(slow);
        if (this.handedOver) return;
        this.noteAnswer(result);
        if (result.outcome === 'delivered' || result.outcome === 'rejected') {
          if (result.outcome === 'delivered') this.stats.delivered++;
          else this.reject(telegram, result.reason);
          // It may have moved from memory to the backlog while in flight; either way it is the oldest one waiting.
          if (this.memory[0] === telegram) this.memory.shift();
          else await this.options.backlog.ack(1);
          if (this.queued === 0) this.delivery.waitingSince = undefined;
          this.serverAnswered();
        } else {
          this.moveMemoryToBacklog();
          this.serverFailed(result.outcome, result.reason);
          const retry = this.options.retry ?? { unavailable: DELIVERY_POLICY, refused: REFUSED_POLICY };
          const policy = result.outcome === 'refused' ? retry.refused : retry.unavailable;
          const delay = Math.max(backoffDelay(policy, this.attempt++, this.options.random), result.outcome === 'unavailable' ? (result.retryAfterMs ?? 0) : 0);
          await this.pause(delay);
          break;
        }
      }
    }
  }

  private noteAnswer(result: DeliveryResult): void {
    const at = this.now();
    this.delivery.lastAnswer = result.outcome === 'delivered' ? 'delivered' : result.reason;
    this.delivery.lastAnswerAt = at;
    if (result.outcome === 'delivered') this.delivery.lastDeliveredAt = at;
  }

  private moveMemoryToBacklog(): void {
    for (const telegram of this.memory) this.options.backlog.append(telegram);
    this.memory = [];
    this.spooling = true;
  }

  private reject(telegram: Buffer, reason: string): void {
    this.stats.rejected++;
    this.options.setAside(telegram, reason);
    // A server that cannot parse one telegram usually cannot parse the next either: say it once per reason.
    const log = this.options.log;
    if (reason !== this.lastRejectReason) log.warn(`${this.options.name} rejected a telegram: ${reason}; it is set aside and delivery goes on`);
    else log.debug(`${this.options.name} rejected a telegram: ${reason}`);
    this.lastRejectReason = reason;
  }

  private serverAnswered(): void {
    this.attempt = 0;
    if (this.state !== 'up') {
      this.state = 'up';
      this.delivery.since = this.now();
      this.options.log.info(`${this.options.name} is back; ${this.queued} telegram(s) waiting are being delivered`);
    }
  }

  private serverFailed(state: 'unavailable' | 'refused', reason: string): void {
    if (this.state === state) return;
    this.state = state;
    this.delivery.since = this.now();
    const log = this.options.log;
    if (state === 'refused') log.error(`${this.options.name}: ${reason}; keeping all telegrams and retrying slowly until this is fixed`);
    else log.warn(`${this.options.name} unavailable (${reason}); keeping telegrams and retrying`);
  }

  private pause(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.wake = () => {
        if (this.stopping) done();
      };
    }).finally(() => (this.wake = undefined));
  }
}
