// The segment files of one spool and the acknowledged position in them. Numbered files `0000000001.seg`, ...;
// never rewritten: new records go to the newest segment (a fresh one after every open), acknowledged ones are
// forgotten by moving the head, and a segment is unlinked once all its records are acknowledged, or dropped whole
// when the size bound needs room.
//
// Every record has a sequence number in memory (not on disk); the records of one segment have consecutive
// numbers, so a position in the backlog is a (segment, offset) pair or a sequence number, whichever is at hand.
import { join } from 'node:path';
import type { CursorPosition } from './cursor.ts';
import type { Durability } from './durability.ts';
import type { SpoolReporter } from './events.ts';
import { errorCode, type SpoolFile, type SpoolFs } from './fs-port.ts';
import { CURRENT_FORMAT, writeFormat } from './format.ts';
import { newScanWindow, SegmentReader, type BadRange } from './reader.ts';

export interface Segment {
  id: number;
  path: string;
  /** Bytes known written: the end of the last record this process wrote, or the file size found at open. */
  size: number;
  /** Sequence number of the first record. */
  firstSeq: number;
  records: number;
  /** Damaged ranges found, skipped when reading. */
  bad: BadRange[];
  /** Write handle of the active segment, kept after sealing until its data is fsynced. */
  writer: SpoolFile | undefined;
  sealed: boolean;
  /** For a segment from the previous release, whose records carry no read time: its modification time instead. */
  mtimeMs: number | undefined;
}

const SEGMENT_NAME = /^(\d{10,})\.seg$/;
const MAX_OPEN_READERS = 2;

function segmentName(id: number): string {
  return `${String(id).padStart(10, '0')}.seg`;
}

export class SegmentSet {
  readonly list: Segment[] = [];
  /** The newest segment while it takes writes. */
  active: Segment | undefined;
  /** Bytes of all segment files together (what the size bound limits). */
  diskBytes = 0;
  /** Offset of the first unacknowledged record in list[0]. */
  headOffset = 0;
  /** Every record numbered below this is acknowledged (or dropped). */
  headSeq = 0;
  /** When the oldest unacknowledged record on disk was read (undefined when unknown or none). */
  headReadAt: number | undefined;
  private nextSegmentId = 1;
  private readers = new Map<Segment, SegmentReader>();

  constructor(
    private readonly fs: SpoolFs,
    private readonly dir: string,
    private readonly maxBytes: number,
    private formatOnDisk: number,
    private readonly durability: Durability,
    private readonly reporter: SpoolReporter,
  ) {}

  /** Records not yet acknowledged on disk. */
  get pendingRecords(): number {
    let records = 0;
    for (const segment of this.list) records += segment.records;
    const head = this.list[0];
    if (head) records -= Math.min(Math.max(this.headSeq - head.firstSeq, 0), head.records);
    return records;
  }

  /** The acknowledged position as the cursor file stores it. */
  get position(): CursorPosition {
    const head = this.list[0];
    // With no segment left, point past every id handed out so far: all of them are acknowledged.
    return head ? { segment: head.id, offset: this.headOffset } : { segment: this.nextSegmentId, offset: 0 };
  }

  // ---- opening -------------------------------------------------------------------------------------------

  /**
   * Finds every segment and walks its records (a torn tail is cut off; damage elsewhere is skipped and counted, here
   * or when it is replayed: SegmentReader.walk). Returns the next sequence number.
   */
  async load(cursor: CursorPosition | undefined): Promise<number> {
    const found = (await this.fs.readdir(this.dir))
      .map((name) => SEGMENT_NAME.exec(name))
      .filter((match) => match !== null)
      .map((match) => ({ id: Number(match[1]), name: match[0] }))
      .sort((a, b) => a.id - b.id);
    this.nextSegmentId = Math.max(0, cursor?.segment ?? 0, ...found.map((f) => f.id)) + 1;
    let seq = 0;
    // One scan buffer for all of them: one per segment would leave megabytes of garbage for a day's backlog.
    const window = found.length > 0 ? newScanWindow() : undefined;
    for (const { id, name } of found) {
      const path = join(this.dir, name);
      if (cursor && id < cursor.segment) {
        await this.unlink(path); // fully acknowledged; its removal was interrupted
        continue;
      }
      const scan = await this.scan(path, cursor && id === cursor.segment ? cursor.offset : 0, window);
      if (scan.records - scan.recordsBefore === 0) {
        await this.unlink(path); // nothing left to deliver in it
        continue;
      }
      const mtimeMs = scan.withoutReadAt ? await this.fs.mtimeMs(path).catch(() => undefined) : undefined;
      const segment: Segment = { id, path, size: scan.size, firstSeq: seq, records: scan.records, bad: scan.bad, writer: undefined, sealed: true, mtimeMs };
      if (this.list.length === 0) {
        this.headSeq = seq + scan.recordsBefore;
        this.headOffset = scan.firstPendingOffset;
        this.headReadAt = scan.firstPendingReadAt ?? mtimeMs;
      }
      this.list.push(segment);
      this.diskBytes += scan.size;
      seq += scan.records;
    }
    if (this.list.length === 0) this.headSeq = seq;
    return seq;
  }

  private async scan(path: string, ackedUpTo: number, window: Buffer | undefined) {
    const file = await this.fs.open(path, 'r');
    const bad: BadRange[] = [];
    let records = 0;
    let recordsBefore = 0;
    let firstPendingOffset = -1;
    let firstPendingReadAt: number | undefined;
    let withoutReadAt = false;
    let size = 0;
    try {
      size = await file.size();
      const reader = new SegmentReader(file, window);
      let at = 0;
      while (at < size) {
        const found = await reader.walk(at, size);
        if (found.kind === 'bad') {
          bad.push(found);
          if (found.end > ackedUpTo) this.reportDamage(path, found);
        } else {
          records += 1;
          if (found.readAt === undefined) withoutReadAt = true;
          if (found.start < ackedUpTo) recordsBefore += 1;
          else if (firstPendingOffset < 0) {
            firstPendingOffset = found.start;
            firstPendingReadAt = found.readAt;
          }
        }
        at = found.end;
      }
    } finally {
      await file.close().catch(() => undefined);
    }
    const last = bad[bad.length - 1];
    if (last?.tail && last.end === size && (await this.cutTornTail(path, last.start))) {
      // Reported once, now gone: the next start does not count it again.
      bad.pop();
      size = last.start;
    }
    return { size, records, recordsBefore, bad, firstPendingOffset: firstPendingOffset < 0 ? size : firstPendingOffset, firstPendingReadAt, withoutReadAt };
  }

  private async cutTornTail(path: string, at: number): Promise<boolean> {
    try {
      await this.fs.truncate(path, at);
      return true;
    } catch (error) {
      this.reporter.warnOnce('cutting a torn record off a segment', error);
      return false;
    }
  }

  reportDamage(path: string, range: BadRange): void {
    this.reporter.stats.corruptSkipped += 1;
    this.reporter.emit({ type: 'corrupt-skipped', file: path, offset: range.start, bytes: range.end - range.start, reason: range.tail ? 'torn-tail' : 'corrupt' });
  }

  // ---- writing -------------------------------------------------------------------------------------------

  /** A new, empty segment that takes writes, its first record numbered `firstSeq`. */
  async create(firstSeq: number, firstReadAt: number): Promise<Segment> {
    if (this.formatOnDisk < CURRENT_FORMAT) {
      await writeFormat(this.fs, this.dir);
      this.formatOnDisk = CURRENT_FORMAT;
    }
    const id = this.nextSegmentId++;
    const path = join(this.dir, segmentName(id));
    // 'wx': a segment is never reused, whatever is lying around.
    const writer = await this.fs.open(path, 'wx');
    const segment: Segment = { id, path, size: 0, firstSeq, records: 0, bad: [], writer, sealed: false, mtimeMs: undefined };
    if (this.list.length === 0) {
      this.headOffset = 0;
      this.headSeq = Math.max(this.headSeq, firstSeq);
      this.headReadAt = firstReadAt;
    }
    this.list.push(segment);
    this.active = segment;
    this.durability.created();
    return segment;
  }

  /** No more writes to this segment; its handle stays open until its data is synced. */
  async seal(segment: Segment): Promise<void> {
    segment.sealed = true;
    if (this.active === segment) this.active = undefined;
    if (!this.durability.isUnsynced(segment)) await this.durability.release(segment);
  }

  // Size bound: drops whole oldest segments until `incoming` more bytes fit. Whole segments because unlinking is
  // the only way to reclaim space without rewriting files; segments are at most maxBytes / 8, so at most about
  // an eighth of the budget goes at once.
  async makeRoom(incoming: number): Promise<void> {
    let dropped = false;
    while (this.list.length > 0 && this.diskBytes + incoming > this.maxBytes) {
      const oldest = this.list[0];
      const undelivered = oldest.firstSeq + oldest.records - Math.max(this.headSeq, oldest.firstSeq);
      await this.removeHead();
      this.reporter.stats.droppedFull += undelivered;
      this.reporter.emit({ type: 'dropped-oldest', reason: 'size-limit', records: undelivered, file: oldest.path });
      dropped = true;
    }
    if (dropped) await this.refreshHeadReadAt(undefined);
  }

  // ---- acknowledging -------------------------------------------------------------------------------------

  /** Everything numbered below `through` is delivered; `end` is where that record ends, when known. */
  async acknowledgeThrough(through: number, end: { segment: Segment; offset: number } | undefined, nextReadAt: number | undefined): Promise<void> {
    while (this.list.length > 0) {
      const head = this.list[0];
      if (through >= head.firstSeq + head.records) {
        await this.removeHead();
        continue;
      }
      if (through > Math.max(this.headSeq, head.firstSeq)) {
        this.headOffset = end?.segment === head ? end.offset : await this.offsetOf(head, through);
        this.headSeq = through;
      }
      // Every byte of it delivered, yet fewer records than counted at open (damage met while replaying): done too.
      if (head.sealed && this.headOffset >= head.size) {
        await this.removeHead();
        continue;
      }
      break;
    }
    this.headSeq = Math.max(this.headSeq, through);
    await this.refreshHeadReadAt(nextReadAt);
  }

  // Offset of record number `seq` in the head segment, walking from the current head offset.
  private async offsetOf(head: Segment, seq: number): Promise<number> {
    let at = this.headOffset;
    let remaining = seq - Math.max(this.headSeq, head.firstSeq);
    const reader = await this.readerFor(head);
    while (remaining > 0 && at < head.size) {
      const found = await reader.readBatch(at, head.size, remaining, head.bad);
      for (const item of found) {
        if (item.kind === 'record') remaining -= 1;
        else this.noteDamage(head, item);
        at = item.end;
      }
    }
    return Math.min(at, head.size);
  }

  /** A damaged range met while reading: remembered, and reported the first time. */
  noteDamage(segment: Segment, range: BadRange): void {
    if (segment.bad.includes(range)) return;
    // Damaged after open (or by someone else); the segment's record count stays an upper bound.
    segment.bad.push(range);
    this.reportDamage(segment.path, range);
  }

  private async refreshHeadReadAt(known: number | undefined): Promise<void> {
    const head = this.list[0];
    if (!head) this.headReadAt = undefined;
    else if (known !== undefined) this.headReadAt = known;
    else if (head.mtimeMs !== undefined) this.headReadAt = head.mtimeMs;
    else this.headReadAt = await (await this.readerFor(head)).readAtOf(this.headOffset).catch(() => undefined);
  }

  private async removeHead(): Promise<void> {
    const head = this.list.shift() as Segment;
    if (this.active === head) this.active = undefined;
    const reader = this.readers.get(head);
    if (reader) {
      this.readers.delete(head);
      await reader.close().catch(() => undefined);
    }
    await this.durability.release(head);
    this.diskBytes -= head.size;
    this.headSeq = Math.max(this.headSeq, head.firstSeq + head.records);
    this.headOffset = 0;
    await this.unlink(head.path);
  }

  // ---- reading -------------------------------------------------------------------------------------------

  async readerFor(segment: Segment): Promise<SegmentReader> {
    const open = this.readers.get(segment);
    if (open) return open;
    if (this.readers.size >= MAX_OPEN_READERS) {
      const [oldest, reader] = this.readers.entries().next().value as [Segment, SegmentReader];
      this.readers.delete(oldest);
      await reader.close().catch(() => undefined);
    }
    const reader = new SegmentReader(await this.fs.open(segment.path, 'r'));
    this.readers.set(segment, reader);
    return reader;
  }

  async close(): Promise<void> {
    for (const reader of this.readers.values()) await reader.close().catch(() => undefined);
    this.readers.clear();
    for (const segment of this.list) await this.durability.release(segment);
  }

  private async unlink(path: string): Promise<void> {
    try {
      await this.fs.unlink(path);
    } catch (error) {
      // Left behind, it is found again at open and removed then, or replayed: duplicates, not loss.
      if (errorCode(error) !== 'ENOENT') this.reporter.warnOnce('removing a delivered segment', error);
    }
  }
}
