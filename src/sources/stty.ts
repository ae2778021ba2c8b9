// Configures a serial line with the stty program (GNU coreutils or BusyBox, Linux `-F DEVICE` syntax), so the
// serial source needs no native addon.
import { spawn } from 'node:child_process';
import type { SerialSettings } from './serial-settings.ts';

export interface SttyArguments {
  /** Speed, raw byte transport and flow control: without these the port cannot be read correctly. */
  line: string[];
  /** Character framing (data bits, parity, stop bits). A pseudo-terminal has no framing and may refuse these. */
  framing: string[];
}

const STTY_TIMEOUT_MS = 10_000;

/** Translates the settings into stty operands; throws for settings stty cannot express. */
export function sttyArguments(settings: SerialSettings): SttyArguments {
  const { baudRate, dataBits, parity, stopBits } = settings;
  if (!Number.isInteger(baudRate) || baudRate <= 0) {
    throw new Error(`serial speed must be a positive whole number of baud, got ${baudRate}`);
  }
  if (![5, 6, 7, 8].includes(dataBits)) {
    throw new Error(`serial data bits must be 5, 6, 7 or 8, got ${dataBits}`);
  }
  if (stopBits !== 1 && stopBits !== 2) {
    throw new Error(`serial stop bits must be 1 or 2 with the stty backend (termios has no 1.5), got ${stopBits}`);
  }
  const parityFlags: Record<SerialSettings['parity'], string[]> = {
    none: ['-parenb', '-parodd', '-cmspar'],
    even: ['parenb', '-parodd', '-cmspar'],
    odd: ['parenb', 'parodd', '-cmspar'],
    // "Stick" parity: cmspar makes the parity bit constant, parodd chooses 1 (mark) or 0 (space).
    mark: ['parenb', 'parodd', 'cmspar'],
    space: ['parenb', '-parodd', 'cmspar'],
  };
  if (!(parity in parityFlags)) {
    throw new Error(`serial parity must be none, even, odd, mark or space, got ${String(parity)}`);
  }
  return {
    line: [
      String(baudRate),
      // raw: no line editing, no signals, no CR/NL translation, no input parity checking (the telegram CRC catches
      // corrupt bytes), reads return as soon as one byte is there (min 1 time 0). GNU raw leaves echo and iexten on.
      'raw',
      '-echo',
      '-iexten',
      // clocal: no modem control lines on a P1 cable, so never wait for carrier or hang up on its absence.
      'clocal',
      'cread',
      ...(settings.rtscts ? ['crtscts'] : ['-crtscts']),
      ...(settings.xonxoff ? ['ixon', 'ixoff'] : ['-ixon', '-ixoff']),
      '-ixany',
      'min',
      '1',
      'time',
      '0',
    ],
    framing: [`cs${dataBits}`, ...parityFlags[parity], stopBits === 2 ? 'cstopb' : '-cstopb'],
  };
}

/** Runs `stty -F path operands...`; rejects with stty's own complaint, or a clear message when stty is missing. */
export function runStty(path: string, operands: string[]): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const child = spawn('stty', ['-F', path, ...operands], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    let settled = false;
    const settle = (err?: Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (err) reject(err);
      else resolve();
    };
    // stty opens the device non-blocking and only does ioctls, so a hang means a broken driver; do not wait forever.
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      settle(new Error(`stty did not finish within ${STTY_TIMEOUT_MS / 1000} s configuring ${path}`));
    }, STTY_TIMEOUT_MS);
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (text: string) => {
      stderr += text;
    });
    child.once('error', (err: NodeJS.ErrnoException) => {
      settle(
        err.code === 'ENOENT'
          ? new Error('the stty program was not found on PATH; the stty serial backend needs it (coreutils or busybox)')
          : new Error(`cannot run stty: ${err.message}`),
      );
    });
    child.once('close', (code, signal) => {
      if (code === 0) return settle();
      const complaint = stderr.trim().split('\n').join('; ') || (signal ? `killed by ${signal}` : `exit status ${code}`);
      settle(new Error(`stty ${operands.join(' ')} failed on ${path}: ${complaint}`));
    });
  });
}
