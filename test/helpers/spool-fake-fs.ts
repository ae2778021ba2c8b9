// An in-memory file system for the spool (src/buffers/spool/fs-port.ts) that fails on purpose: a capacity (ENOSPC
// with short writes, as Linux does), injected errors and torn writes, a killed process (open handles die, the page
// cache stays) and a power cut (everything not fsynced is gone: file contents since their last fsync, directory
// entries since the directory's last fsync). Pure and in-process: no mount, no root.
import { dirname } from 'node:path';
import type { OpenMode, SpoolFile, SpoolFs } from '../../src/buffers/spool/fs-port.ts';

export type FaultKind = 'open' | 'openRead' | 'read' | 'write' | 'truncate' | 'sync' | 'rename' | 'unlink' | 'syncDirectory';

/** What an injected fault does: fail with `code`; a write first puts `tornBytes` of its data down. */
export interface Fault {
  code: 'ENOSPC' | 'EIO';
  tornBytes?: number;
}

function fsError(code: string, what: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`${code}: ${what}`), { code });
}

class Bytes {
  private buf = Buffer.alloc(0);
  length = 0;

  static from(data: Uint8Array): Bytes {
    const bytes = new Bytes();
    bytes.write(0, data);
    return bytes;
  }

  write(at: number, data: Uint8Array): void {
    const end = at + data.length;
    if (end > this.buf.length) {
      const grown = Buffer.alloc(Math.max(end, this.buf.length * 2, 4096));
      this.buf.copy(grown, 0, 0, this.length);
      this.buf = grown;
    }
    if (at > this.length) this.buf.fill(0, this.length, at);
    this.buf.set(data, at);
    this.length = Math.max(this.length, end);
  }

  truncate(length: number): void {
    if (length > this.length) this.write(this.length, Buffer.alloc(length - this.length));
    this.length = length;
  }

  view(): Buffer {
    return this.buf.subarray(0, this.length);
  }

  copy(): Bytes {
    return Bytes.from(this.view());
  }
}

interface Inode {
  data: Bytes;
  /** Contents as of the last fsync; undefined: never synced (empty after a power cut). */
  durable: Bytes | undefined;
  mtimeMs: number;
}

export class FakeFs implements SpoolFs {
  private names = new Map<string, Inode>();
  private durableNames = new Map<string, Inode>();
  private dirs = new Set<string>(['/']);
  /** Open handles from before a kill or power cut belong to a dead process. */
  epoch = 0;
  /** Bytes the spool handed to write(), per file name. */
  readonly written = new Map<string, number>();
  writeCalls = 0;
  readCalls = 0;
  syncCalls = 0;
  faultsInjected = 0;
  readonly faultsByKind = new Map<FaultKind, number>();
  /** Total bytes the files may hold; past it writes are short, then fail with ENOSPC. */
  capacity = Infinity;
  /** Asked before every operation; a Fault makes it fail. */
  inject: ((kind: FaultKind, path: string) => Fault | undefined) | undefined;

  constructor(private readonly clock: { now(): number } = { now: () => 0 }) {}

  now(): number {
    return this.clock.now();
  }

  get bytesWritten(): number {
    let sum = 0;
    for (const bytes of this.written.values()) sum += bytes;
    return sum;
  }

  get usedBytes(): number {
    let sum = 0;
    for (const inode of new Set(this.names.values())) sum += inode.data.length;
    return sum;
  }

  /** The file's contents as the page cache has them (what a reader sees), or undefined. */
  contents(path: string): Buffer | undefined {
    return this.names.get(path)?.data.view();
  }

  list(dir: string): string[] {
    return [...this.names.keys()].filter((path) => dirname(path) === dir).map((path) => path.slice(dir.length + 1)).sort();
  }

  /** Puts a file there, as if written and synced long ago (for a spool left by an earlier release). */
  place(path: string, data: Uint8Array, mtimeMs = this.clock.now()): void {
    this.dirs.add(dirname(path));
    const inode: Inode = { data: Bytes.from(data), durable: Bytes.from(data), mtimeMs };
    this.names.set(path, inode);
    this.durableNames.set(path, inode);
  }

  /** The process dies: its open files are closed, the page cache (and so every completed write) survives. */
  kill(): void {
    this.epoch += 1;
  }

  /** The machine loses power: only what was fsynced (contents) and directory-fsynced (names) is left. */
  powerCut(): void {
    this.kill();
    this.names = new Map(this.durableNames);
    for (const inode of new Set(this.names.values())) inode.data = inode.durable?.copy() ?? new Bytes();
  }

  fault(kind: FaultKind, path: string): Fault | undefined {
    const fault = this.inject?.(kind, path);
    if (fault) {
      this.faultsInjected += 1;
      this.faultsByKind.set(kind, (this.faultsByKind.get(kind) ?? 0) + 1);
    }
    return fault;
  }

  private check(kind: FaultKind, path: string): void {
    const fault = this.fault(kind, path);
    if (fault) throw fsError(fault.code, `${kind} ${path} (injected)`);
  }

  async mkdir(dir: string): Promise<void> {
    for (let at = dir; at !== '/' && at !== '.'; at = dirname(at)) this.dirs.add(at);
  }

  async readdir(dir: string): Promise<string[]> {
    if (!this.dirs.has(dir)) throw fsError('ENOENT', `readdir ${dir}`);
    return this.list(dir);
  }

  async open(path: string, mode: OpenMode): Promise<SpoolFile> {
    this.check(mode === 'r' ? 'openRead' : 'open', path);
    if (!this.dirs.has(dirname(path))) throw fsError('ENOENT', `open ${path}`);
    let inode = this.names.get(path);
    if (mode === 'wx' && inode) throw fsError('EEXIST', `open ${path}`);
    if ((mode === 'r' || mode === 'r+') && !inode) throw fsError('ENOENT', `open ${path}`);
    if (!inode || mode === 'w+') {
      if (!inode) {
        inode = { data: new Bytes(), durable: undefined, mtimeMs: this.clock.now() };
        this.names.set(path, inode);
      } else inode.data.truncate(0);
    }
    return new FakeFile(this, path, inode, mode !== 'r', this.epoch);
  }

  async readFile(path: string): Promise<Buffer | undefined> {
    this.check('read', path);
    const inode = this.names.get(path);
    return inode ? Buffer.from(inode.data.view()) : undefined;
  }

  async mtimeMs(path: string): Promise<number> {
    const inode = this.names.get(path);
    if (!inode) throw fsError('ENOENT', `stat ${path}`);
    return inode.mtimeMs;
  }

  async rename(from: string, to: string): Promise<void> {
    this.check('rename', to);
    const inode = this.names.get(from);
    if (!inode) throw fsError('ENOENT', `rename ${from}`);
    this.names.delete(from);
    this.names.set(to, inode);
  }

  async truncate(path: string, length: number): Promise<void> {
    this.check('truncate', path);
    const inode = this.names.get(path);
    if (!inode) throw fsError('ENOENT', `truncate ${path}`);
    inode.data.truncate(length);
  }

  async unlink(path: string): Promise<void> {
    this.check('unlink', path);
    if (!this.names.delete(path)) throw fsError('ENOENT', `unlink ${path}`);
  }

  async syncDirectory(dir: string): Promise<void> {
    this.check('syncDirectory', dir);
    this.syncCalls += 1;
    for (const [path, inode] of this.durableNames) if (dirname(path) === dir && this.names.get(path) !== inode) this.durableNames.delete(path);
    for (const [path, inode] of this.names) if (dirname(path) === dir) this.durableNames.set(path, inode);
  }

  /** Room left for `wanted` more bytes. */
  room(wanted: number): number {
    return Math.max(0, Math.min(wanted, this.capacity - this.usedBytes));
  }
}

class FakeFile implements SpoolFile {
  private closed = false;

  constructor(
    private readonly fs: FakeFs,
    private readonly path: string,
    private readonly inode: Inode,
    private readonly writable: boolean,
    private readonly epoch: number,
  ) {}

  private alive(): void {
    if (this.closed || this.epoch !== this.fs.epoch) throw fsError('EBADF', `${this.path} is closed`);
  }

  async read(buffer: Uint8Array, offset: number, length: number, position: number): Promise<number> {
    this.fs.readCalls += 1;
    this.alive();
    const fault = this.fs.fault('read', this.path);
    if (fault) throw fsError(fault.code, `read ${this.path} (injected)`);
    const data = this.inode.data.view();
    const bytes = Math.max(0, Math.min(length, data.length - position));
    buffer.set(data.subarray(position, position + bytes), offset);
    return bytes;
  }

  async write(buffer: Uint8Array, offset: number, length: number, position: number): Promise<number> {
    this.alive();
    if (!this.writable) throw fsError('EBADF', `${this.path} is read-only`);
    this.fs.writeCalls += 1;
    const fault = this.fs.fault('write', this.path);
    const growth = Math.max(0, position + length - this.inode.data.length);
    const fits = growth === 0 ? length : length - growth + this.fs.room(growth);
    const put = Math.min(fault ? Math.min(fault.tornBytes ?? 0, length) : length, fits);
    if (put > 0) {
      this.inode.data.write(position, buffer.subarray(offset, offset + put));
      this.inode.mtimeMs = this.fs.now();
      this.fs.written.set(this.path, (this.fs.written.get(this.path) ?? 0) + put);
    }
    if (fault) throw fsError(fault.code, `write ${this.path} (injected${put > 0 ? `, ${put} bytes torn off` : ''})`);
    if (put === 0 && length > 0) throw fsError('ENOSPC', `write ${this.path}: no space left on device`);
    return put;
  }

  async truncate(length: number): Promise<void> {
    this.alive();
    const fault = this.fs.fault('truncate', this.path);
    if (fault) throw fsError(fault.code, `truncate ${this.path} (injected)`);
    this.inode.data.truncate(length);
  }

  async sync(): Promise<void> {
    this.alive();
    const fault = this.fs.fault('sync', this.path);
    if (fault) throw fsError(fault.code, `fsync ${this.path} (injected)`);
    this.fs.syncCalls += 1;
    this.inode.durable = this.inode.data.copy();
  }

  async size(): Promise<number> {
    this.alive();
    return this.inode.data.length;
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}
