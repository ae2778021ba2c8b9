// The little the spool needs from a file system, as a port: the real one below, and an in-memory one in the tests
// that fails on purpose (ENOSPC, EIO, torn writes, a power cut) where a real disk cannot be made to, without root.
// Errors carry Node's `code` (ENOENT, EEXIST, ENOSPC, EIO, ...), whichever implementation raised them.
import * as fs from '../../platform/promised-fs.ts';

export interface SpoolFile {
  /** Bytes read into buffer[offset...] from `position`; 0 at the end of the file. */
  read(buffer: Uint8Array, offset: number, length: number, position: number): Promise<number>;
  /** Bytes written from buffer[offset...] at `position`; fewer than asked only when the file system says so. */
  write(buffer: Uint8Array, offset: number, length: number, position: number): Promise<number>;
  truncate(length: number): Promise<void>;
  sync(): Promise<void>;
  size(): Promise<number>;
  close(): Promise<void>;
}

/** r: read; r+: read and write an existing file; w+: create or empty, then read and write; wx: create, never reuse. */
export type OpenMode = 'r' | 'r+' | 'w+' | 'wx';

export interface SpoolFs {
  /** Creates the directory and its parents; nothing if it exists. */
  mkdir(dir: string): Promise<void>;
  readdir(dir: string): Promise<string[]>;
  open(path: string, mode: OpenMode): Promise<SpoolFile>;
  /** The whole file, or undefined when there is none. */
  readFile(path: string): Promise<Buffer | undefined>;
  /** Last modification, epoch ms. */
  mtimeMs(path: string): Promise<number>;
  rename(from: string, to: string): Promise<void>;
  truncate(path: string, length: number): Promise<void>;
  unlink(path: string): Promise<void>;
  /** Makes created, renamed and removed names in the directory durable. */
  syncDirectory(dir: string): Promise<void>;
}

class NodeFile implements SpoolFile {
  constructor(private readonly fd: number) {}

  read(buffer: Uint8Array, offset: number, length: number, position: number): Promise<number> {
    return fs.read(this.fd, buffer, offset, length, position);
  }

  write(buffer: Uint8Array, offset: number, length: number, position: number): Promise<number> {
    return fs.write(this.fd, buffer, offset, length, position);
  }

  truncate(length: number): Promise<void> {
    return fs.ftruncate(this.fd, length);
  }

  sync(): Promise<void> {
    return fs.fsync(this.fd);
  }

  async size(): Promise<number> {
    return (await fs.fstat(this.fd)).size;
  }

  close(): Promise<void> {
    return fs.close(this.fd);
  }
}

export const nodeFs: SpoolFs = {
  async mkdir(dir) {
    await fs.mkdir(dir, { recursive: true });
  },
  readdir: (dir) => fs.readdir(dir),
  open: async (path, mode) => new NodeFile(await fs.open(path, mode)),
  async readFile(path) {
    try {
      return await fs.readFile(path);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
  },
  mtimeMs: async (path) => (await fs.stat(path)).mtimeMs,
  rename: (from, to) => fs.rename(from, to),
  truncate: (path, length) => fs.truncate(path, length),
  unlink: (path) => fs.unlink(path),
  async syncDirectory(dir) {
    const fd = await fs.open(dir, 'r');
    try {
      await fs.fsync(fd);
    } finally {
      await fs.close(fd).catch(() => undefined);
    }
  },
};

export function errorCode(error: unknown): string {
  return (error as NodeJS.ErrnoException)?.code ?? 'EUNKNOWN';
}

export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Writes all of `data` at `position`, however many calls the file system takes. */
export async function writeFully(file: SpoolFile, data: Uint8Array, position: number): Promise<void> {
  let written = 0;
  while (written < data.length) {
    const bytes = await file.write(data, written, data.length - written, position + written);
    if (bytes <= 0) throw Object.assign(new Error('write made no progress'), { code: 'EIO' });
    written += bytes;
  }
}
