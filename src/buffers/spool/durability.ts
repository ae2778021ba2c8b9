// When written data becomes durable: fsync is batched (every few seconds, and at flush/close), not paid per record,
// so a power cut costs at most the last interval (duplicates or the newest records), a killed process nothing that
// reached write(2). Segment files, the directory entries of new ones, and the cursor are synced together.
import type { Clock, Timer } from '../../core/clock.ts';
import type { CursorFile } from './cursor.ts';
import type { SpoolFile, SpoolFs } from './fs-port.ts';
import type { SpoolReporter } from './events.ts';

/** What durability needs of a segment: its write handle, and whether it still takes writes. */
export interface SyncTarget {
  writer: SpoolFile | undefined;
  sealed: boolean;
}

export class Durability {
  private unsynced = new Set<SyncTarget>();
  private directoryUnsynced = false;
  private directorySyncWorks = true;
  private timer: Timer | undefined;
  private stopped = false;

  constructor(
    private readonly fs: SpoolFs,
    private readonly dir: string,
    private readonly cursor: CursorFile,
    private readonly clock: Clock,
    private readonly intervalMs: number,
    private readonly reporter: SpoolReporter,
    /** Runs a step on the spool's sequence, so a timer's sync never interleaves with a write. */
    private readonly run: (step: () => Promise<void>) => void,
  ) {}

  /** Records were written to this segment; they are synced within the interval. */
  written(segment: SyncTarget): void {
    this.unsynced.add(segment);
    this.schedule();
  }

  /** A segment file was created: its directory entry needs a sync too. */
  created(): void {
    this.directoryUnsynced = true;
  }

  isUnsynced(segment: SyncTarget): boolean {
    return this.unsynced.has(segment);
  }

  /** Closes the segment's write handle, giving up on syncing it (it is sealed and synced, or being removed). */
  async release(segment: SyncTarget): Promise<void> {
    const writer = segment.writer;
    segment.writer = undefined;
    this.unsynced.delete(segment);
    await writer?.close().catch(() => undefined);
  }

  /** The cursor was written; it is synced within the interval. */
  schedule(): void {
    if (this.timer || this.stopped) return;
    this.timer = this.clock.setTimeout(() => {
      this.timer = undefined;
      this.run(() => this.syncAll());
    }, this.intervalMs);
    this.timer.unref?.();
  }

  async syncAll(): Promise<void> {
    for (const segment of [...this.unsynced]) {
      this.unsynced.delete(segment);
      try {
        await segment.writer?.sync();
      } catch (error) {
        this.reporter.warnOnce('fsync of a segment', error);
      }
      if (segment.sealed) await this.release(segment);
    }
    if (this.directoryUnsynced && this.directorySyncWorks) {
      this.directoryUnsynced = false;
      try {
        await this.fs.syncDirectory(this.dir);
      } catch {
        // Some platforms (and runtimes) cannot fsync a directory; the files themselves are still synced.
        this.directorySyncWorks = false;
      }
    }
    try {
      await this.cursor.sync();
    } catch (error) {
      this.reporter.warnOnce('fsync of the acknowledgement cursor', error);
    }
  }

  stop(): void {
    this.stopped = true;
    this.clock.clearTimeout(this.timer);
    this.timer = undefined;
  }
}
