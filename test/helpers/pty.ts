// A pair of linked ptys made by socat stands in for the meter's serial port: the datalogger opens one end
// (devicePath), the test writes telegrams into the other (meterPath).
//
// socat 1.7.4 behaviour, checked on Debian 12 (see test/unit/helpers.test.ts):
// - Bytes written while nothing has the device side open are NOT lost: they wait in the kernel tty buffers and
//   socat, and whoever opens the device side later reads them. Closing and reopening the device side does not
//   stop socat either.
// - That buffering is bounded (about 38 KB); past it the meter side stops accepting bytes (flow control, not loss).
//   write() then keeps retrying until its deadline and fails with "stalled", so a test that writes a lot must make
//   sure something reads the device side.
// - vanish() ends socat with SIGTERM: socat removes both links, the datalogger's open device fd gets a hangup
//   (reads end with EOF/EIO), and writes to the old meter fd fail with EIO. Bytes still in flight are lost.
// - restore() starts a new socat on the same link paths; the /dev/pts numbers behind them may differ.
import { spawn, type ChildProcess } from 'node:child_process';
import { constants, closeSync, existsSync, lstatSync, openSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { sleep, waitFor } from './wait.ts';

export interface Pty {
  /** The path the datalogger opens, as if it were /dev/ttyUSB0. */
  devicePath: string;
  /** The path the test writes to, as if it were the meter. */
  meterPath: string;
  /** Writes to the meter side; resolves once every byte is accepted by the pty. */
  write(bytes: Buffer | string, opts?: { timeoutMs?: number }): Promise<void>;
  /** Kills socat: both links disappear and the datalogger's port dies. */
  vanish(): Promise<void>;
  /** Starts socat again with the same link paths. */
  restore(): Promise<void>;
  close(): Promise<void>;
  /** socat's -d -d output so far, for failure messages. */
  log(): string;
}

const CHUNK = 4096;
const running = new Set<ChildProcess>();

process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

export async function openPty(dir: string): Promise<Pty> {
  const devicePath = join(dir, 'ttyDSMR');
  const meterPath = join(dir, 'ttyMETER');
  let socat: ChildProcess | undefined;
  let socatLog = '';
  let meterFd: number | undefined;

  const closeMeter = () => {
    if (meterFd === undefined) return;
    try {
      closeSync(meterFd);
    } catch {
      // Already gone with the pty; nothing to release.
    }
    meterFd = undefined;
  };

  const start = async () => {
    // Stale links (e.g. from a socat that was SIGKILLed) would make the wait below succeed too early.
    rmSync(devicePath, { force: true });
    rmSync(meterPath, { force: true });
    const child = spawn(
      'socat',
      ['-d', '-d', `pty,raw,echo=0,link=${devicePath}`, `pty,raw,echo=0,link=${meterPath}`],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    running.add(child);
    let exited = false;
    let spawnError: Error | undefined;
    child.once('error', (error) => {
      spawnError = error;
    });
    child.once('exit', () => {
      exited = true;
      running.delete(child);
    });
    const logStart = socatLog.length;
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (text: string) => {
      socatLog += text;
    });
    socat = child;
    await waitFor(
      () => {
        if (spawnError) throw new Error(`cannot start socat: ${spawnError.message}`);
        if (exited) throw new Error(`socat exited early: ${socatLog.slice(logStart)}`);
        return (
          existsSync(devicePath) &&
          existsSync(meterPath) &&
          socatLog.slice(logStart).includes('starting data transfer loop')
        );
      },
      { timeoutMs: 10_000, what: `socat to link ${devicePath} and ${meterPath}` },
    ).catch((error: unknown) => {
      child.kill('SIGKILL');
      throw error;
    });
  };

  const stop = async () => {
    closeMeter();
    const child = socat;
    socat = undefined;
    if (child && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill('SIGTERM');
      const inTime = await Promise.race([exited.then(() => true), sleep(5_000).then(() => false)]);
      if (!inTime) {
        child.kill('SIGKILL');
        await exited;
      }
    }
    // socat unlinks on SIGTERM; after a SIGKILL the links would dangle.
    for (const path of [devicePath, meterPath]) {
      if (isLink(path)) rmSync(path, { force: true });
    }
  };

  const write = async (bytes: Buffer | string, opts: { timeoutMs?: number } = {}) => {
    const data = typeof bytes === 'string' ? Buffer.from(bytes, 'latin1') : bytes;
    const timeoutMs = opts.timeoutMs ?? 30_000;
    const deadline = Date.now() + timeoutMs;
    if (!socat) throw new Error(`pty write: socat is not running (vanished?) for ${meterPath}`);
    // Non-blocking, so a full pty never freezes the test's event loop or a libuv thread.
    meterFd ??= openSync(meterPath, constants.O_WRONLY | constants.O_NOCTTY | constants.O_NONBLOCK);
    let offset = 0;
    while (offset < data.length) {
      const end = Math.min(offset + CHUNK, data.length);
      try {
        offset += writeSync(meterFd, data, offset, end - offset);
        continue;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EAGAIN') throw error;
      }
      if (Date.now() >= deadline) {
        throw new Error(
          `pty write stalled after ${timeoutMs}ms: ${offset} of ${data.length} bytes accepted; ` +
            `is anything reading ${devicePath}?`,
        );
      }
      await sleep(5);
    }
  };

  await start();
  return {
    devicePath,
    meterPath,
    write,
    vanish: stop,
    restore: async () => {
      if (socat) throw new Error('pty restore: socat is still running');
      await start();
    },
    close: stop,
    log: () => socatLog,
  };
}

function isLink(path: string): boolean {
  try {
    return lstatSync(path).isSymbolicLink();
  } catch {
    return false;
  }
}
