// A fresh, minimal Debian root for the release test: debootstrap (minbase + curl and sudo, as on a new Raspberry Pi
// OS Lite) from the mirror the host's apt uses, cached as a tarball keyed by suite and arch, unpacked per test and
// entered with chroot. proc, sys and dev/pts (the host's, so a pty made on the host is the root's serial port) are
// mounted into it and taken out again, also when a test fails.
//
// Safety: a mount target is never a symlink (a half-made root, e.g. debootstrap --foreign, can hold proc -> /proc,
// and mounting or unmounting through it would hit the host's). Teardown kills every process whose root is inside,
// unmounts only real mountpoints below the root (findmnt), deepest first, and removes the tree with
// --one-file-system only once no mount is left below it.
import { spawn, spawnSync, type SpawnOptions } from 'node:child_process';
import { appendFileSync, copyFileSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, realpathSync, renameSync, rmSync, statSync } from 'node:fs';
import { homedir, hostname } from 'node:os';
import { join } from 'node:path';

export const SUITE = 'bookworm';
const INCLUDE = ['curl', 'sudo'];

export interface CommandResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export function cacheDir(): string {
  return join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'dsmr-datalogger-test');
}

function hostArch(): string {
  return spawnSync('dpkg', ['--print-architecture'], { encoding: 'utf8' }).stdout.trim() || 'amd64';
}

/** The Debian mirror of the host's apt sources (one-line or deb822 format), security and updates suites aside. */
export function debianMirror(): string {
  const files = ['/etc/apt/sources.list'];
  if (existsSync('/etc/apt/sources.list.d')) {
    for (const name of readdirSync('/etc/apt/sources.list.d').sort()) {
      if (name.endsWith('.list') || name.endsWith('.sources')) files.push(join('/etc/apt/sources.list.d', name));
    }
  }
  for (const file of files) {
    if (!existsSync(file)) continue;
    const text = readFileSync(file, 'utf8');
    for (const line of text.split('\n')) {
      const m = /^deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+(\S+)/.exec(line.trim());
      if (m && !/security|updates|backports/.test(m[2]!) && /debian/.test(m[1]!)) return m[1]!;
    }
    for (const block of text.split(/\n\s*\n/)) {
      const uri = /^URIs:\s*(\S+)/m.exec(block)?.[1];
      const suites = /^Suites:\s*(.+)$/m.exec(block)?.[1]?.split(/\s+/) ?? [];
      const types = /^Types:\s*(.+)$/m.exec(block)?.[1] ?? 'deb';
      if (uri && types.split(/\s+/).includes('deb') && suites.some((s) => !/security|updates|backports/.test(s)) && !/security/.test(uri)) return uri;
    }
  }
  throw new Error('no Debian mirror found in /etc/apt/sources.list*');
}

function runSync(command: string, args: string[], what: string): string {
  const result = spawnSync(command, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 * 1024 * 1024 });
  if (result.error) throw new Error(`${what}: cannot run ${command}: ${result.error.message}`);
  if (result.status !== 0) throw new Error(`${what}: ${command} ${args.join(' ')} exited ${result.status}\n${result.stdout.slice(-2000)}\n${result.stderr.slice(-2000)}`);
  return result.stdout;
}

/** Real mountpoints at or below dir, deepest first (findmnt lists what the kernel has, never following symlinks). */
export function mountsBelow(dir: string): string[] {
  const out = runSync('findmnt', ['-rn', '-o', 'TARGET'], 'listing mounts');
  return out
    .split('\n')
    .map((t) => t.replace(/\\x20/g, ' '))
    .filter((t) => t === dir || t.startsWith(`${dir}/`))
    .sort((a, b) => b.length - a.length);
}

/** Removes a tree only when nothing is mounted below it, and never crosses into another file system. */
function removeTree(dir: string): void {
  if (!existsSync(dir)) return;
  const left = mountsBelow(realpathSync(dir));
  if (left.length > 0) throw new Error(`refusing to remove ${dir}: still mounted below it: ${left.join(', ')}`);
  runSync('rm', ['-rf', '--one-file-system', dir], `removing ${dir}`);
}

export interface RootTarball {
  path: string;
  /** Seconds debootstrap took, when this call had to make it; undefined when it came from the cache. */
  madeInSeconds: number | undefined;
}

/** The cached tarball of a minimal root, made with debootstrap when missing. */
export function ensureRootTarball(log: (line: string) => void = () => {}): RootTarball {
  const arch = hostArch();
  const dir = cacheDir();
  const path = join(dir, `debian-${SUITE}-${arch}-minbase-${INCLUDE.join('+')}.tar`);
  if (existsSync(path)) return { path, madeInSeconds: undefined };
  mkdirSync(dir, { recursive: true });
  // The release and install tests may both start on a machine without the root: one makes it, the other waits.
  const lock = `${path}.lock`;
  const waitUntil = Date.now() + 30 * 60_000;
  for (;;) {
    try {
      mkdirSync(lock);
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      // A lock older than any debootstrap run was left by a test that was killed.
      if (Date.now() - statSync(lock).mtimeMs > 30 * 60_000) rmSync(lock, { recursive: true, force: true });
      else if (Date.now() > waitUntil) throw new Error(`${lock} is still held after 30 minutes`);
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1000);
    }
  }
  try {
    if (existsSync(path)) return { path, madeInSeconds: undefined };
    return makeRootTarball(path, dir, arch, log);
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

function makeRootTarball(path: string, dir: string, arch: string, log: (line: string) => void): RootTarball {
  const build = join(dir, `build-${process.pid}`);
  removeTree(build);
  const started = Date.now();
  const mirror = debianMirror();
  log(`debootstrap ${SUITE} ${arch} from ${mirror} (first run; cached as ${path})`);
  try {
    runSync('debootstrap', ['--variant=minbase', `--include=${INCLUDE.join(',')}`, `--arch=${arch}`, SUITE, build, mirror], 'debootstrap');
    // debootstrap mounts proc and sys inside while it works; a failure can leave them there.
    for (const mount of mountsBelow(build)) runSync('umount', ['-l', mount], `unmounting ${mount}`);
    // Package lists and downloaded .debs are not part of a fresh machine.
    for (const sub of ['var/cache/apt/archives', 'var/lib/apt/lists']) {
      for (const name of readdirSync(join(build, sub))) {
        if (name.endsWith('.deb') || (sub.endsWith('lists') && name !== 'partial' && name !== 'lock')) rmSync(join(build, sub, name), { force: true });
      }
    }
    runSync('tar', ['-C', build, '--numeric-owner', '-cf', `${path}.partial`, '.'], 'packing the root');
    renameSync(`${path}.partial`, path);
  } finally {
    for (const mount of mountsBelow(build)) spawnSync('umount', ['-l', mount]);
    removeTree(build);
    rmSync(`${path}.partial`, { force: true });
  }
  const madeInSeconds = (Date.now() - started) / 1000;
  log(`debootstrap and packing took ${madeInSeconds.toFixed(0)} s`);
  return { path, madeInSeconds };
}

const CHROOT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

export class DebianRoot {
  private readonly mounted: string[] = [];

  private constructor(readonly dir: string) {}

  /** Unpacks the cached root into dir (which must not exist) and mounts proc, sys and the host's dev/pts into it. */
  static async create(dir: string, tarball: string): Promise<DebianRoot> {
    mkdirSync(dir, { recursive: false });
    const root = new DebianRoot(realpathSync(dir));
    try {
      runSync('tar', ['-C', root.dir, '--numeric-owner', '-xf', tarball], 'unpacking the root');
      // Name resolution for apt inside, as the host has it.
      copyFileSync('/etc/resolv.conf', join(root.dir, 'etc/resolv.conf'));
      // As on an installed system, the host name resolves (sudo asks for it).
      appendFileSync(join(root.dir, 'etc/hosts'), `127.0.1.1\t${hostname()}\n`);
      root.mount(['-t', 'proc', 'proc'], 'proc');
      root.mount(['-t', 'sysfs', 'sysfs'], 'sys');
      root.mount(['--bind', '/dev/pts'], 'dev/pts');
    } catch (error) {
      await root.destroy();
      throw error;
    }
    return root;
  }

  private mount(source: string[], relative: string): void {
    const target = join(this.dir, relative);
    // lstat, not stat: a symlink here would lead the mount out of the root.
    const st = lstatSync(target, { throwIfNoEntry: false });
    if (st?.isSymbolicLink()) throw new Error(`refusing to mount on ${target}: it is a symlink (to ${readlinkSync(target)})`);
    if (!st) mkdirSync(target, { recursive: true });
    else if (!st.isDirectory()) throw new Error(`refusing to mount on ${target}: not a directory`);
    runSync('mount', [...source, target], `mounting ${relative}`);
    this.mounted.push(target);
  }

  /** Binds a host directory (e.g. an apt package cache kept between runs) onto a directory of the root. */
  bind(hostDir: string, relative: string): void {
    mkdirSync(hostDir, { recursive: true });
    this.mount(['--bind', hostDir], relative);
  }

  path(relative: string): string {
    return join(this.dir, relative);
  }

  /** Runs a shell command line inside the root, as root, in a clean environment, with no stdin. */
  sh(script: string, opts: { timeoutMs?: number; env?: Record<string, string> } = {}): Promise<CommandResult> {
    return runCommand('chroot', this.chrootArgs(script, opts.env), { timeoutMs: opts.timeoutMs ?? 120_000 });
  }

  /** chroot's arguments for a shell command line inside, with a clean environment. */
  chrootArgs(script: string, env: Record<string, string> = {}): string[] {
    const vars = Object.entries({ PATH: CHROOT_PATH, HOME: '/root', LANG: 'C', TERM: 'dumb', ...env }).map(([k, v]) => `${k}=${v}`);
    return [this.dir, '/usr/bin/env', '-i', ...vars, '/bin/sh', '-c', script];
  }

  /** Processes whose root directory is this root (supervisord, the program, anything they started). */
  processesInside(): number[] {
    const pids: number[] = [];
    for (const name of readdirSync('/proc')) {
      if (!/^\d+$/.test(name)) continue;
      try {
        if (readlinkSync(`/proc/${name}/root`) === this.dir) pids.push(Number(name));
      } catch {
        // Gone, or not ours to look at.
      }
    }
    return pids;
  }

  /** Stops everything inside, takes every mount out again and removes the tree. Safe to call more than once. */
  async destroy(): Promise<void> {
    for (const signal of ['SIGTERM', 'SIGKILL'] as const) {
      const pids = this.processesInside();
      if (pids.length === 0) break;
      for (const pid of pids) {
        try {
          process.kill(pid, signal);
        } catch {
          // Already gone.
        }
      }
      const deadline = Date.now() + 10_000;
      while (this.processesInside().length > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    }
    const problems: string[] = [];
    // Every real mountpoint below the root, ours and any a package script made, deepest first.
    for (const mount of mountsBelow(this.dir)) {
      if (mount === this.dir) continue;
      if (lstatSync(mount, { throwIfNoEntry: false })?.isSymbolicLink()) {
        problems.push(`${mount} is a symlink; not unmounting through it`);
        continue;
      }
      const plain = spawnSync('umount', [mount], { encoding: 'utf8' });
      if (plain.status !== 0) {
        const lazy = spawnSync('umount', ['-l', mount], { encoding: 'utf8' });
        if (lazy.status !== 0) problems.push(`umount -l ${mount}: ${lazy.stderr.trim()}`);
      }
    }
    this.mounted.length = 0;
    if (problems.length > 0) throw new Error(`cleaning up ${this.dir}: ${problems.join('; ')}`);
    removeTree(this.dir);
  }
}

export function runCommand(
  command: string,
  args: string[],
  opts: { timeoutMs: number; input?: string; spawn?: SpawnOptions },
): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'], ...opts.spawn });
    let stdout = '';
    let stderr = '';
    child.stdout!.setEncoding('utf8').on('data', (t: string) => (stdout += t));
    child.stderr!.setEncoding('utf8').on('data', (t: string) => (stderr += t));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${command} ${args.slice(-1)[0]} took longer than ${opts.timeoutMs} ms\n--- stdout\n${stdout}\n--- stderr\n${stderr}`));
    }, opts.timeoutMs);
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
    if (opts.input !== undefined) child.stdin!.end(opts.input);
  });
}

export function fileSizeBelow(dir: string, skip: (name: string) => boolean = () => false): number {
  if (!existsSync(dir)) return 0;
  let total = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (skip(entry.name)) continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory()) total += fileSizeBelow(path, skip);
    else if (entry.isFile()) total += statSync(path).size;
  }
  return total;
}
