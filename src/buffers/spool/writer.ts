// The way in: appended telegrams wait in memory for the next event-loop turn, then go to the active segment in
// order, one positioned write per chunk. While the disk refuses writes (ENOSPC, EIO, ...) they are held in memory,
// up to a limit (the oldest go first, counted, said once), served from there, and retried.
import type { Clock, Timer } from '../../core/clock.ts';
import type { Durability } from './durability.ts';
import type { SpoolReporter } from './events.ts';
import { errorCode, errorMessage, writeFully } from './fs-port.ts';
import { RECORD_HEADER_BYTES, encodeRecord } from './record.ts';
import type { Segment, SegmentSet } from './segment-set.ts';

export interface Held {
  seq: number;
  /** Header and payload, as it will be written. */
  record: Buffer;
  readAt: number;
}

export interface WriterOptions {
  maxBytes: number;
  segmentBytes: number;
  memoryLimitBytes: number;
  retryIntervalMs: number;
}

export class Writer {
  /** Records not yet on disk, oldest first; a write in progress takes the first `writing` of them. */
  private memory: Held[] = [];
  private memoryBytes = 0;
  private writing = 0;
  private diskFailure: string | undefined;
  private droppedWhileFailed = 0;
  private writeTimer: Timer | undefined;
  private retryTimer: Timer | undefined;
  private stopped = false;

  constructor(
    private readonly segments: SegmentSet,
    private readonly durability: Durability,
    private readonly reporter: SpoolReporter,
    private readonly clock: Clock,
    private readonly run: (step: () => Promise<void>) => void,
    private readonly options: WriterOptions,
    private nextSeq: number,
  ) {}

  /** Records only in memory: not written yet, or held while the disk refuses writes. */
  get records(): number {
    return this.memory.length;
  }

  get bytes(): number {
    return this.memoryBytes;
  }

  get failing(): boolean {
    return this.diskFailure !== undefined;
  }

  get oldest(): Held | undefined {
    return this.memory[0];
  }

  append(telegram: Uint8Array, readAt: number): void {
    const record = encodeRecord(telegram, readAt);
    this.memory.push({ seq: this.nextSeq++, record, readAt });
    this.memoryBytes += record.length;
    if (this.diskFailure !== undefined) this.enforceMemoryLimit();
    else this.scheduleWrite();
  }

  /** Up to `max` records in memory numbered `from` or higher, oldest first, with their telegrams as views. */
  pending(from: number, max: number): { seq: number; payload: Buffer; readAt: number }[] {
    const found = [];
    for (const held of this.memory) {
      if (found.length >= max) break;
      if (held.seq >= from) found.push({ seq: held.seq, payload: held.record.subarray(RECORD_HEADER_BYTES), readAt: held.readAt });
    }
    return found;
  }

  /** Everything numbered below `through` is delivered: no need to write it any more. */
  forgetBelow(through: number): void {
    // Acknowledgements and writes take turns on the spool's sequence: no write is in progress here.
    while (this.memory.length > 0 && this.memory[0].seq < through) {
      this.memoryBytes -= this.memory[0].record.length;
      this.memory.shift();
    }
  }

  // Moves records from memory to the active segment, in order, one positioned write per chunk.
  async writeOut(): Promise<void> {
    while (this.memory.length > 0) {
      const first = this.memory[0];
      let active = this.segments.active;
      // A segment holds consecutive numbers only: a gap (records dropped from memory) starts a new one.
      if (active && (active.size >= this.options.segmentBytes || first.seq !== active.firstSeq + active.records)) {
        await this.segments.seal(active);
        active = undefined;
      }
      const room = this.options.segmentBytes - (active?.size ?? 0);
      let count = 0;
      let bytes = 0;
      while (count < this.memory.length) {
        const next = this.memory[count];
        if (next.seq !== first.seq + count) break;
        if (count > 0 && bytes + next.record.length > room) break;
        bytes += next.record.length;
        count += 1;
      }
      await this.segments.makeRoom(bytes);
      if (this.segments.diskBytes + bytes > this.options.maxBytes) {
        // Even an empty spool cannot take these: drop the oldest of them.
        this.dropFromMemory(1, 'size-limit');
        continue;
      }
      if (!(await this.writeChunk(count, bytes))) return;
    }
    if (this.diskFailure !== undefined) {
      this.diskFailure = undefined;
      this.reporter.emit({ type: 'disk-writable', droppedRecords: this.droppedWhileFailed });
      this.droppedWhileFailed = 0;
    }
  }

  private async writeChunk(count: number, bytes: number): Promise<boolean> {
    const chunk = this.memory.slice(0, count);
    this.writing = count;
    let segment = this.segments.active;
    try {
      segment ??= await this.segments.create(chunk[0].seq, chunk[0].readAt);
      const data = count === 1 ? chunk[0].record : Buffer.concat(chunk.map((held) => held.record), bytes);
      await writeFully(segment.writer!, data, segment.size);
    } catch (error) {
      this.writing = 0;
      await this.writeFailed(segment, error);
      return false;
    }
    this.writing = 0;
    this.memory.splice(0, count);
    this.memoryBytes -= bytes;
    segment.size += bytes;
    segment.records += count;
    this.segments.diskBytes += bytes;
    this.durability.written(segment);
    return true;
  }

  private async writeFailed(segment: Segment | undefined, error: unknown): Promise<void> {
    this.reporter.stats.writeErrors += 1;
    if (segment?.writer && !segment.sealed) {
      // Cut off whatever part of the chunk made it, so the segment ends on whole records even if this process
      // dies now. If even that fails, the retry writes the same records at the same offset, over those bytes; a
      // new segment instead would leave them in the old one, and a restart would deliver them twice.
      await segment.writer.truncate(segment.size).catch(() => undefined);
    }
    if (this.diskFailure === undefined) {
      this.diskFailure = errorCode(error);
      this.reporter.emit({ type: 'disk-failed', code: this.diskFailure, message: errorMessage(error), heldRecords: this.memory.length });
    }
    this.enforceMemoryLimit();
    this.scheduleRetry();
  }

  private enforceMemoryLimit(): void {
    // The records of a write in progress are the oldest; should that write fail, the limit is enforced then, so
    // the oldest still go first.
    if (this.writing > 0) return;
    let excess = 0;
    let bytes = this.memoryBytes;
    // Always keep the newest record, however small the limit is set.
    while (bytes > this.options.memoryLimitBytes && excess < this.memory.length - 1) bytes -= this.memory[excess++].record.length;
    if (excess > 0) this.dropFromMemory(excess, 'memory-limit');
  }

  private dropFromMemory(count: number, reason: 'memory-limit' | 'size-limit'): void {
    const dropped = this.memory.splice(0, count);
    for (const held of dropped) this.memoryBytes -= held.record.length;
    this.reporter.stats.droppedFull += count;
    if (reason === 'size-limit') {
      this.reporter.emit({ type: 'dropped-oldest', reason, records: count, file: '(memory)' });
      return;
    }
    if (this.droppedWhileFailed === 0) this.reporter.emit({ type: 'dropped-oldest', reason, records: count });
    this.droppedWhileFailed += count;
  }

  // Appends of one event-loop turn go out together, right after it.
  private scheduleWrite(): void {
    if (this.writeTimer || this.stopped) return;
    this.writeTimer = this.clock.setTimeout(() => {
      this.writeTimer = undefined;
      this.run(() => (this.diskFailure === undefined ? this.writeOut() : Promise.resolve()));
    }, 0);
  }

  private scheduleRetry(): void {
    if (this.retryTimer || this.stopped) return;
    this.retryTimer = this.clock.setTimeout(() => {
      this.retryTimer = undefined;
      this.run(() => this.writeOut());
    }, this.options.retryIntervalMs);
    this.retryTimer.unref?.();
  }

  stop(): void {
    this.stopped = true;
    for (const timer of [this.writeTimer, this.retryTimer]) this.clock.clearTimeout(timer);
    this.writeTimer = this.retryTimer = undefined;
  }
}
