// When written data becomes durable: fsync is batched (every few seconds, and at flush/close), not paid per record,
// so a power cut costs at most the last interval (duplicates or the newest records), a killed process nothing that
// reached write(2). Segment files, the directory entries of new ones, and the cursor are synced together.
import type { Clock, Timer } from '../../core/clock.ts';
import type { CursorFile } from './cursor.ts';
import { errorCode, type SpoolFile, type SpoolFs } from './fs-port.ts';
import type { SpoolReporter } from './events.ts';

/** What durability needs of a segment: its write handle, and whether it still takes writes. */
export interface SyncTarget {
  writer: SpoolFile | undefined;
  sealed: boolean;
}

/** What fsync of a directory answers where it is not supported (Windows, some runtimes and file systems). */
const UNSUPPORTED = new Set(['EINVAL', 'ENOTSUP', 'EOPNOTSUPP', 'EPERM', 'EISDIR', 'EBADF', 'ENOSYS']);

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

  // What fails to sync stays due, and is tried again at the next interval or flush.
  async syncAll(): Promise<void> {
    let failed = false;
    for (const segment of [...this.unsynced]) {
      try {
        await segment.writer?.sync();
        this.unsynced.delete(segment);
        if (segment.sealed) await this.release(segment);
      } catch (error) {
        failed = true;
        this.reporter.warnOnce('fsync of a segment', error);
      }
    }
    if (this.directoryUnsynced && this.directorySyncWorks) {
      try {
        await this.fs.syncDirectory(this.dir);
        this.directoryUnsynced = false;
      } catch (error) {
        failed = true;
        // Some platforms (and runtimes) cannot fsync a directory; the files themselves are still synced.
        if (UNSUPPORTED.has(errorCode(error))) this.directorySyncWorks = false;
        else this.reporter.warnOnce('fsync of the spool directory', error);
      }
    }
    try {
      await this.cursor.sync();
    } catch (error) {
      failed = true;
      this.reporter.warnOnce('fsync of the acknowledgement cursor', error);
    }
    if (failed) this.schedule();
  }

  /**
   * Files found at open may hold data only in the page cache, written by a process that was killed before it
   * synced: sync them now, or a power cut soon after the restart would still lose what the next flush promises.
   * Syncing clean files costs next to nothing.
   */
  async syncFound(paths: string[]): Promise<void> {
    if (paths.length === 0) return;
    for (const path of paths) {
      try {
        const file = await this.fs.open(path, 'r');
        try {
          await file.sync();
        } finally {
          await file.close().catch(() => undefined);
        }
      } catch (error) {
        this.reporter.warnOnce('fsync of a file found at start', error);
      }
    }
    this.directoryUnsynced = true;
    await this.syncAll();
  }

  stop(): void {
    this.stopped = true;
    this.clock.clearTimeout(this.timer);
    this.timer = undefined;
  }
}
