// The meter's serial port: a pair of linked ptys made by socat. The datalogger opens one end (devicePath) as if it
// were /dev/ttyUSB0, the test or bench writes telegrams into the other (meterPath). The one pty helper behind the
// tests (test/helpers/pty.ts) and the bench. Types: pty.d.mts beside it.
//
// socat 1.7.4 behaviour, checked on Debian 12 (see test/integration/helpers.test.ts):
// - Bytes written while nothing has the device side open are NOT lost: they wait in the kernel tty buffers and
//   socat, and whoever opens the device side later reads them. Closing and reopening the device side does not
//   stop socat either.
// - That buffering is bounded (about 38 KB); past it the meter side stops accepting bytes (flow control, not loss).
//   write() then keeps retrying until its deadline and fails with "stalled", so a writer of a lot must make sure
//   something reads the device side.
// - vanish() ends socat with SIGTERM: socat removes both links, the datalogger's open device fd gets a hangup
//   (reads end with EOF/EIO), and writes to the old meter fd fail with EIO. Bytes still in flight are lost.
// - restore() starts a new socat on the same link paths; the /dev/pts numbers behind them may differ.
import { spawn } from 'node:child_process';
import { closeSync, constants, existsSync, lstatSync, openSync, realpathSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { waitUntil } from './wait.mjs';

const CHUNK = 65536;
const STOP_DEADLINE_MS = 5_000;
/** @type {Set<import('node:child_process').ChildProcess>} */
const running = new Set();

process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

/**
 * @param {string} dir
 * @param {import('./pty.d.mts').PtyOptions} [opts]
 * @returns {Promise<import('./pty.d.mts').Pty>}
 */
export async function openPty(dir, { retryMs = 5 } = {}) {
  const devicePath = join(dir, 'ttyDSMR');
  const meterPath = join(dir, 'ttyMETER');
  /** @type {import('node:child_process').ChildProcess | undefined} */
  let socat;
  let socatLog = '';
  let devicePts = '';
  /** @type {number | undefined} */
  let meterFd;

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
    const child = spawn('socat', ['-d', '-d', `pty,raw,echo=0,link=${devicePath}`, `pty,raw,echo=0,link=${meterPath}`], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    running.add(child);
    let exited = false;
    /** @type {Error | undefined} */
    let spawnError;
    child.once('error', (error) => {
      spawnError = error;
    });
    child.once('exit', () => {
      exited = true;
      running.delete(child);
    });
    const logStart = socatLog.length;
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (/** @type {string} */ text) => {
      socatLog += text;
    });
    socat = child;
    await waitUntil(
      () => {
        if (spawnError) throw new Error(`cannot start socat (is it installed?): ${spawnError.message}`);
        if (exited) throw new Error(`socat exited early: ${socatLog.slice(logStart)}`);
        return existsSync(devicePath) && existsSync(meterPath) && socatLog.slice(logStart).includes('starting data transfer loop');
      },
      { timeoutMs: 10_000, what: `socat to link ${devicePath} and ${meterPath}` },
    ).catch((/** @type {unknown} */ error) => {
      child.kill('SIGKILL');
      throw error;
    });
    devicePts = realpathSync(devicePath);
  };

  const stop = async () => {
    closeMeter();
    const child = socat;
    socat = undefined;
    if (child && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once('exit', () => resolve(true)));
      child.kill('SIGTERM');
      const inTime = await Promise.race([exited, sleep(STOP_DEADLINE_MS, false)]);
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

  /**
   * @param {Buffer | string} bytes
   * @param {{ timeoutMs?: number }} [writeOpts]
   */
  const write = async (bytes, { timeoutMs = 30_000 } = {}) => {
    const data = typeof bytes === 'string' ? Buffer.from(bytes, 'latin1') : bytes;
    const deadline = performance.now() + timeoutMs;
    if (!socat) throw new Error(`pty write: socat is not running (vanished?) for ${meterPath}`);
    // Non-blocking, so a full pty never freezes the event loop (a stand-in server in it must keep answering).
    meterFd ??= openSync(meterPath, constants.O_WRONLY | constants.O_NOCTTY | constants.O_NONBLOCK);
    let offset = 0;
    while (offset < data.length) {
      try {
        offset += writeSync(meterFd, data, offset, Math.min(CHUNK, data.length - offset));
        continue;
      } catch (error) {
        if (/** @type {NodeJS.ErrnoException} */ (error).code !== 'EAGAIN') throw error;
      }
      if (performance.now() >= deadline) {
        throw new Error(
          `pty write stalled after ${timeoutMs}ms: ${offset} of ${data.length} bytes accepted; is anything reading ${devicePath}?`,
        );
      }
      await sleep(retryMs);
    }
    return performance.now();
  };

  await start();
  return {
    devicePath,
    meterPath,
    get devicePts() {
      return devicePts;
    },
    get socatPid() {
      return socat?.pid;
    },
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

/** @param {string} path */
function isLink(path) {
  try {
    return lstatSync(path).isSymbolicLink();
  } catch {
    return false;
  }
}
