// One line per event on stdout: ISO timestamp, level, message. Quiet by default: SD cards wear out.
import type { Writable } from 'node:stream';
import { isoTime } from '../platform/iso-time.ts';

export type LogLevel = 'error' | 'warn' | 'info' | 'debug';

const RANK: Record<LogLevel, number> = { error: 0, warn: 1, info: 2, debug: 3 };

export interface Logger {
  error(message: string): void;
  warn(message: string): void;
  info(message: string): void;
  debug(message: string): void;
  enabled(level: LogLevel): boolean;
}

export function createLogger(level: LogLevel, write: (line: string) => void = writeStdoutLine): Logger {
  const emit = (at: LogLevel, message: string) => {
    if (RANK[at] <= RANK[level]) write(`${isoTime()} ${at.toUpperCase()} ${message}\n`);
  };
  return {
    error: (m) => emit('error', m),
    warn: (m) => emit('warn', m),
    info: (m) => emit('info', m),
    debug: (m) => emit('debug', m),
    enabled: (at) => RANK[at] <= RANK[level],
  };
}

// Whoever reads our output may go away (`| head -1`, a log collector that stops): the write then fails with EPIPE,
// which as an unhandled 'error' event would end the process and with it the delivery of what is queued. A stream
// whose reader has gone is dropped from then on; what it would have shown is lost, nothing else is.
const gone = new WeakSet<Writable>();
const watched = new WeakSet<Writable>();

function watch(stream: Writable): void {
  if (watched.has(stream)) return;
  watched.add(stream);
  stream.on('error', () => gone.add(stream));
}

/** Writes to a stream of ours (stdout, stderr); resolves, never rejects, once written or once the reader has gone. */
export function writeQuietly(stream: Writable, text: string): Promise<void> {
  watch(stream);
  if (gone.has(stream) || stream.destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    try {
      stream.write(text, (err) => {
        if (err) gone.add(stream);
        resolve();
      });
    } catch {
      gone.add(stream);
      resolve();
    }
  });
}

/** Whether the reader of `stream` went away: then a command that only prints can stop, as if done. */
export function readerGone(stream: Writable): boolean {
  return gone.has(stream) || stream.destroyed;
}

export function writeStdout(text: string): Promise<void> {
  return writeQuietly(process.stdout, text);
}

function writeStdoutLine(line: string): void {
  void writeStdout(line);
}
