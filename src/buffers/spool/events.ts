// State changes of a spool, reported once each so the log stays quiet while a condition lasts.
import type { LogLevel } from '../../log/logger.ts';
import { errorCode, errorMessage } from './fs-port.ts';

export type SpoolEvent =
  /** At open (or, rarely, while replaying): damaged bytes were skipped; the records in them are lost. */
  | { type: 'corrupt-skipped'; file: string; offset: number; bytes: number; reason: 'torn-tail' | 'corrupt' }
  /** The acknowledged position could not be read: the whole spool is replayed (duplicates, never loss). */
  | { type: 'cursor-invalid'; file: string }
  /** The size limit was reached: the oldest segment was removed with its undelivered records. */
  | { type: 'dropped-oldest'; reason: 'size-limit'; records: number; file: string }
  /** The disk refuses writes and the memory limit was reached: oldest held records are being dropped (reported once per episode). */
  | { type: 'dropped-oldest'; reason: 'memory-limit'; records: number }
  /** A write failed (ENOSPC, EIO, ...): new records are held in memory, up to the memory limit, and retried. */
  | { type: 'disk-failed'; code: string; message: string; heldRecords: number }
  /** Writes succeed again; everything held in memory has been written. */
  | { type: 'disk-writable'; droppedRecords: number }
  /** fsync, unlink or a cursor update failed; the records themselves are not affected yet. */
  | { type: 'io-warning'; operation: string; code: string; message: string }
  /** close() could not write these records to disk; they are lost with the process. */
  | { type: 'unwritten-on-close'; records: number };

/** One log line for an event, with the level it deserves. */
export function describeSpoolEvent(event: SpoolEvent): { level: LogLevel; message: string } {
  switch (event.type) {
    case 'corrupt-skipped':
      return {
        level: 'warn',
        message: `spool: skipped ${event.bytes} damaged bytes (${event.reason}) at offset ${event.offset} of ${event.file}`,
      };
    case 'cursor-invalid':
      return { level: 'warn', message: `spool: unreadable acknowledgement cursor ${event.file}; replaying the whole spool (duplicates possible)` };
    case 'dropped-oldest':
      return event.reason === 'size-limit'
        ? { level: 'warn', message: `spool: size limit reached, dropped ${event.records} oldest telegrams (${event.file})` }
        : { level: 'error', message: `spool: memory limit reached while the disk refuses writes; dropping the oldest held telegrams` };
    case 'disk-failed':
      return {
        level: 'error',
        message: `spool: cannot write (${event.code}: ${event.message}); holding telegrams in memory (${event.heldRecords} now) and retrying`,
      };
    case 'disk-writable':
      return {
        level: 'info',
        message: `spool: disk writable again; held telegrams written${event.droppedRecords > 0 ? `, ${event.droppedRecords} dropped meanwhile` : ''}`,
      };
    case 'io-warning':
      return { level: 'warn', message: `spool: ${event.operation} failed (${event.code}: ${event.message})` };
    case 'unwritten-on-close':
      return { level: 'error', message: `spool: ${event.records} telegrams could not be written before exit and are lost` };
  }
}

export interface SpoolStats {
  /** Damaged regions skipped (each held at least one record: a torn tail after a crash, or corruption). */
  corruptSkipped: number;
  /** Records dropped because of the size limit or, while the disk refused writes, the memory limit. */
  droppedFull: number;
  /** Failed attempts to write records (each is retried; records are only lost through droppedFull). */
  writeErrors: number;
}

/** Where the parts of a spool report to: its counters, and its events, each warning once per operation. */
export class SpoolReporter {
  readonly stats: SpoolStats = { corruptSkipped: 0, droppedFull: 0, writeErrors: 0 };
  private warned = new Set<string>();

  constructor(private readonly listener: ((event: SpoolEvent) => void) | undefined) {}

  emit(event: SpoolEvent): void {
    try {
      this.listener?.(event);
    } catch {
      // A failing listener must not break the spool.
    }
  }

  warnOnce(operation: string, error: unknown): void {
    if (this.warned.has(operation)) return;
    this.warned.add(operation);
    this.emit({ type: 'io-warning', operation, code: errorCode(error), message: errorMessage(error) });
  }
}
