// Reading one segment file. Two ways: a scan through a fixed window (at open, to validate every record, and to
// resynchronise after damage), and batch reads for replay, where a batch is read as one buffer and the telegrams
// handed out are views into it: no copy per record, and memory bounded by the batch, not by the backlog.
// A record counts only when its CRC matches; anything else becomes a "bad" range up to the next intact record (or
// the end of the data), which the caller skips and counts.
import type { SpoolFile } from './fs-port.ts';
import { MAX_RECORD_BYTES, MAX_RECORD_PAYLOAD_BYTES, RECORD_HEADER_BYTES, RECORD_MAGIC_PREFIX, headerBytesAt, probeRecord, type Probe } from './record.ts';

export interface RecordAt {
  kind: 'record';
  start: number;
  end: number;
  /** Epoch ms the telegram was read; undefined for a version 1 record. */
  readAt: number | undefined;
  /** The telegram bytes, a view into the batch's buffer (batch reads only). */
  payload?: Buffer;
}

export interface BadRange {
  kind: 'bad';
  start: number;
  end: number;
  /** The damage runs to the end of the readable data: typically the record a crash interrupted. */
  tail: boolean;
}

/**
 * Where one replay batch is read: a buffer the spool reuses from batch to batch, so a replay makes no garbage per
 * batch (fresh buffers live long enough to be promoted and then wait for a full collection, megabytes of them).
 */
export interface BatchArena {
  buffer: Buffer;
  /** Bytes at the start already handed out in this batch. */
  used: number;
}

const EMPTY = Buffer.alloc(0);
const SHORT: Probe = { kind: 'short', bytes: RECORD_HEADER_BYTES };
const SCAN_WINDOW_BYTES = Math.max(512 * 1024, MAX_RECORD_BYTES);
/** Read-ahead of a batch read: about 256 DSMR 5 telegrams, the replay's batch. */
export const READ_AHEAD_BYTES = 256 * 1024;
/** A guess for sizing a batch read before any record is seen; a wrong guess costs one more read, not a copy. */
const TYPICAL_RECORD_BYTES = 1024;

export class SegmentReader {
  private window: Buffer | undefined;
  private windowStart = 0;
  private windowLength = 0;

  /** `window`: a scan buffer to use instead of one of its own (opening a spool walks every segment with one). */
  constructor(
    private readonly file: SpoolFile,
    window?: Buffer,
  ) {
    this.window = window;
  }

  close(): Promise<void> {
    return this.file.close();
  }

  /**
   * The record or bad range starting at `at`, looking no further than `limit` (the end of data known to be
   * written; bytes beyond it may still change, so they are never looked at).
   */
  async scan(at: number, limit: number): Promise<RecordAt | BadRange> {
    const probe = await this.probeInWindow(at, limit);
    if (probe.kind === 'record') return { kind: 'record', start: at, end: at + probe.bytes, readAt: probe.readAt };
    return this.badFrom(at, limit);
  }

  /**
   * Like scan(), for opening a spool without reading every payload's CRC: a record whose header is sound and
   * which is followed by another record's magic is taken on trust (its CRC is checked when it is replayed, and a
   * bad one is skipped and counted then). The last record before `limit`, where a crash tears a write, and
   * anything that does not look right is checked in full, as by scan().
   */
  async walk(at: number, limit: number): Promise<RecordAt | BadRange> {
    if (limit - at > RECORD_HEADER_BYTES) {
      const offset = this.inWindow(at, RECORD_HEADER_BYTES) ?? (await this.load(at, RECORD_HEADER_BYTES, limit));
      const window = this.window as Buffer;
      const headerBytes = this.windowLength - offset >= RECORD_HEADER_BYTES ? headerBytesAt(window, offset) : -1;
      const length = headerBytes > 0 ? window.readUInt32LE(offset + 4) : -1;
      const end = at + headerBytes + length;
      if (headerBytes > 0 && length <= MAX_RECORD_PAYLOAD_BYTES && end + RECORD_HEADER_BYTES <= limit) {
        // Read before the window may move on to `end`.
        const readAt = headerBytes === RECORD_HEADER_BYTES ? window.readUIntLE(offset + 12, 6) : undefined;
        const next = this.inWindow(end, 4) ?? (await this.load(end, 4, limit));
        if (this.windowLength - next >= 4 && headerBytesAt(this.window as Buffer, next) > 0) return { kind: 'record', start: at, end, readAt };
      }
    }
    return this.scan(at, limit);
  }

  /**
   * Up to `max` records from `at` on, payloads as views, with the bad ranges met on the way (`known` are skipped
   * unread). With an arena, the bytes are read into its free part, after what earlier calls of the same batch
   * handed out; what does not fit there is read into fresh buffers.
   */
  async readBatch(at: number, limit: number, max: number, known: readonly BadRange[], arena?: BatchArena): Promise<(RecordAt | BadRange)[]> {
    const found: (RecordAt | BadRange)[] = [];
    let records = 0;
    let chunk: Buffer = EMPTY;
    let chunkStart = at;
    // Where the chunk lies in the arena (-1: a buffer of its own).
    let chunkInArena = -1;
    while (records < max && at < limit) {
      const knownBad = known.find((range) => range.start === at);
      if (knownBad) {
        found.push(knownBad);
        at = knownBad.end;
        continue;
      }
      let probe: Probe = at >= chunkStart && at < chunkStart + chunk.length ? probeRecord(chunk, at - chunkStart, chunk.length) : SHORT;
      if (probe.kind === 'short' && chunkStart + chunk.length < limit) {
        const want = Math.min(limit - at, Math.max(probe.bytes, Math.min(READ_AHEAD_BYTES, (max - records) * TYPICAL_RECORD_BYTES)));
        const room = arena ? arena.buffer.length - arena.used : 0;
        if (arena && room >= probe.bytes) {
          chunkInArena = arena.used;
          chunk = await this.readInto(arena.buffer.subarray(chunkInArena, chunkInArena + Math.min(want, room)), at);
        } else {
          chunkInArena = -1;
          chunk = await this.readFresh(at, want);
        }
        chunkStart = at;
        probe = probeRecord(chunk, 0, chunk.length);
        if (probe.kind === 'short' && chunk.length < probe.bytes && at + chunk.length < limit) {
          // Larger than the guess, or than the room left in the arena: once more, in a buffer that holds it all.
          chunkInArena = -1;
          chunk = await this.readFresh(at, Math.min(limit - at, Math.max(probe.bytes, want)));
          probe = probeRecord(chunk, 0, chunk.length);
        }
      }
      if (probe.kind === 'record') {
        const offset = at - chunkStart;
        const end = at + probe.bytes;
        found.push({ kind: 'record', start: at, end, readAt: probe.readAt, payload: chunk.subarray(offset + probe.headerBytes, offset + probe.bytes) });
        // The arena is free after the last view handed out.
        if (arena && chunkInArena >= 0) arena.used = chunkInArena + offset + probe.bytes;
        records += 1;
        at = end;
        continue;
      }
      const bad = await this.badFrom(at, limit);
      found.push(bad);
      at = bad.end;
    }
    return found;
  }

  /** The read time in the header at `at`, without checking the record (for a status figure only). */
  async readAtOf(at: number): Promise<number | undefined> {
    const header = Buffer.alloc(RECORD_HEADER_BYTES);
    const filled = await readInto(this.file, header, at);
    return filled === RECORD_HEADER_BYTES && headerBytesAt(header, 0) === RECORD_HEADER_BYTES ? header.readUIntLE(12, 6) : undefined;
  }

  // A fresh buffer, not a reused one: views handed out earlier keep theirs alive as it is.
  private readFresh(at: number, length: number): Promise<Buffer> {
    return this.readInto(Buffer.allocUnsafe(length), at);
  }

  private async readInto(buffer: Buffer, at: number): Promise<Buffer> {
    const filled = await readInto(this.file, buffer, at);
    // The file shrank under us (someone else truncated it): what is missing reads as damage.
    return filled < buffer.length ? buffer.subarray(0, filled) : buffer;
  }

  private async badFrom(at: number, limit: number): Promise<BadRange> {
    const next = await this.nextIntactRecord(at + 1, limit);
    return next === undefined ? { kind: 'bad', start: at, end: limit, tail: true } : { kind: 'bad', start: at, end: next, tail: false };
  }

  private async probeInWindow(at: number, limit: number): Promise<Probe> {
    let offset = await this.load(at, Math.min(RECORD_HEADER_BYTES, limit - at), limit);
    let probe = probeRecord(this.window as Buffer, offset, this.windowLength);
    if (probe.kind === 'short' && at + probe.bytes <= limit && this.windowStart + this.windowLength < limit) {
      offset = await this.load(at, probe.bytes, limit);
      probe = probeRecord(this.window as Buffer, offset, this.windowLength);
    }
    return probe.kind === 'short' ? { kind: 'bad' } : probe;
  }

  // Resynchronise after damage: the first position at or after `from` holding an intact record.
  private async nextIntactRecord(from: number, limit: number): Promise<number | undefined> {
    let at = from;
    while (limit - at >= RECORD_MAGIC_PREFIX.length) {
      const offset = await this.load(at, Math.min(limit - at, SCAN_WINDOW_BYTES), limit);
      const span = Math.min(limit - at, this.windowLength - offset);
      if (span < RECORD_MAGIC_PREFIX.length) return undefined;
      const found = (this.window as Buffer).subarray(offset, offset + span).indexOf(RECORD_MAGIC_PREFIX);
      if (found < 0) {
        // Keep the last bytes in view: the magic may straddle the window edge.
        if (at + span >= limit) return undefined;
        at += span - (RECORD_MAGIC_PREFIX.length - 1);
        continue;
      }
      const candidate = at + found;
      if ((await this.probeInWindow(candidate, limit)).kind === 'record') return candidate;
      at = candidate + 1;
    }
    return undefined;
  }

  // Where `at` is in the window when [at, at + length) is there: no await for the common case of a walk.
  private inWindow(at: number, length: number): number | undefined {
    return this.window && at >= this.windowStart && at + length <= this.windowStart + this.windowLength ? at - this.windowStart : undefined;
  }

  // Makes bytes [at, at + length) available in the window, as far as the file has them, and returns where `at` is in it.
  private async load(at: number, length: number, limit: number): Promise<number> {
    const inside = this.inWindow(at, length);
    if (inside !== undefined) return inside;
    this.window ??= newScanWindow();
    const want = Math.min(this.window.length, limit - at);
    this.windowStart = at;
    this.windowLength = await readInto(this.file, this.window.subarray(0, want), at);
    return 0;
  }
}

/** The buffer scan() and walk() read through. */
export function newScanWindow(): Buffer {
  return Buffer.allocUnsafe(SCAN_WINDOW_BYTES);
}

async function readInto(file: SpoolFile, buffer: Buffer, position: number): Promise<number> {
  let filled = 0;
  while (filled < buffer.length) {
    const bytes = await file.read(buffer, filled, buffer.length - filled, position + filled);
    if (bytes === 0) break;
    filled += bytes;
  }
  return filled;
}
