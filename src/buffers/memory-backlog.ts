import type { Backlog } from './outbox.ts';

/** A backlog that does not survive a restart: for tests of the delivery logic, where durability is not the subject. */
export class MemoryBacklog implements Backlog {
  private items: Buffer[] = [];

  get count(): number {
    return this.items.length;
  }

  append(telegram: Buffer): void {
    this.items.push(telegram);
  }

  async readBatch(max: number): Promise<Buffer[]> {
    return this.items.slice(0, max);
  }

  async ack(n: number): Promise<void> {
    this.items.splice(0, n);
  }

  async flush(): Promise<void> {}

  async close(): Promise<void> {}
}
