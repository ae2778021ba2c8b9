// Where the simulated meter's telegrams go. A real meter never waits for its reader; the simulator only does when
// asked to (--fast, for benchmarks), otherwise a reader that cannot keep up misses telegrams, as with a real meter.
import type { Writable } from 'node:stream';

export interface TelegramOutput {
  /** For the start-up log line, e.g. "tcp 127.0.0.1:8088". */
  readonly description: string;
  open(): Promise<void>;
  /** Resolves once the output can take the next telegram. */
  write(telegram: Buffer): Promise<void>;
  /** Delivers what was written, then releases the output. */
  close(): Promise<void>;
}

/** Called when an output can go on no longer: `undefined` when the reader went away normally (a closed pipe). */
export type OutputFailure = (error: Error | undefined) => void;

export function waitForDrain(stream: Writable): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      stream.off('drain', done);
      stream.off('close', done);
      stream.off('error', done);
      resolve();
    };
    stream.on('drain', done);
    stream.on('close', done);
    stream.on('error', done);
  });
}

/** stdout or an opened file or device: every telegram is delivered, in order. */
export class StreamOutput implements TelegramOutput {
  private lastWrite: Promise<void> = Promise.resolve();
  private broken = false;

  constructor(
    readonly description: string,
    private readonly stream: Writable,
    private readonly ownsStream: boolean,
    onFailure: OutputFailure,
  ) {
    stream.on('error', (error: NodeJS.ErrnoException) => {
      if (this.broken) return;
      this.broken = true;
      onFailure(error.code === 'EPIPE' ? undefined : error);
    });
  }

  async open(): Promise<void> {
    if (!this.ownsStream) return;
    // A file stream opens asynchronously; report a missing directory or a permission problem before the first telegram.
    await new Promise<void>((resolve, reject) => {
      this.stream.once('ready', resolve);
      this.stream.once('error', reject);
    });
  }

  async write(telegram: Buffer): Promise<void> {
    if (this.broken) return;
    let accepted = true;
    this.lastWrite = new Promise<void>((resolve) => {
      accepted = this.stream.write(telegram, () => resolve());
    });
    if (!accepted) await waitForDrain(this.stream);
  }

  async close(): Promise<void> {
    if (this.broken) {
      if (this.ownsStream) this.stream.destroy();
      return;
    }
    await this.lastWrite;
    if (this.ownsStream) await new Promise<void>((resolve) => this.stream.end(() => resolve()));
  }
}
