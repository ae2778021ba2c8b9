// The meter's serial port: a pair of linked ptys made by socat. The datalogger opens `devicePath` as if it were
// /dev/ttyUSB0; the bench writes telegrams into `meterPath`. Bytes written while the device side is busy wait in the
// kernel and in socat (about 38 KB), beyond that the meter side stops taking bytes: flow control, never loss.
import { spawn } from 'node:child_process';
import { closeSync, constants, existsSync, openSync, realpathSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { waitUntil } from './wait.mjs';

const CHUNK = 65536;

export async function openPty(dir) {
  const devicePath = join(dir, 'ttyDSMR');
  const meterPath = join(dir, 'ttyMETER');
  rmSync(devicePath, { force: true });
  rmSync(meterPath, { force: true });
  const socat = spawn('socat', ['-d', '-d', `pty,raw,echo=0,link=${devicePath}`, `pty,raw,echo=0,link=${meterPath}`], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let log = '';
  let failure;
  socat.once('error', (err) => (failure = err));
  socat.once('exit', (code, signal) => (failure ??= new Error(`socat exited (${code ?? signal}): ${log}`)));
  socat.stderr.setEncoding('utf8');
  socat.stderr.on('data', (text) => (log += text));
  await waitUntil(
    () => {
      if (failure) throw failure;
      return existsSync(devicePath) && existsSync(meterPath) && log.includes('starting data transfer loop');
    },
    { timeoutMs: 10_000, what: 'socat to create the pty pair (is socat installed?)' },
  );

  // Non-blocking, so a full pty never freezes the bench's event loop (its HTTP server must keep answering).
  const meterFd = openSync(meterPath, constants.O_WRONLY | constants.O_NOCTTY | constants.O_NONBLOCK);

  /**
   * Writes every byte, waiting whenever the pty is full. Resolves with performance.now() taken right after the
   * last byte was accepted by the pty.
   */
  const write = async (bytes, { timeoutMs = 60_000 } = {}) => {
    const deadline = performance.now() + timeoutMs;
    let offset = 0;
    while (offset < bytes.length) {
      try {
        offset += writeSync(meterFd, bytes, offset, Math.min(CHUNK, bytes.length - offset));
        continue;
      } catch (err) {
        if (err.code !== 'EAGAIN') throw err;
      }
      if (performance.now() > deadline) {
        throw new Error(`the pty took ${offset} of ${bytes.length} bytes in ${timeoutMs} ms: is the datalogger reading ${devicePath}?`);
      }
      await sleep(1);
    }
    return performance.now();
  };

  const close = async () => {
    try {
      closeSync(meterFd);
    } catch {
      // already closed
    }
    if (socat.exitCode === null && socat.signalCode === null) {
      const exited = new Promise((resolve) => socat.once('exit', resolve));
      socat.kill('SIGTERM');
      await Promise.race([exited, sleep(5000)]);
      if (socat.exitCode === null && socat.signalCode === null) socat.kill('SIGKILL');
    }
  };

  return {
    socatPid: socat.pid,
    devicePath,
    meterPath,
    /** The /dev/pts/N behind devicePath: what shows up in /proc/PID/fd once the datalogger has the port open. */
    devicePts: realpathSync(devicePath),
    write,
    close,
  };
}
