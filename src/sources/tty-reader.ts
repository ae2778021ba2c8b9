// Reads a terminal device file without native addons, under Node and under Deno.
//
// Opening and reading are separate steps so the caller can configure the line (stty) while our descriptor holds the
// device open: some drivers reset a port's settings when its last descriptor closes, so settings applied by a
// short-lived stty process alone could be lost before we read.
//
// Node: a plain fs read stream on a tty does blocking reads on the libuv threadpool, which cannot be interrupted by
// close() and starves other fs work. tty.ReadStream instead puts the device in non-blocking mode and lets the event
// loop poll it, so data arrives promptly, idle costs no CPU, and a vanished device ends the stream (EOF or EIO).
// Deno: serialport's addon gets no data there (it relies on libuv polling) and node:tty only covers stdio, so we use
// Deno.open and FsFile.read; Deno cancels a pending read when the file is closed.
import { Buffer } from 'node:buffer';
import { close as closeFd, constants, open as openFd } from 'node:fs';
import { isatty, ReadStream } from 'node:tty';
import type { SerialConnection } from './serial-backend.ts';

export interface TtyReader {
  /** Starts delivering bytes; `onEnd` fires once: with an error when the device vanished, without one after close(). */
  start(onData: (chunk: Buffer) => void, onEnd: (err?: Error) => void): void;
  /** Stops reading and releases the device; resolves when the descriptor is closed. */
  close(): Promise<void>;
}

// Just the parts of the Deno namespace we use; the project type-checks against @types/node only.
interface DenoFsFile {
  read(buffer: Uint8Array): Promise<number | null>;
  close(): void;
  isTerminal(): boolean;
}
interface DenoNamespace {
  open(path: string, options: { read: boolean }): Promise<DenoFsFile>;
}

function denoNamespace(): DenoNamespace | undefined {
  return (globalThis as { Deno?: DenoNamespace }).Deno;
}

/** Opens the device for reading; rejects (with the system error code, e.g. ENOENT) when it cannot be opened or is not a terminal. */
export async function openTtyReader(path: string): Promise<TtyReader> {
  const deno = denoNamespace();
  return deno ? openWithDeno(deno, path) : openWithNode(path);
}

function endOfFileError(path: string): Error {
  return Object.assign(new Error(`${path}: the device closed (end of file)`), { code: 'EOF' });
}

function notATerminalError(path: string): Error {
  return Object.assign(new Error(`${path} is not a serial device (not a terminal)`), { code: 'ENOTTY' });
}

function openError(path: string, cause: unknown): Error {
  const reason = cause instanceof Error ? cause.message : String(cause);
  const code = (cause as { code?: unknown } | null)?.code;
  return Object.assign(new Error(`cannot open ${path}: ${reason}`, { cause }), typeof code === 'string' ? { code } : {});
}

async function openWithNode(path: string): Promise<TtyReader> {
  // O_NOCTTY: a service started by systemd is a session leader, and the port must not become its controlling
  // terminal (a hangup would then send it SIGHUP). O_NONBLOCK: a port without carrier detect must not block open().
  const flags = constants.O_RDONLY | constants.O_NOCTTY | constants.O_NONBLOCK;
  const fd = await new Promise<number>((resolve, reject) =>
    openFd(path, flags, (err, opened) => (err ? reject(openError(path, err)) : resolve(opened))),
  );
  const release = () => new Promise<void>((resolve) => closeFd(fd, () => resolve()));
  if (!isatty(fd)) {
    await release();
    throw notATerminalError(path);
  }

  let stream: ReadStream | undefined;
  let ownsFd = true;
  let closing = false;
  let closed: Promise<void> | undefined;

  return {
    start(onData, onEnd) {
      if (stream || closing) return;
      const reading = new ReadStream(fd);
      stream = reading;
      // libuv reopens a tty by its name so that it can make its own descriptor non-blocking; our original fd then
      // stays ours to close. If it could not reopen, it reads our fd and closes it itself with the stream.
      const streamFd = (reading as unknown as { _handle?: { fd?: unknown } })._handle?.fd;
      ownsFd = typeof streamFd === 'number' && streamFd >= 0 && streamFd !== fd;
      let reason: Error | undefined;
      reading.on('data', (chunk: Buffer) => {
        if (!closing) onData(chunk);
      });
      reading.once('end', () => {
        reason ??= endOfFileError(path);
      });
      reading.once('error', (err: Error) => {
        reason ??= err;
      });
      closed = new Promise<void>((resolve) => {
        reading.once('close', () => {
          const finish = () => {
            onEnd(closing ? undefined : (reason ?? endOfFileError(path)));
            resolve();
          };
          if (ownsFd) closeFd(fd, finish);
          else finish();
        });
      });
    },
    async close() {
      if (!closing) {
        closing = true;
        if (stream) stream.destroy();
        else closed = release();
      }
      await closed;
    },
  };
}

async function openWithDeno(deno: DenoNamespace, path: string): Promise<TtyReader> {
  // Deno.open offers no O_NOCTTY; Deno is only a session leader when started directly as a service, and then a
  // hangup of the port may deliver SIGHUP (the service manager restarts it).
  let file: DenoFsFile;
  try {
    file = await deno.open(path, { read: true });
  } catch (err) {
    throw openError(path, err);
  }
  if (!file.isTerminal()) {
    file.close();
    throw notATerminalError(path);
  }

  let closing = false;
  let closed = false;
  let loop: Promise<void> | undefined;
  const closeFile = () => {
    if (closed) return;
    closed = true;
    try {
      file.close();
    } catch {
      // Already closed by Deno after a failed read; nothing left to release.
    }
  };

  return {
    start(onData, onEnd) {
      if (loop || closing) return;
      loop = (async () => {
        // One buffer reused for every read; each chunk is copied out so callers may keep it.
        const buffer = new Uint8Array(64 * 1024);
        let reason: Error | undefined;
        try {
          for (;;) {
            const n = await file.read(buffer);
            if (n === null) {
              reason = endOfFileError(path);
              break;
            }
            if (n > 0 && !closing) onData(Buffer.from(buffer.subarray(0, n)));
          }
        } catch (err) {
          // close() cancels the pending read ("Interrupted"); anything else means the device went away.
          reason = err instanceof Error ? err : new Error(String(err));
        }
        closeFile();
        onEnd(closing ? undefined : reason);
      })();
    },
    async close() {
      closing = true;
      closeFile();
      await loop;
    },
  };
}

/**
 * A reader as a serial connection. The reader starts at once so a vanished device is noticed even before anyone
 * listens; what arrives before the callbacks are registered is held and handed over on registration, so no byte and
 * no close is lost. `release` frees what else holds the port (serialport's descriptor), once: when the device ends
 * and when the connection is closed.
 */
export function ttyConnection(reader: TtyReader, release?: () => Promise<void>): SerialConnection {
  let dataListener: ((chunk: Buffer) => void) | undefined;
  let closeListener: ((err?: Error) => void) | undefined;
  const heldData: Buffer[] = [];
  let ended: { err?: Error } | undefined;
  let released: Promise<void> | undefined;
  const releaseOnce = () => (released ??= release?.() ?? Promise.resolve());

  reader.start(
    (chunk) => {
      if (dataListener) dataListener(chunk);
      else heldData.push(chunk);
    },
    (err) => {
      const end = () => {
        ended = { err };
        closeListener?.(err);
      };
      if (release) void releaseOnce().then(end);
      else end();
    },
  );

  return {
    onData(cb) {
      dataListener = cb;
      for (const chunk of heldData.splice(0)) cb(chunk);
    },
    onClose(cb) {
      closeListener = cb;
      if (ended) {
        const { err } = ended;
        queueMicrotask(() => cb(err));
      }
    },
    close: async () => {
      await reader.close();
      await releaseOnce();
    },
  };
}
