// Makes the simulator look like a serial port: socat creates a pseudo-terminal whose slave end is linked at `path`,
// and copies what we write on its stdin to it. The datalogger opens `path` as it would /dev/ttyUSB0.
import { spawn, type ChildProcess } from 'node:child_process';
import { chmod, chown, lstat, readFile, readlink } from 'node:fs/promises';
import type { Logger } from '../log/logger.ts';
import { ConfigError } from '../config/config-error.ts';
import { waitForDrain, type OutputFailure, type TelegramOutput } from './output.ts';

const LINK_DEADLINE_MS = 5000;
const EXIT_DEADLINE_MS = 3000;

async function linkTarget(path: string): Promise<string | undefined> {
  try {
    return (await lstat(path)).isSymbolicLink() ? await readlink(path) : '';
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

function exited(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once('exit', () => resolve());
  });
}

export class PtyOutput implements TelegramOutput {
  private socat: ChildProcess | undefined;
  private closing = false;
  private socatLog = '';

  /**
   * `lossless`: wait while nobody reads the pty instead of skipping telegrams (benchmarks). `group`: the pty becomes
   * read-write for this group, as a USB serial adapter's device is for dialout, so a service user can open it.
   */
  constructor(
    private readonly path: string,
    private readonly lossless: boolean,
    private readonly log: Logger,
    private readonly onFailure: OutputFailure,
    private readonly group?: { name: string; required: boolean },
  ) {}

  get description(): string {
    return `pty ${this.path}`;
  }

  async open(): Promise<void> {
    // socat replaces whatever is at the link path; only ever replace a pty link left behind by an earlier run.
    const before = await linkTarget(this.path);
    if (before !== undefined && !before.startsWith('/dev/pts/')) {
      throw new ConfigError(`--pty ${this.path} already exists and is not a link to a pty; choose a path that does not exist`);
    }

    // Own process group: a Ctrl-C in the terminal stops us, and we stop socat, in that order.
    const socat = spawn('socat', ['-d', '-d', `pty,raw,echo=0,link=${this.path}`, 'STDIO'], {
      stdio: ['pipe', 'ignore', 'pipe'],
      detached: true,
    });
    this.socat = socat;
    socat.stderr!.on('data', (chunk: Buffer) => (this.socatLog = (this.socatLog + chunk.toString()).slice(-2000)));
    socat.stdin!.on('error', () => {}); // reported through the exit of socat
    const started = new Promise<void>((resolve, reject) => {
      socat.once('error', (error: NodeJS.ErrnoException) =>
        reject(error.code === 'ENOENT' ? new Error('--pty needs socat, which is not installed (Debian/Ubuntu: apt-get install socat)') : error),
      );
      socat.once('exit', () => reject(new Error(`socat stopped: ${this.lastSocatLine()}`)));
      const deadline = Date.now() + LINK_DEADLINE_MS;
      const poll = async () => {
        const target = await linkTarget(this.path).catch(() => undefined);
        if (target?.startsWith('/dev/pts/') && target !== before) return resolve();
        if (Date.now() > deadline) return reject(new Error(`socat did not create ${this.path} within ${LINK_DEADLINE_MS / 1000} s`));
        setTimeout(poll, 20);
      };
      void poll();
    });
    try {
      await started;
      if (this.group !== undefined) await this.shareWithGroup(this.group.name, this.group.required);
    } catch (error) {
      await this.stopSocat();
      throw error;
    }
    socat.on('exit', () => {
      if (!this.closing) this.onFailure(new Error(`socat stopped unexpectedly: ${this.lastSocatLine()}`));
    });
    this.log.info(`pty ready: open ${this.path} (${await readlink(this.path)}) as the serial port`);
  }

  private async shareWithGroup(group: string, required: boolean): Promise<void> {
    const device = await readlink(this.path);
    const gid = /^\d+$/.test(group) ? Number(group) : await groupId(group);
    let problem: string | undefined;
    if (gid === undefined) problem = 'no such group in /etc/group';
    else {
      try {
        await chown(device, -1, gid);
        await chmod(device, 0o660);
        return;
      } catch (error) {
        problem = `cannot give ${device} to that group (${(error as NodeJS.ErrnoException).code}): run as root or as a member of ${group}`;
      }
    }
    if (required) throw new ConfigError(`--pty-group ${group}: ${problem}, or give --pty-group none`);
    this.log.warn(`the pty stays private to this user: group ${group}: ${problem} (--pty-group none silences this)`);
  }

  private lastSocatLine(): string {
    const lines = this.socatLog.trim().split('\n');
    return lines[lines.length - 1] || 'no message';
  }

  async write(telegram: Buffer): Promise<void> {
    const stdin = this.socat?.stdin;
    if (!stdin?.writable) return;
    // While nobody has the pty open its buffer fills up; a real meter's telegrams then go nowhere too.
    if (stdin.writableNeedDrain && !this.lossless) return;
    if (!stdin.write(telegram) && this.lossless) await waitForDrain(stdin);
  }

  async close(): Promise<void> {
    this.closing = true;
    await this.stopSocat();
  }

  private async stopSocat(): Promise<void> {
    const socat = this.socat;
    if (!socat || socat.pid === undefined) return;
    this.closing = true;
    socat.stdin?.end(); // socat forwards what it has, removes the link and exits at end of input
    const timer = setTimeout(() => socat.kill('SIGTERM'), EXIT_DEADLINE_MS);
    await exited(socat);
    clearTimeout(timer);
  }
}

async function groupId(name: string): Promise<number | undefined> {
  const line = (await readFile('/etc/group', 'utf8')).split('\n').find((l) => l.startsWith(`${name}:`));
  return line === undefined ? undefined : Number(line.split(':')[2]);
}
