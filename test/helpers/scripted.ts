// Scripted ports for in-process tests of the core: a source the test feeds, a sink that answers as the test says.
import type { Source, SourceEvents, SourceStatus } from '../../src/sources/source.ts';
import type { DeliveryResult, Sink } from '../../src/sinks/sink.ts';
import { createLogger, type Logger } from '../../src/log/logger.ts';

export class ScriptedSource implements Source {
  readonly description = 'scripted input';
  events: SourceEvents | undefined;
  confirmations = 0;
  stopped = false;

  start(events: SourceEvents): void {
    this.events = events;
  }

  async stop(): Promise<void> {
    this.stopped = true;
  }

  confirmed(): void {
    this.confirmations++;
  }

  status(): SourceStatus {
    return { kind: 'serial', target: '/dev/scripted', line: '115200 8N1', state: this.stopped ? 'closed' : 'open', since: 0, stalls: 0 };
  }

  feed(bytes: string | Buffer): void {
    this.events!.data(typeof bytes === 'string' ? Buffer.from(bytes, 'latin1') : bytes);
  }
}

export type Answer = DeliveryResult | Promise<DeliveryResult>;

/** Answers each post with answer(telegram, attempt); counts what it took. */
export class ScriptedSink implements Sink {
  readonly kind = 'dsmr-reader' as const;
  readonly target = 'http://scripted';
  readonly received: string[] = [];
  readonly attempts = new Map<string, number>();
  posts = 0;
  closed = false;

  constructor(public answer: (telegram: string, attempt: number) => Answer = () => ({ outcome: 'delivered' })) {}

  async post(telegram: Buffer): Promise<DeliveryResult> {
    this.posts++;
    const key = telegram.toString('latin1');
    const n = (this.attempts.get(key) ?? 0) + 1;
    this.attempts.set(key, n);
    const result = await this.answer(key, n);
    if (result.outcome === 'delivered') this.received.push(key);
    return result;
  }

  close(): void {
    this.closed = true;
  }
}

/** A logger that keeps its lines, without timestamps. */
export function recordingLogger(): Logger & { lines: string[] } {
  const lines: string[] = [];
  return Object.assign(createLogger('debug', (l) => lines.push(l.replace(/^\S+ /, '').trim())), { lines });
}
