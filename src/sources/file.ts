import { createReadStream } from 'node:fs';
import type { Readable } from 'node:stream';
import { type Clock, systemClock } from '../core/clock.ts';
import { InputStateTracker } from './input-state.ts';
import type { Source, SourceEvents, SourceStatus } from './source.ts';

/** A recorded capture, or stdin ("-"): replayed once, then the input ends. */
export class FileSource implements Source {
  private stream: Readable | undefined;
  private readonly state: InputStateTracker;

  constructor(
    private readonly path: string,
    clock: Clock = systemClock,
  ) {
    this.state = new InputStateTracker(clock);
  }

  get description(): string {
    return this.path === '-' ? 'stdin' : `file ${this.path}`;
  }

  status(): SourceStatus {
    return { kind: 'file', target: this.path === '-' ? 'stdin' : this.path, state: this.state.state, since: this.state.since, stalls: 0 };
  }

  start(events: SourceEvents): void {
    const stream = this.path === '-' ? process.stdin : createReadStream(this.path);
    this.stream = stream;
    this.state.set('open');
    stream.on('data', (chunk: Buffer | string) => events.data(typeof chunk === 'string' ? Buffer.from(chunk, 'latin1') : chunk));
    stream.on('end', () => {
      this.state.set('closed');
      events.end();
    });
    stream.on('error', (err: NodeJS.ErrnoException) => {
      this.state.set('closed');
      events.failed?.(new Error(`cannot read ${this.description}: ${err.code ?? err.message}`));
    });
  }

  async stop(): Promise<void> {
    this.state.set('closed');
    this.stream?.pause();
    if (this.stream !== process.stdin) this.stream?.destroy();
  }
}
