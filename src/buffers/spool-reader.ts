// Sequential reading of one segment file through a fixed window, so replaying a large backlog costs a constant
// amount of memory. Parsing never trusts a header alone: a record counts only when its CRC matches; anything else
// becomes a "bad" range up to the next intact record (or the end), which the caller skips and counts.
import type { FileHandle } from 'node:fs/promises';
import { MAX_RECORD_PAYLOAD_BYTES, RECORD_HEADER_BYTES, RECORD_MAGIC, announcedLength, recordIntact } from './spool-record.ts';

export interface RecordAt {
  kind: 'record';
  start: number;
  end: number;
  /** A copy of the telegram bytes, when asked for. */
  payload?: Buffer;
}

export interface BadRange {
  kind: 'bad';
  start: number;
  end: number;
  /** The damage runs to the end of the readable data: typically the record a crash interrupted. */
  tail: boolean;
}

const DEFAULT_WINDOW_BYTES = 1024 * 1024;

export class SegmentReader {
  private window: Buffer;
  private windowStart = 0;
  private windowLength = 0;

  constructor(
    private readonly file: FileHandle,
    windowBytes = DEFAULT_WINDOW_BYTES,
  ) {
    this.window = Buffer.allocUnsafe(Math.max(windowBytes, RECORD_HEADER_BYTES + MAX_RECORD_PAYLOAD_BYTES));
  }

  close(): Promise<void> {
    return this.file.close();
  }

  /**
   * The record or bad range starting at `at`, looking no further than `limit` (the end of data known to be
   * written; bytes beyond it may still change, so they are never cached).
   */
  async parse(at: number, limit: number, wantPayload: boolean): Promise<RecordAt | BadRange> {
    const length = await this.intactLengthAt(at, limit);
    if (length >= 0) {
      const end = at + RECORD_HEADER_BYTES + length;
      if (!wantPayload) return { kind: 'record', start: at, end };
      const offset = await this.load(at, end - at, limit);
      const from = offset + RECORD_HEADER_BYTES;
      return { kind: 'record', start: at, end, payload: Buffer.from(this.window.subarray(from, from + length)) };
    }
    const next = await this.nextIntactRecord(at + 1, limit);
    return next === undefined ? { kind: 'bad', start: at, end: limit, tail: true } : { kind: 'bad', start: at, end: next, tail: false };
  }

  // Payload length of the intact record at `at`, or -1.
  private async intactLengthAt(at: number, limit: number): Promise<number> {
    if (limit - at < RECORD_HEADER_BYTES) return -1;
    let offset = await this.load(at, RECORD_HEADER_BYTES, limit);
    const length = announcedLength(this.window, offset);
    if (length < 0 || at + RECORD_HEADER_BYTES + length > limit) return -1;
    offset = await this.load(at, RECORD_HEADER_BYTES + length, limit);
    return recordIntact(this.window, offset, length) ? length : -1;
  }

  // Resynchronise after damage: the first position at or after `from` holding an intact record.
  private async nextIntactRecord(from: number, limit: number): Promise<number | undefined> {
    let at = from;
    while (limit - at >= RECORD_HEADER_BYTES) {
      const span = Math.min(limit - at, DEFAULT_WINDOW_BYTES);
      const offset = await this.load(at, span, limit);
      const found = this.window.subarray(offset, offset + span).indexOf(RECORD_MAGIC);
      if (found < 0) {
        // Keep the last bytes in view: the magic may straddle the window edge.
        if (at + span >= limit) return undefined;
        at += span - (RECORD_MAGIC.length - 1);
        continue;
      }
      const candidate = at + found;
      if ((await this.intactLengthAt(candidate, limit)) >= 0) return candidate;
      at = candidate + 1;
    }
    return undefined;
  }

  // Makes bytes [at, at + length) available in the window and returns where they start in it.
  private async load(at: number, length: number, limit: number): Promise<number> {
    if (at >= this.windowStart && at + length <= this.windowStart + this.windowLength) return at - this.windowStart;
    const want = Math.min(this.window.length, limit - at);
    let filled = 0;
    while (filled < want) {
      const { bytesRead } = await this.file.read(this.window, filled, want - filled, at + filled);
      if (bytesRead === 0) break;
      filled += bytesRead;
    }
    this.windowStart = at;
    this.windowLength = filled;
    if (filled < length) throw new Error(`segment ended at ${at + filled}, expected data up to ${at + length}`);
    return 0;
  }
}
