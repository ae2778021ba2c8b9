import { createReadStream } from 'node:fs';
import type { Readable } from 'node:stream';
import type { Source, SourceEvents } from './source.ts';

/** A recorded capture, or stdin ("-"): replayed once, then the input ends. */
export class FileSource implements Source {
  private stream: Readable | undefined;

  constructor(private readonly path: string) {}

  get description(): string {
    return this.path === '-' ? 'stdin' : `file ${this.path}`;
  }

  start(events: SourceEvents): void {
    const stream = this.path === '-' ? process.stdin : createReadStream(this.path);
    this.stream = stream;
    stream.on('data', (chunk: Buffer | string) => events.data(typeof chunk === 'string' ? Buffer.from(chunk, 'latin1') : chunk));
    stream.on('end', () => events.end());
    stream.on('error', (err: NodeJS.ErrnoException) => {
      events.failed?.(new Error(`cannot read ${this.description}: ${err.code ?? err.message}`));
    });
  }

  async stop(): Promise<void> {
    this.stream?.pause();
    if (this.stream !== process.stdin) this.stream?.destroy();
  }
}
