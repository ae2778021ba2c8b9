// Durable, bounded, append-only spool of telegrams for one server that is not answering.
//
// Layout of `dir`: numbered segment files `0000000001.seg`, ... (records as in record.ts; segment-set.ts), a
// `cursor` file holding the acknowledged position (cursor.ts), and a `FORMAT` file with the format version
// (format.ts). Nothing is created until something is appended or acknowledged, so healthy operation writes nothing.
//
// Crash safety: a record is appended with one positioned write and counts only when its CRC matches, so a kill at
// any moment leaves intact records followed at most by a torn one, which open() skips and counts. The cursor is
// written (to the page cache, which outlives a killed process) within each acknowledgement during a replay, and
// fsynced with the records every few seconds (durability.ts): a kill costs at most the acknowledgement in flight,
// a power cut those of the last fsync interval (duplicates after a crash, never loss: at-least-once).
//
// The unacknowledged records are the segment records from the cursor on, followed by records still in memory
// (not yet written, or held while the disk refuses writes: writer.ts). Every record gets a sequence number in
// memory, so ack() stays exact even when the oldest records were dropped in between.
//
// Parts: fs-port.ts (the file system, real or fake), record.ts, reader.ts, segment-set.ts, writer.ts,
// durability.ts, cursor.ts, format.ts, events.ts; this file puts them in sequence behind the Backlog interface.
import { join } from 'node:path';
import { systemClock, type Clock, type Timer } from '../../core/clock.ts';
import type { Backlog } from '../backlog.ts';
import { CursorFile, readCursor, type CursorPosition } from './cursor.ts';
import { Durability } from './durability.ts';
import { SpoolReporter, type SpoolEvent, type SpoolStats } from './events.ts';
import { nodeFs, type SpoolFs } from './fs-port.ts';
import { readFormat } from './format.ts';
import { RECORD_HEADER_BYTES } from './record.ts';
import { READ_AHEAD_BYTES, type BatchArena } from './reader.ts';
import { SegmentSet, type Segment } from './segment-set.ts';
import { Writer } from './writer.ts';

// 3 days of DSMR 5 at one telegram a second: 3 × 86,400 telegrams × (~900 bytes of telegram + 20 bytes of record
// header) = 238,464,000 bytes ≈ 227 MiB. Real DSMR 5 telegrams in test/fixtures are 780-990 bytes.
export const DEFAULT_SPOOL_MAX_BYTES = 3 * 86_400 * (900 + RECORD_HEADER_BYTES);
export const DEFAULT_SEGMENT_BYTES = 4 * 1024 * 1024;
export const DEFAULT_FSYNC_INTERVAL_MS = 5_000;
// About 5 hours of DSMR 5 telegrams; enough to ride out a full disk someone is cleaning up.
export const DEFAULT_MEMORY_LIMIT_BYTES = 16 * 1024 * 1024;
export const DEFAULT_RETRY_INTERVAL_MS = 5_000;
// A replay delivers thousands of telegrams a second: a cursor written only once a second would, after a kill, send
// all of that second again. Written within each ack(), it costs one 32-byte pwrite per acknowledgement, no fsync.
export const DEFAULT_CURSOR_INTERVAL_MS = 0;
const CURSOR_NAME = 'cursor';

export interface SpoolOptions {
  /** One directory per server (e.g. <dataDir>/spool/<server-id>); created if missing. */
  dir: string;
  /** Bound on the segment files together; when a write would exceed it, whole oldest segments are dropped (counted). */
  maxBytes: number;
  /** Start a new segment file past this size; clamped to maxBytes / 8 so dropping a segment never costs much. */
  segmentBytes?: number;
  /** Batch fsync of written records and of the cursor. */
  fsyncIntervalMs?: number;
  /** While the disk refuses writes (ENOSPC, EIO, ...), hold at most this much in memory; the oldest go first. */
  memoryLimitBytes?: number;
  /** How often to retry writing while the disk refuses writes. */
  retryIntervalMs?: number;
  /** How long acknowledgements may gather before the cursor is written; 0: within each ack(). */
  cursorIntervalMs?: number;
  /** State changes, each reported once: see SpoolEvent and describeSpoolEvent(). */
  onEvent?: (event: SpoolEvent) => void;
  /** The file system; node:fs unless a test gives a fake one. */
  fs?: SpoolFs;
  /** Timers and "now" (the read time of a telegram appended without one). */
  clock?: Clock;
}

interface Located {
  seq: number;
  /** Segment and end offset of the record, or undefined for a record still in memory. */
  segment: Segment | undefined;
  end: number;
  readAt: number | undefined;
  payload?: Buffer;
}

export class Spool implements Backlog {
  private readonly reporter: SpoolReporter;
  private readonly clock: Clock;
  private readonly cursorIntervalMs: number;
  private readonly cursor: CursorFile;
  private readonly durability: Durability;
  private readonly segments: SegmentSet;
  private writer!: Writer;

  /** What the caller last got from readBatch() and has not acknowledged yet (positions only, no payloads). */
  private view: { records: Located[]; acked: number } | undefined;
  /** The buffer replay batches are read into, while there is a backlog on disk. */
  private arena: BatchArena | undefined;
  private cursorPersisted: CursorPosition | undefined;
  private cursorMoved = false;
  private cursorTimer: Timer | undefined;
  private closed = false;

  // All file work runs one step at a time on this chain, so writes, reads and acknowledgements never interleave.
  private chain: Promise<unknown> = Promise.resolve();

  private constructor(
    private readonly opts: SpoolOptions,
    fs: SpoolFs,
    format: number,
    cursorGeneration: number,
  ) {
    if (!(opts.maxBytes > 0)) throw new RangeError(`spool maxBytes must be positive, got ${opts.maxBytes}`);
    this.reporter = new SpoolReporter(opts.onEvent);
    this.clock = opts.clock ?? systemClock;
    this.cursorIntervalMs = opts.cursorIntervalMs ?? DEFAULT_CURSOR_INTERVAL_MS;
    this.cursor = new CursorFile(fs, join(opts.dir, CURSOR_NAME), cursorGeneration, () => this.durability.created());
    const run = (step: () => Promise<void>) => this.background(step);
    this.durability = new Durability(fs, opts.dir, this.cursor, this.clock, opts.fsyncIntervalMs ?? DEFAULT_FSYNC_INTERVAL_MS, this.reporter, run);
    this.segments = new SegmentSet(fs, opts.dir, opts.maxBytes, format, this.durability, this.reporter);
  }

  /**
   * Opens (creating the directory if needed) and walks every segment's record headers (a day's backlog in a
   * fraction of a second, without reading every payload's CRC: that is checked as each record is replayed); a torn
   * tail is cut off, damaged bytes are skipped and counted, at open or when replayed.
   * A directory in a format this release does not know is refused (SpoolFormatError) and left as it is.
   */
  static async open(opts: SpoolOptions): Promise<Spool> {
    const fs = opts.fs ?? nodeFs;
    await fs.mkdir(opts.dir);
    const format = await readFormat(fs, opts.dir);
    const cursorPath = join(opts.dir, CURSOR_NAME);
    const reading = await readCursor(fs, cursorPath);
    const spool = new Spool(opts, fs, format, reading.state === 'valid' ? reading.generation : 0);
    if (reading.state === 'invalid') spool.reporter.emit({ type: 'cursor-invalid', file: cursorPath });
    await spool.load(reading.state === 'valid' ? reading.position : undefined);
    return spool;
  }

  private async load(cursor: CursorPosition | undefined): Promise<void> {
    const nextSeq = await this.segments.load(cursor);
    this.cursorPersisted = cursor;
    const found = this.segments.list.map((segment) => segment.path);
    await this.durability.syncFound(cursor ? [...found, join(this.opts.dir, CURSOR_NAME)] : found);
    const opts = this.opts;
    this.writer = new Writer(this.segments, this.durability, this.reporter, this.clock, (step) => this.background(step), {
      maxBytes: opts.maxBytes,
      segmentBytes: Math.max(1, Math.min(opts.segmentBytes ?? DEFAULT_SEGMENT_BYTES, Math.floor(opts.maxBytes / 8))),
      memoryLimitBytes: opts.memoryLimitBytes ?? DEFAULT_MEMORY_LIMIT_BYTES,
      retryIntervalMs: opts.retryIntervalMs ?? DEFAULT_RETRY_INTERVAL_MS,
    }, nextSeq);
    // The limit may have been lowered since the spool was written.
    await this.segments.makeRoom(0);
  }

  get stats(): SpoolStats {
    return this.reporter.stats;
  }

  /** Records not yet acknowledged, including those only in memory. */
  get count(): number {
    return this.segments.pendingRecords + this.writer.records;
  }

  /** Bytes of the records not yet acknowledged (headers included), on disk and in memory. */
  get bytes(): number {
    return this.segments.diskBytes - this.segments.headOffset + this.writer.bytes;
  }

  /** Epoch ms at which the oldest waiting telegram was read (for a previous release's records: when their file was last written). */
  get oldestReadAt(): number | undefined {
    return this.segments.pendingRecords > 0 ? this.segments.headReadAt : this.writer.oldest?.readAt;
  }

  /** Records that only exist in memory because the disk refuses writes. */
  get heldInMemory(): number {
    return this.writer.failing ? this.writer.records : 0;
  }

  /** Queues a telegram read at `readAt`; it reaches write(2) right after the current event-loop turn. */
  append(telegram: Uint8Array, readAt: number = this.clock.now()): void {
    if (this.closed) throw new Error('spool is closed');
    this.writer.append(telegram, readAt);
  }

  /**
   * The oldest unacknowledged records, in order, without removing them; at most `max`. The telegrams are views
   * into a batch buffer, read from disk in one go and reused by the next readBatch(): they are valid until then
   * (copy one to keep it longer). A batch larger than that buffer continues in fresh ones.
   */
  readBatch(max: number): Promise<Buffer[]> {
    return this.serial(async () => {
      if (!this.writer.failing && this.writer.records > 0) await this.writer.writeOut();
      const records = await this.locate(max, this.batchArena());
      const payloads = records.map((record) => record.payload as Buffer);
      for (const record of records) record.payload = undefined;
      this.view = { records, acked: 0 };
      return payloads;
    });
  }

  /** The first `n` records of the last readBatch() (not yet acknowledged) were delivered. */
  ack(n: number): Promise<void> {
    return this.serial(async () => {
      if (n <= 0) return;
      const view = this.view;
      let last: Located | undefined;
      let next: Located | undefined;
      const inView = view !== undefined && view.acked + n <= view.records.length;
      if (inView) {
        last = view.records[view.acked + n - 1];
        next = view.records[view.acked + n];
      } else {
        this.view = undefined;
        const ahead = await this.locate(n);
        last = ahead[ahead.length - 1];
      }
      if (last) await this.acknowledgeThrough(last, next?.segment ? next.readAt : undefined);
      if (inView) view.acked += n;
    });
  }

  /** Resolves once everything appended so far has reached write(2), or is held because the disk refuses it. */
  drain(): Promise<void> {
    return this.serial(() => (this.writer.failing ? Promise.resolve() : this.writer.writeOut()));
  }

  /** Writes everything pending (one more attempt even if the disk was refusing) and fsyncs it, with the cursor. */
  flush(): Promise<void> {
    return this.serial(async () => {
      await this.writer.writeOut();
      await this.persistCursor();
      await this.durability.syncAll();
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    await this.flush();
    this.closed = true;
    await this.serial(async () => {
      this.writer.stop();
      this.durability.stop();
      this.clock.clearTimeout(this.cursorTimer);
      this.cursorTimer = undefined;
      const unwritten = this.writer.records;
      if (unwritten > 0) this.reporter.emit({ type: 'unwritten-on-close', records: unwritten });
      await this.segments.close();
      await this.cursor.close().catch(() => undefined);
    });
  }

  private batchArena(): BatchArena {
    const arena = (this.arena ??= { buffer: Buffer.allocUnsafe(READ_AHEAD_BYTES), used: 0 });
    arena.used = 0;
    return arena;
  }

  // Finds up to `max` unacknowledged records from the cursor on: segments first, then memory. With an arena, read
  // into it, as far as it holds them.
  private async locate(max: number, arena?: BatchArena): Promise<Located[]> {
    const found: Located[] = [];
    const list = this.segments.list;
    for (let index = 0; index < list.length && found.length < max; index++) {
      const segment = list[index];
      const at = index === 0 ? this.segments.headOffset : 0;
      if (at >= segment.size) continue;
      let seq = index === 0 ? Math.max(this.segments.headSeq, segment.firstSeq) : segment.firstSeq;
      const reader = await this.segments.readerFor(segment);
      let items;
      try {
        items = await reader.readBatch(at, segment.size, max - found.length, segment.bad, arena);
      } catch (error) {
        this.reporter.warnOnce('reading a segment', error);
        throw error;
      }
      for (const item of items) {
        if (item.kind === 'bad') this.segments.noteDamage(segment, item);
        else found.push({ seq: seq++, segment, end: item.end, readAt: item.readAt ?? segment.mtimeMs, payload: item.payload });
      }
    }
    // Caught up with the disk: the batch buffer is not needed until the server is away again.
    if (found.length === 0) this.arena = undefined;
    for (const held of this.writer.pending(this.segments.headSeq, max - found.length)) {
      found.push({ seq: held.seq, segment: undefined, end: 0, readAt: held.readAt, payload: held.payload });
    }
    return found;
  }

  // Everything up to and including `last` is delivered; `nextReadAt` is the read time of the record after it, when known.
  private async acknowledgeThrough(last: Located, nextReadAt: number | undefined): Promise<void> {
    const through = last.seq + 1;
    await this.segments.acknowledgeThrough(through, last.segment ? { segment: last.segment, offset: last.end } : undefined, nextReadAt);
    this.writer.forgetBelow(through);
    this.cursorMoved = true;
    if (this.cursorIntervalMs > 0) this.scheduleCursor();
    else {
      await this.persistCursor();
      this.durability.schedule();
    }
  }

  private scheduleCursor(): void {
    if (this.cursorTimer || this.closed) return;
    this.cursorTimer = this.clock.setTimeout(() => {
      this.cursorTimer = undefined;
      this.background(async () => {
        await this.persistCursor();
        this.durability.schedule();
      });
    }, this.cursorIntervalMs);
    this.cursorTimer.unref?.();
  }

  private async persistCursor(): Promise<void> {
    if (!this.cursorMoved) return;
    const position = this.segments.position;
    this.cursorMoved = false;
    const persisted = this.cursorPersisted;
    if (persisted && persisted.segment === position.segment && persisted.offset === position.offset) return;
    try {
      await this.cursor.write(position);
      this.cursorPersisted = position;
    } catch (error) {
      this.cursorMoved = true;
      this.reporter.warnOnce('updating the acknowledgement cursor', error);
    }
  }

  private serial<T>(step: () => Promise<T>): Promise<T> {
    const result = this.chain.then(step);
    this.chain = result.catch(() => undefined);
    return result;
  }

  // Timer-driven work has no caller to report to; an unexpected failure becomes an event instead of a crash.
  private background(step: () => Promise<void>): void {
    this.serial(async () => {
      if (!this.closed) await step();
    }).catch((error) => this.reporter.warnOnce('background spool work', error));
  }
}
