import type { Backlog } from '../../src/buffers/backlog.ts';

/** A backlog that does not survive a restart: for tests of the delivery logic, where durability is not the subject. */
export class MemoryBacklog implements Backlog {
  readonly stats = { droppedFull: 0, writeErrors: 0 };
  private items: { telegram: Buffer; readAt: number }[] = [];

  get count(): number {
    return this.items.length;
  }

  get bytes(): number {
    return this.items.reduce((sum, item) => sum + item.telegram.length, 0);
  }

  get oldestReadAt(): number | undefined {
    return this.items[0]?.readAt;
  }

  append(telegram: Buffer, readAt: number): void {
    this.items.push({ telegram, readAt });
  }

  async readBatch(max: number): Promise<Buffer[]> {
    return this.items.slice(0, max).map((item) => item.telegram);
  }

  async ack(n: number): Promise<void> {
    this.items.splice(0, n);
  }

  async flush(): Promise<void> {}

  async close(): Promise<void> {}
}
