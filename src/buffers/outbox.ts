// One output's queue, in two tiers: memory while the consumer keeps up, the durable backlog from its first failure
// until it has caught up. Healthy operation writes nothing to disk; a consumer that is away loses nothing read.
// Order holds across the tiers: while anything waits in the backlog, new telegrams join it there.
import type { Backlog } from './backlog.ts';

interface Waiting {
  telegram: Buffer;
  readAt: number;
}

/** A consumer that answers, but slower than the meter talks, must not make memory grow. */
export const MEMORY_QUEUE_LIMIT = 100;

export class Outbox {
  private memory: Waiting[] = [];
  private spooling = false;
  private wake: (() => void) | undefined;
  private emptied: (() => void) | undefined;

  constructor(
    private readonly backlog: Backlog,
    private readonly memoryLimit = MEMORY_QUEUE_LIMIT,
  ) {
    // A backlog left by an earlier run goes out first, before anything read now.
    this.spooling = backlog.count > 0;
  }

  get inMemory(): number {
    return this.memory.length;
  }

  get spooled(): number {
    return this.backlog.count;
  }

  get spooledBytes(): number {
    return this.backlog.bytes;
  }

  /** Telegrams waiting, in memory and on disk. */
  get queued(): number {
    return this.memory.length + this.backlog.count;
  }

  /** When the oldest waiting telegram was read: the backlog holds the older ones whenever it holds any. */
  get oldestReadAt(): number | undefined {
    return this.backlog.count > 0 ? (this.backlog.oldestReadAt ?? this.memory[0]?.readAt) : this.memory[0]?.readAt;
  }

  enqueue(telegram: Buffer, readAt: number): void {
    if (this.spooling) this.backlog.append(telegram, readAt);
    else {
      this.memory.push({ telegram, readAt });
      if (this.memory.length > this.memoryLimit) this.spill();
    }
    this.wake?.();
  }

  /** Everything in memory goes to the backlog, and new telegrams follow it there until the consumer has caught up. */
  spill(): void {
    for (const { telegram, readAt } of this.memory) this.backlog.append(telegram, readAt);
    this.memory = [];
    this.spooling = true;
  }

  /**
   * The next telegrams to deliver, oldest first, without removing them: a batch from the backlog while it holds any,
   * else the head of the memory queue. Empty when nothing waits: the consumer has caught up.
   */
  async next(max: number): Promise<Buffer[]> {
    if (this.backlog.count > 0) return this.backlog.readBatch(max);
    if (this.memory.length > 0) return [this.memory[0].telegram];
    this.spooling = false;
    this.emptied?.();
    return [];
  }

  /** The oldest waiting telegram was delivered or set aside. */
  async done(telegram: Buffer): Promise<void> {
    // It may have moved from memory to the backlog while in flight; either way it is the oldest one waiting.
    if (this.memory[0]?.telegram === telegram) this.memory.shift();
    else await this.backlog.ack(1);
  }

  /** Resolves when a telegram waits (at once if one already does), or wakeUp() is called. */
  whenMore(): Promise<void> {
    if (this.queued > 0) return Promise.resolve();
    return new Promise<void>((resolve) => (this.wake = resolve)).finally(() => (this.wake = undefined));
  }

  /**
   * Resolves when nothing waits any more (at once if nothing does): told when the consumer, asking for the next
   * telegrams (next()), finds none left. One waiter at a time.
   */
  whenEmpty(): Promise<void> {
    if (this.queued === 0) return Promise.resolve();
    return new Promise<void>((resolve) => (this.emptied = resolve)).finally(() => (this.emptied = undefined));
  }

  wakeUp(): void {
    this.wake?.();
  }

  flush(): Promise<void> {
    return this.backlog.flush();
  }

  close(): Promise<void> {
    return this.backlog.close();
  }
}
