// The data directory: created at start with the true reason when it cannot be, and held by one datalogger at a time.
// Two on one directory would both replay the same spool: thousands of duplicates, and losses where their cursors
// overwrite each other.
//
// Why a lock file and not flock: Node has no flock (nor fcntl locks) without a native addon, and this must run on
// Node 18 to 24 and Deno alike. A lock file that names its holder does as well here, provided it is robust against:
//  - kill -9, a power cut: the file stays behind. It names the holder by PID, boot id and the process's start time
//    (from /proc), so a later start sees the holder is gone and takes the lock over.
//  - PID reuse: after a reboot or a long run another process may have that PID (in a container the datalogger is
//    often PID 1 every time). The boot id and start time differ then, so a reused PID does not count as the holder.
//  - two starting at once: the file is created whole and atomically (link of a finished temporary file, failing if
//    the lock exists), and a stale lock is removed only under a takeover mutex (an atomic mkdir), after reading it
//    again: so no starter can remove a lock that another has just taken.
// Without /proc (not Linux) the holder is checked with process.kill(pid, 0) alone.
import { closeSync, existsSync, linkSync, mkdirSync, openSync, readFileSync, rmdirSync, statSync, unlinkSync, writeFileSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { ConfigError } from '../config/config-error.ts';
import { SETTINGS } from '../config/settings.ts';
import { isoTime } from '../platform/iso-time.ts';

export const LOCK_FILE = 'dsmr-datalogger.lock';

/** A takeover mutex older than this was left by a starter that died in the middle: milliseconds of work. */
const STALE_TAKEOVER_MS = 10_000;
const RETRY_MS = 50;
const ATTEMPTS = 100;

interface LockHolder {
  pid: number;
  /** /proc/sys/kernel/random/boot_id: which boot the holder ran in. */
  boot?: string;
  /** Field 22 of /proc/PID/stat: when the holder started, in clock ticks since boot. */
  start?: string;
  since: string;
}

export interface DataDirLock {
  readonly path: string;
  /** Removes the lock, if it is still ours. Also done on any exit of the process. */
  release(): void;
}

/** Creates the data directory (and its parents) one level at a time; a ConfigError with the real cause if it cannot. */
export function prepareDataDir(dir: string): void {
  // mkdirSync's recursive mode reports ENOENT for a failure below a missing parent, where EROFS or EACCES is the
  // cause, and on some kernel file systems it never returns. One level at a time gives the real error.
  const missing: string[] = [];
  for (let at = dir; !existsSync(at) && dirname(at) !== at; at = dirname(at)) missing.unshift(at);
  for (const level of missing) {
    try {
      mkdirSync(level);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw cannotUse(dir, 'created', err);
    }
  }
  if (!statSync(dir).isDirectory()) throw new ConfigError(`${SETTINGS.dataDir.env} is "${dir}", which is not a directory: expected a directory this user can write`);
}

/** Takes the data directory for this process, or throws a ConfigError naming the process that holds it. */
export function lockDataDir(dir: string): DataDirLock {
  const path = join(dir, LOCK_FILE);
  const mine = JSON.stringify(describeSelf());
  for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
    if (tryCreate(path, mine)) return held(path, mine);
    const text = readText(path);
    if (text === undefined) continue; // released in between: try again
    const holder = parseHolder(text);
    if (holder && holderRuns(holder)) {
      throw new ConfigError(
        `${SETTINGS.dataDir.env} is "${dir}", which another dsmr-datalogger uses: ${describeHolder(holder)}. Two on one data directory ` +
          'would send the same spool twice: stop that one first, or give this one a data directory of its own',
      );
    }
    if (!takeOver(path, text)) pause(RETRY_MS);
  }
  throw new ConfigError(`${SETTINGS.dataDir.env} is "${dir}": its lock ${path} stays contended; is a datalogger starting there in a loop?`);
}

function held(path: string, mine: string): DataDirLock {
  let released = false;
  const release = () => {
    if (released) return;
    released = true;
    process.off('exit', release);
    try {
      if (readText(path) === mine) unlinkSync(path);
    } catch {
      // Gone already, or the directory went read-only: the next start finds the holder is not running.
    }
  };
  process.on('exit', release);
  return { path, release };
}

/** Creates the lock with our content, whole, unless one exists. */
function tryCreate(path: string, content: string): boolean {
  const temporary = `${path}.${process.pid}.tmp`;
  try {
    writeFileSync(temporary, content, { mode: 0o644 });
  } catch (err) {
    throw cannotUse(dirname(path), 'written', err);
  }
  try {
    linkSync(temporary, path);
    return true;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') return false;
    // A file system without hard links (FAT, some FUSE mounts): an exclusive create, written at once.
    if (code === 'EPERM' || code === 'ENOTSUP' || code === 'EOPNOTSUPP' || code === 'ENOSYS') return createExclusive(path, content);
    throw cannotUse(dirname(path), 'written', err);
  } finally {
    try {
      unlinkSync(temporary);
    } catch {
      // Nothing to clean up.
    }
  }
}

function createExclusive(path: string, content: string): boolean {
  let fd: number;
  try {
    fd = openSync(path, 'wx', 0o644);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw cannotUse(dirname(path), 'written', err);
  }
  try {
    writeSync(fd, content);
  } finally {
    closeSync(fd);
  }
  return true;
}

/** Removes the stale lock `text` under the takeover mutex; false when another starter holds the mutex. */
function takeOver(path: string, text: string): boolean {
  const mutex = `${path}.takeover`;
  try {
    mkdirSync(mutex);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw cannotUse(dirname(path), 'written', err);
    try {
      if (Date.now() - statSync(mutex).mtimeMs > STALE_TAKEOVER_MS) rmdirSync(mutex);
    } catch {
      // Released in between.
    }
    return false;
  }
  try {
    // Read again under the mutex: it may be a lock another starter has taken since.
    if (readText(path) === text) unlinkSync(path);
  } finally {
    rmdirSync(mutex);
  }
  return true;
}

function readText(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw cannotUse(dirname(path), 'read', err);
  }
}

function parseHolder(text: string): LockHolder | undefined {
  try {
    const holder = JSON.parse(text) as LockHolder;
    return Number.isSafeInteger(holder.pid) && holder.pid > 0 ? holder : undefined;
  } catch {
    // Left half-written by a crash on a file system without links: nobody holds it.
    return undefined;
  }
}

function describeSelf(): LockHolder {
  return { pid: process.pid, boot: bootId(), start: startTime(process.pid), since: isoTime() };
}

function holderRuns(holder: LockHolder): boolean {
  // Our own PID in the lock is an earlier life of this program (a container's PID 1), not a running holder.
  if (holder.pid === process.pid) return false;
  const boot = bootId();
  if (boot !== undefined) {
    if (holder.boot !== undefined && holder.boot !== boot) return false;
    const start = startTime(holder.pid);
    return start !== undefined && (holder.start === undefined || start === holder.start);
  }
  try {
    process.kill(holder.pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function describeHolder(holder: LockHolder): string {
  let command = '';
  try {
    command = readFileSync(`/proc/${holder.pid}/cmdline`, 'utf8').split('\0').join(' ').trim();
  } catch {
    // Not Linux, or not ours to read.
  }
  if (command.length > 160) command = `${command.slice(0, 159)}…`;
  return `PID ${holder.pid}${command ? ` (${command})` : ''}, running since ${holder.since}`;
}

function bootId(): string | undefined {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  } catch {
    return undefined;
  }
}

function startTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    // "pid (comm) state ppid ...": comm may hold spaces and parentheses, so count fields from the last ")".
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // A zombie (Z) or dying (X) process has ended already: it holds nothing.
    return fields[0] === 'Z' || fields[0] === 'X' ? undefined : fields[19];
  } catch {
    return undefined;
  }
}

function pause(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

const REASONS: Record<string, string> = {
  EROFS: 'a read-only file system',
  EACCES: 'permission denied',
  EPERM: 'not permitted',
  ENOSPC: 'no space left',
  ENOTDIR: 'a part of the path is a file',
};

function cannotUse(dir: string, what: string, err: unknown): ConfigError {
  const code = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
  const reason = REASONS[code] ? `${code}: ${REASONS[code]}` : code;
  return new ConfigError(`${SETTINGS.dataDir.env} is "${dir}", which cannot be ${what} (${reason}): expected a directory this user can write`);
}
