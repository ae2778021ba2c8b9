// Durable, bounded, append-only spool of telegrams for one server that is not answering.
//
// Layout of `dir`: numbered segment files `0000000001.seg`, ... (records as in spool-record.ts) and a `cursor`
// file (spool-cursor.ts) holding the acknowledged position. Segments are never rewritten: new records go to the
// newest segment (a fresh one after every open), acknowledged ones are forgotten by moving the cursor, and a
// segment is unlinked once all its records are acknowledged. Nothing is created until something is appended or
// acknowledged, so healthy operation writes nothing.
//
// Crash safety: a record is appended with one positioned write and counts only when its CRC matches, so a kill at
// any moment leaves intact records followed at most by a torn one, which open() skips and counts. The cursor is
// written (to the page cache, which outlives a killed process) as soon as acknowledgements come in, and fsynced with
// the records: a kill costs at most the acknowledgement in flight, a power cut those of the last fsync interval
// (duplicates after a crash, never loss: at-least-once).
//
// Every record gets a sequence number in memory (not on disk); the unacknowledged records are the segment records
// from the cursor on, followed by records still in memory (not yet written, or held while the disk refuses
// writes). Sequence numbers let ack() stay exact even when the oldest records were dropped in between.
import * as fs from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { clearTimeout, setImmediate, setTimeout } from 'node:timers';
import { CursorFile, readCursor, type CursorPosition } from './spool-cursor.ts';
import type { SpoolEvent } from './spool-events.ts';
import { SegmentReader, type BadRange } from './spool-reader.ts';
import { RECORD_HEADER_BYTES, encodeRecord } from './spool-record.ts';

export type { SpoolEvent } from './spool-events.ts';
export { describeSpoolEvent } from './spool-events.ts';

// 3 days of DSMR 5 at one telegram a second: 3 × 86,400 telegrams × (~900 bytes of telegram + 12 bytes of record
// header) = 236,390,400 bytes ≈ 225 MiB. Real DSMR 5 telegrams in test/fixtures are 780-990 bytes.
export const DEFAULT_SPOOL_MAX_BYTES = 3 * 86_400 * (900 + RECORD_HEADER_BYTES);
export const DEFAULT_SEGMENT_BYTES = 4 * 1024 * 1024;
export const DEFAULT_FSYNC_INTERVAL_MS = 5_000;
// About 5 hours of DSMR 5 telegrams; enough to ride out a full disk someone is cleaning up.
export const DEFAULT_MEMORY_LIMIT_BYTES = 16 * 1024 * 1024;
export const DEFAULT_RETRY_INTERVAL_MS = 5_000;
// A replay delivers thousands of telegrams a second: a cursor written only once a second would, after a kill, send
// all of that second again. Writing it right away costs one 32-byte pwrite per event-loop turn, no extra fsync.
export const DEFAULT_CURSOR_INTERVAL_MS = 0;

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
  /** How long acknowledgements may gather before the cursor is written (fsync is batched separately). */
  cursorIntervalMs?: number;
  /** State changes, each reported once: see SpoolEvent and describeSpoolEvent(). */
  onEvent?: (event: SpoolEvent) => void;
}

export interface SpoolStats {
  /** Damaged regions skipped (each held at least one record: a torn tail after a crash, or corruption). */
  corruptSkipped: number;
  /** Records dropped because of the size limit or, while the disk refused writes, the memory limit. */
  droppedOldest: number;
  /** The same as droppedOldest, by the name the Backlog interface reports it under. */
  readonly droppedFull: number;
  /** Failed attempts to write records (each is retried; records are only lost through droppedOldest). */
  writeErrors: number;
}

interface Segment {
  id: number;
  path: string;
  /** Bytes known written: the end of the last record this process wrote, or the file size found at open. */
  size: number;
  /** Sequence number of the first record; the records of one segment have consecutive numbers. */
  firstSeq: number;
  records: number;
  /** Damaged ranges found at open, skipped when reading. */
  bad: BadRange[];
  /** Write handle of the active segment, kept after sealing until its data is fsynced. */
  writer: FileHandle | undefined;
  sealed: boolean;
}

interface Held {
  seq: number;
  /** Header and payload, as it will be written. */
  record: Buffer;
}

interface Located {
  seq: number;
  /** Segment and end offset of the record, or undefined for a record still in memory. */
  segment: Segment | undefined;
  end: number;
  payload?: Buffer;
}

const SEGMENT_NAME = /^(\d{10,})\.seg$/;
const CURSOR_NAME = 'cursor';
const MAX_OPEN_READERS = 2;

function segmentName(id: number): string {
  return `${String(id).padStart(10, '0')}.seg`;
}

function errorCode(error: unknown): string {
  return (error as NodeJS.ErrnoException)?.code ?? 'EUNKNOWN';
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

export class Spool {
  readonly stats: SpoolStats = {
    corruptSkipped: 0,
    droppedOldest: 0,
    writeErrors: 0,
    get droppedFull() {
      return this.droppedOldest;
    },
  };

  private readonly dir: string;
  private readonly maxBytes: number;
  private readonly segmentBytes: number;
  private readonly fsyncIntervalMs: number;
  private readonly memoryLimitBytes: number;
  private readonly retryIntervalMs: number;
  private readonly cursorIntervalMs: number;
  private readonly onEvent: (event: SpoolEvent) => void;

  private segments: Segment[] = [];
  /** The newest segment while it takes writes. */
  private active: Segment | undefined;
  private diskBytes = 0;
  /** Offset of the first unacknowledged record in segments[0]. */
  private headOffset = 0;
  /** Every record numbered below this is acknowledged (or dropped). */
  private headSeq = 0;
  private nextSeq = 0;
  private nextSegmentId = 1;

  /** Records not yet on disk, oldest first. */
  private memory: Held[] = [];
  private memoryBytes = 0;
  /** Records taken out of `memory` by a write in progress. */
  private inflightRecords = 0;
  private inflightBytes = 0;

  /** What the caller last got from readBatch() and has not acknowledged yet. */
  private view: { records: Located[]; acked: number } | undefined;
  private readers = new Map<Segment, SegmentReader>();

  private cursor: CursorFile;
  private cursorPersisted: CursorPosition | undefined;
  private cursorMoved = false;

  private unsynced = new Set<Segment>();
  private directoryUnsynced = false;
  private directorySyncWorks = true;

  private diskFailure: string | undefined;
  private droppedWhileFailed = 0;

  private writeScheduled = false;
  private fsyncTimer: ReturnType<typeof setTimeout> | undefined;
  private cursorTimer: ReturnType<typeof setTimeout> | undefined;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private closed = false;
  private warnedOperations = new Set<string>();

  // All file work runs one step at a time on this chain, so writes, reads and acknowledgements never interleave.
  private chain: Promise<unknown> = Promise.resolve();

  private constructor(opts: SpoolOptions, cursorGeneration: number) {
    if (!(opts.maxBytes > 0)) throw new RangeError(`spool maxBytes must be positive, got ${opts.maxBytes}`);
    this.dir = opts.dir;
    this.maxBytes = opts.maxBytes;
    this.segmentBytes = Math.max(1, Math.min(opts.segmentBytes ?? DEFAULT_SEGMENT_BYTES, Math.floor(opts.maxBytes / 8)));
    this.fsyncIntervalMs = opts.fsyncIntervalMs ?? DEFAULT_FSYNC_INTERVAL_MS;
    this.memoryLimitBytes = opts.memoryLimitBytes ?? DEFAULT_MEMORY_LIMIT_BYTES;
    this.retryIntervalMs = opts.retryIntervalMs ?? DEFAULT_RETRY_INTERVAL_MS;
    this.cursorIntervalMs = opts.cursorIntervalMs ?? DEFAULT_CURSOR_INTERVAL_MS;
    const onEvent = opts.onEvent;
    this.onEvent = (event) => {
      try {
        onEvent?.(event);
      } catch {
        // A failing listener must not break the spool.
      }
    };
    this.cursor = new CursorFile(join(this.dir, CURSOR_NAME), cursorGeneration);
  }

  /** Opens (creating the directory if needed) and validates every segment; damaged bytes are skipped and counted. */
  static async open(opts: SpoolOptions): Promise<Spool> {
    await fs.mkdir(opts.dir, { recursive: true });
    const cursorPath = join(opts.dir, CURSOR_NAME);
    const reading = await readCursor(cursorPath);
    const spool = new Spool(opts, reading.state === 'valid' ? reading.generation : 0);
    if (reading.state === 'invalid') spool.onEvent({ type: 'cursor-invalid', file: cursorPath });
    await spool.load(reading.state === 'valid' ? reading.position : undefined);
    return spool;
  }

  /** Records not yet acknowledged, including those only in memory. */
  /** Not recorded in this format. */
  get oldestReadAt(): number | undefined {
    return undefined;
  }

  get count(): number {
    let records = this.memory.length + this.inflightRecords;
    for (const segment of this.segments) records += segment.records;
    const head = this.segments[0];
    if (head) records -= Math.min(Math.max(this.headSeq - head.firstSeq, 0), head.records);
    return records;
  }

  /** Bytes held: segment files (including acknowledged records not yet removed) and records in memory. */
  get bytes(): number {
    return this.diskBytes + this.memoryBytes + this.inflightBytes;
  }

  /** Records that only exist in memory because the disk refuses writes. */
  get heldInMemory(): number {
    return this.diskFailure === undefined ? 0 : this.memory.length + this.inflightRecords;
  }

  /** Queues a telegram; it reaches write(2) right after the current event-loop turn. */
  append(telegram: Uint8Array, _readAt?: number): void {
    if (this.closed) throw new Error('spool is closed');
    const record = encodeRecord(telegram);
    this.memory.push({ seq: this.nextSeq++, record });
    this.memoryBytes += record.length;
    if (this.diskFailure !== undefined) this.enforceMemoryLimit();
    else this.scheduleWrite();
  }

  /** The oldest unacknowledged records, in order, without removing them; at most `max`. */
  readBatch(max: number): Promise<Buffer[]> {
    return this.serial(async () => {
      if (this.diskFailure === undefined && this.memory.length > 0) await this.writeOut();
      const records = await this.locate(max, true);
      const payloads = records.map((record) => record.payload as Buffer);
      // Positions only: the caller owns the payloads, the spool keeps no copy of a batch.
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
      if (view && view.acked + n <= view.records.length) {
        view.acked += n;
        last = view.records[view.acked - 1];
      } else {
        this.view = undefined;
        const ahead = await this.locate(n, false);
        last = ahead[ahead.length - 1];
      }
      if (last) await this.acknowledgeThrough(last);
    });
  }

  /** Resolves once everything appended so far has reached write(2), or is held because the disk refuses it. */
  drain(): Promise<void> {
    return this.serial(() => (this.diskFailure === undefined ? this.writeOut() : Promise.resolve()));
  }

  /** Writes everything pending (one more attempt even if the disk was refusing) and fsyncs it, with the cursor. */
  flush(): Promise<void> {
    return this.serial(async () => {
      await this.writeOut();
      await this.persistCursor();
      await this.syncAll();
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    await this.flush();
    this.closed = true;
    await this.serial(async () => {
      for (const timer of [this.fsyncTimer, this.cursorTimer, this.retryTimer]) if (timer) clearTimeout(timer);
      this.fsyncTimer = this.cursorTimer = this.retryTimer = undefined;
      const unwritten = this.memory.length;
      if (unwritten > 0) this.onEvent({ type: 'unwritten-on-close', records: unwritten });
      for (const reader of this.readers.values()) await reader.close().catch(() => undefined);
      this.readers.clear();
      for (const segment of this.segments) await this.closeWriter(segment);
      await this.cursor.close().catch(() => undefined);
    });
  }

  // ---- opening -------------------------------------------------------------------------------------------

  private async load(cursor: CursorPosition | undefined): Promise<void> {
    const found = (await fs.readdir(this.dir))
      .map((name) => SEGMENT_NAME.exec(name))
      .filter((match) => match !== null)
      .map((match) => ({ id: Number(match[1]), name: match[0] }))
      .sort((a, b) => a.id - b.id);
    this.nextSegmentId = Math.max(0, cursor?.segment ?? 0, ...found.map((f) => f.id)) + 1;
    let seq = 0;
    for (const { id, name } of found) {
      const path = join(this.dir, name);
      if (cursor && id < cursor.segment) {
        await this.unlink(path); // fully acknowledged; its removal was interrupted
        continue;
      }
      const ackedUpTo = cursor && id === cursor.segment ? cursor.offset : 0;
      const scan = await this.scanSegment(path, ackedUpTo);
      const pending = scan.records - scan.recordsBefore;
      if (pending === 0) {
        await this.unlink(path); // nothing left to deliver in it
        continue;
      }
      const segment: Segment = { id, path, size: scan.size, firstSeq: seq, records: scan.records, bad: scan.bad, writer: undefined, sealed: true };
      if (this.segments.length === 0) {
        this.headSeq = seq + scan.recordsBefore;
        this.headOffset = scan.firstPendingOffset;
      }
      this.segments.push(segment);
      this.diskBytes += scan.size;
      seq += scan.records;
    }
    this.nextSeq = seq;
    if (this.segments.length === 0) this.headSeq = seq;
    this.cursorPersisted = cursor;
    // The limit may have been lowered since the spool was written.
    await this.makeRoom(0);
  }

  private async scanSegment(path: string, ackedUpTo: number) {
    const file = await fs.open(path, 'r');
    const bad: BadRange[] = [];
    let records = 0;
    let recordsBefore = 0;
    let firstPendingOffset = -1;
    let size = 0;
    try {
      size = (await file.stat()).size;
      const reader = new SegmentReader(file);
      let at = 0;
      while (at < size) {
        const found = await reader.parse(at, size, false);
        if (found.kind === 'bad') {
          bad.push(found);
          if (found.end > ackedUpTo) this.reportDamage(path, found);
        } else {
          records += 1;
          if (found.start < ackedUpTo) recordsBefore += 1;
          else if (firstPendingOffset < 0) firstPendingOffset = found.start;
        }
        at = found.end;
      }
    } finally {
      await file.close();
    }
    const last = bad[bad.length - 1];
    if (last?.tail && last.end === size && (await this.cutTornTail(path, last.start))) {
      // Reported once, now gone: the next start does not count it again.
      bad.pop();
      size = last.start;
    }
    return { size, records, recordsBefore, bad, firstPendingOffset: firstPendingOffset < 0 ? size : firstPendingOffset };
  }

  private async cutTornTail(path: string, at: number): Promise<boolean> {
    try {
      await fs.truncate(path, at);
      return true;
    } catch (error) {
      this.warnOnce('cutting a torn record off a segment', error);
      return false;
    }
  }

  private reportDamage(path: string, range: BadRange): void {
    this.stats.corruptSkipped += 1;
    this.onEvent({
      type: 'corrupt-skipped',
      file: path,
      offset: range.start,
      bytes: range.end - range.start,
      reason: range.tail ? 'torn-tail' : 'corrupt',
    });
  }

  // ---- writing -------------------------------------------------------------------------------------------

  private scheduleWrite(): void {
    if (this.writeScheduled) return;
    this.writeScheduled = true;
    setImmediate(() => {
      this.writeScheduled = false;
      if (!this.closed) this.background(() => this.writeOut());
    });
  }

  // Moves records from memory to the active segment, in order, one positioned write per chunk.
  private async writeOut(): Promise<void> {
    while (this.memory.length > 0) {
      const first = this.memory[0];
      // A segment holds consecutive numbers only: a gap (records dropped from memory) starts a new one.
      if (this.active && (this.active.size >= this.segmentBytes || first.seq !== this.active.firstSeq + this.active.records)) {
        await this.seal(this.active);
      }
      const room = this.segmentBytes - (this.active?.size ?? 0);
      let count = 0;
      let bytes = 0;
      while (count < this.memory.length) {
        const next = this.memory[count];
        if (next.seq !== first.seq + count) break;
        if (count > 0 && bytes + next.record.length > room) break;
        bytes += next.record.length;
        count += 1;
      }
      await this.makeRoom(bytes);
      if (this.diskBytes + bytes > this.maxBytes) {
        // Even an empty spool cannot take these: drop the oldest of them.
        this.dropFromMemory(1, 'size-limit');
        continue;
      }
      if (!(await this.writeChunk(count, bytes))) return;
    }
    if (this.diskFailure !== undefined) {
      this.diskFailure = undefined;
      this.onEvent({ type: 'disk-writable', droppedRecords: this.droppedWhileFailed });
      this.droppedWhileFailed = 0;
    }
  }

  private async writeChunk(count: number, bytes: number): Promise<boolean> {
    const chunk = this.memory.splice(0, count);
    this.memoryBytes -= bytes;
    this.inflightRecords = count;
    this.inflightBytes = bytes;
    let segment = this.active;
    try {
      if (!segment) segment = await this.createSegment(chunk[0].seq);
      const data = count === 1 ? chunk[0].record : Buffer.concat(chunk.map((held) => held.record), bytes);
      await writeFully(segment.writer as FileHandle, data, segment.size);
    } catch (error) {
      this.memory.unshift(...chunk);
      this.memoryBytes += bytes;
      this.inflightRecords = this.inflightBytes = 0;
      await this.writeFailed(segment, error);
      return false;
    }
    this.inflightRecords = this.inflightBytes = 0;
    segment.size += bytes;
    segment.records += count;
    this.diskBytes += bytes;
    this.unsynced.add(segment);
    this.scheduleFsync();
    return true;
  }

  private async createSegment(firstSeq: number): Promise<Segment> {
    const id = this.nextSegmentId++;
    const path = join(this.dir, segmentName(id));
    // 'wx': a segment is never reused, whatever is lying around.
    const writer = await fs.open(path, 'wx');
    const segment: Segment = { id, path, size: 0, firstSeq, records: 0, bad: [], writer, sealed: false };
    if (this.segments.length === 0) {
      this.headOffset = 0;
      this.headSeq = Math.max(this.headSeq, firstSeq);
    }
    this.segments.push(segment);
    this.active = segment;
    this.directoryUnsynced = true;
    return segment;
  }

  private async writeFailed(segment: Segment | undefined, error: unknown): Promise<void> {
    this.stats.writeErrors += 1;
    if (segment?.writer && !segment.sealed) {
      // Cut off whatever part of the chunk made it, so the segment ends on a whole record; if even that fails,
      // never write after those unknown bytes again (open() will skip them as a torn tail).
      try {
        await segment.writer.truncate(segment.size);
      } catch {
        await this.seal(segment);
      }
    }
    if (this.diskFailure === undefined) {
      this.diskFailure = errorCode(error);
      this.onEvent({ type: 'disk-failed', code: this.diskFailure, message: errorMessage(error), heldRecords: this.memory.length });
    }
    this.enforceMemoryLimit();
    this.scheduleRetry();
  }

  private enforceMemoryLimit(): void {
    // The records of a write in progress are older than all of `memory`; should that write fail, they come back
    // to the front and the limit is enforced then, so the oldest still go first.
    if (this.inflightRecords > 0) return;
    let excess = 0;
    let bytes = this.memoryBytes;
    // Always keep the newest record, however large the limit is set.
    while (bytes > this.memoryLimitBytes && excess < this.memory.length - 1) bytes -= this.memory[excess++].record.length;
    if (excess > 0) this.dropFromMemory(excess, 'memory-limit');
  }

  private dropFromMemory(count: number, reason: 'memory-limit' | 'size-limit'): void {
    const dropped = this.memory.splice(0, count);
    for (const held of dropped) this.memoryBytes -= held.record.length;
    this.stats.droppedOldest += count;
    if (reason === 'size-limit') {
      this.onEvent({ type: 'dropped-oldest', reason, records: count, file: '(memory)' });
      return;
    }
    if (this.droppedWhileFailed === 0) this.onEvent({ type: 'dropped-oldest', reason, records: count });
    this.droppedWhileFailed += count;
  }

  private async seal(segment: Segment): Promise<void> {
    segment.sealed = true;
    if (this.active === segment) this.active = undefined;
    if (!this.unsynced.has(segment)) await this.closeWriter(segment);
  }

  private async closeWriter(segment: Segment): Promise<void> {
    const writer = segment.writer;
    segment.writer = undefined;
    this.unsynced.delete(segment);
    await writer?.close().catch(() => undefined);
  }

  // Size bound: drops whole oldest segments until `incoming` more bytes fit. Whole segments because unlinking is
  // the only way to reclaim space without rewriting files; segments are at most maxBytes / 8, so at most about
  // an eighth of the budget goes at once.
  private async makeRoom(incoming: number): Promise<void> {
    while (this.segments.length > 0 && this.diskBytes + incoming > this.maxBytes) {
      const oldest = this.segments[0];
      const undelivered = oldest.firstSeq + oldest.records - Math.max(this.headSeq, oldest.firstSeq);
      await this.removeHead();
      this.stats.droppedOldest += undelivered;
      this.onEvent({ type: 'dropped-oldest', reason: 'size-limit', records: undelivered, file: oldest.path });
    }
  }

  // ---- reading and acknowledging -------------------------------------------------------------------------

  // Finds up to `max` unacknowledged records from the cursor on: segments first, then memory.
  private async locate(max: number, wantPayload: boolean): Promise<Located[]> {
    const found: Located[] = [];
    for (let index = 0; index < this.segments.length && found.length < max; index++) {
      const segment = this.segments[index];
      let at = index === 0 ? this.headOffset : 0;
      let seq = index === 0 ? Math.max(this.headSeq, segment.firstSeq) : segment.firstSeq;
      const reader = await this.readerFor(segment);
      while (found.length < max && at < segment.size) {
        const known = segment.bad.find((range) => range.start === at);
        if (known) {
          at = known.end;
          continue;
        }
        let next;
        try {
          next = await reader.parse(at, segment.size, wantPayload);
        } catch {
          // The file shrank under us: everything from here on is gone.
          next = { kind: 'bad', start: at, end: segment.size, tail: true } as BadRange;
        }
        if (next.kind === 'bad') {
          // Damaged after open (or by someone else); the segment's record count stays an upper bound.
          segment.bad.push(next);
          this.reportDamage(segment.path, next);
        } else {
          found.push({ seq, segment, end: next.end, payload: next.payload });
          seq += 1;
        }
        at = next.end;
      }
    }
    for (const held of this.memory) {
      if (found.length >= max) break;
      if (held.seq < this.headSeq) continue;
      found.push({ seq: held.seq, segment: undefined, end: 0, payload: wantPayload ? held.record.subarray(RECORD_HEADER_BYTES) : undefined });
    }
    return found;
  }

  private async readerFor(segment: Segment): Promise<SegmentReader> {
    const open = this.readers.get(segment);
    if (open) return open;
    if (this.readers.size >= MAX_OPEN_READERS) {
      const [oldest, reader] = this.readers.entries().next().value as [Segment, SegmentReader];
      this.readers.delete(oldest);
      await reader.close().catch(() => undefined);
    }
    const reader = new SegmentReader(await fs.open(segment.path, 'r'));
    this.readers.set(segment, reader);
    return reader;
  }

  // Everything up to and including `last` is delivered.
  private async acknowledgeThrough(last: Located): Promise<void> {
    const through = last.seq + 1;
    while (this.segments.length > 0) {
      const head = this.segments[0];
      if (through >= head.firstSeq + head.records) {
        await this.removeHead();
        continue;
      }
      if (through > Math.max(this.headSeq, head.firstSeq)) {
        this.headOffset = last.segment === head ? last.end : await this.offsetOf(head, through);
      }
      break;
    }
    while (this.memory.length > 0 && this.memory[0].seq < through) {
      this.memoryBytes -= this.memory[0].record.length;
      this.memory.shift();
    }
    this.headSeq = Math.max(this.headSeq, through);
    this.cursorMoved = true;
    this.scheduleCursor();
  }

  // Offset of record number `seq` in the head segment, walking from the current head offset.
  private async offsetOf(head: Segment, seq: number): Promise<number> {
    const ahead = await this.locate(seq - Math.max(this.headSeq, head.firstSeq), false);
    const previous = ahead[ahead.length - 1];
    return previous?.segment === head ? previous.end : head.size;
  }

  private async removeHead(): Promise<void> {
    const head = this.segments.shift() as Segment;
    if (this.active === head) this.active = undefined;
    const reader = this.readers.get(head);
    if (reader) {
      this.readers.delete(head);
      await reader.close().catch(() => undefined);
    }
    await this.closeWriter(head);
    this.diskBytes -= head.size;
    this.headSeq = Math.max(this.headSeq, head.firstSeq + head.records);
    this.headOffset = 0;
    this.cursorMoved = true;
    await this.unlink(head.path);
  }

  // ---- durability ----------------------------------------------------------------------------------------

  private scheduleFsync(): void {
    if (this.fsyncTimer || this.closed) return;
    this.fsyncTimer = setTimeout(() => {
      this.fsyncTimer = undefined;
      this.background(() => this.syncAll());
    }, this.fsyncIntervalMs);
    this.fsyncTimer.unref();
  }

  private scheduleCursor(): void {
    if (this.cursorTimer || this.closed) return;
    this.cursorTimer = setTimeout(() => {
      this.cursorTimer = undefined;
      this.background(async () => {
        await this.persistCursor();
        this.scheduleFsync();
      });
    }, this.cursorIntervalMs);
    this.cursorTimer.unref();
  }

  private scheduleRetry(): void {
    if (this.retryTimer || this.closed) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.background(() => this.writeOut());
    }, this.retryIntervalMs);
    this.retryTimer.unref();
  }

  private async persistCursor(): Promise<void> {
    if (!this.cursorMoved) return;
    const head = this.segments[0];
    // With no segment left, point past every id handed out so far: all of them are acknowledged.
    const position: CursorPosition = head ? { segment: head.id, offset: this.headOffset } : { segment: this.nextSegmentId, offset: 0 };
    this.cursorMoved = false;
    const persisted = this.cursorPersisted;
    if (persisted && persisted.segment === position.segment && persisted.offset === position.offset) return;
    try {
      await this.cursor.write(position);
      this.cursorPersisted = position;
    } catch (error) {
      this.cursorMoved = true;
      this.warnOnce('updating the acknowledgement cursor', error);
    }
  }

  private async syncAll(): Promise<void> {
    for (const segment of [...this.unsynced]) {
      this.unsynced.delete(segment);
      try {
        await segment.writer?.sync();
      } catch (error) {
        this.warnOnce('fsync of a segment', error);
      }
      if (segment.sealed) await this.closeWriter(segment);
    }
    if (this.directoryUnsynced && this.directorySyncWorks) {
      this.directoryUnsynced = false;
      await this.syncDirectory();
    }
    try {
      await this.cursor.sync();
    } catch (error) {
      this.warnOnce('fsync of the acknowledgement cursor', error);
    }
  }

  // New segment files must survive a power cut too, which takes an fsync of the directory entry.
  private async syncDirectory(): Promise<void> {
    let directory: FileHandle | undefined;
    try {
      directory = await fs.open(this.dir, 'r');
      await directory.sync();
    } catch {
      // Some platforms (and runtimes) cannot fsync a directory; the files themselves are still synced.
      this.directorySyncWorks = false;
    } finally {
      await directory?.close().catch(() => undefined);
    }
  }

  private async unlink(path: string): Promise<void> {
    try {
      await fs.unlink(path);
    } catch (error) {
      // Left behind, it is found again at open and removed then, or replayed: duplicates, not loss.
      if (errorCode(error) !== 'ENOENT') this.warnOnce('removing a delivered segment', error);
    }
  }

  private warnOnce(operation: string, error: unknown): void {
    if (this.warnedOperations.has(operation)) return;
    this.warnedOperations.add(operation);
    this.onEvent({ type: 'io-warning', operation, code: errorCode(error), message: errorMessage(error) });
  }

  // ---- sequencing ----------------------------------------------------------------------------------------

  private serial<T>(step: () => Promise<T>): Promise<T> {
    const result = this.chain.then(step);
    this.chain = result.catch(() => undefined);
    return result;
  }

  // Timer-driven work has no caller to report to; an unexpected failure becomes an event instead of a crash.
  private background(step: () => Promise<void>): void {
    this.serial(async () => {
      if (!this.closed) await step();
    }).catch((error) => this.warnOnce('background spool work', error));
  }
}

async function writeFully(file: FileHandle, data: Buffer, position: number): Promise<void> {
  let written = 0;
  while (written < data.length) {
    const { bytesWritten } = await file.write(data, written, data.length - written, position + written);
    if (bytesWritten <= 0) throw Object.assign(new Error('write made no progress'), { code: 'EIO' });
    written += bytesWritten;
  }
}
