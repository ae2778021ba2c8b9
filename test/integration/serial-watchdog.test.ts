// The watchdog on a real pty, for each backend: a port that stays open but goes silent is closed and reopened,
// said once per stall and counted in the status, reopened again (later) while it stays silent, and reads what the
// meter sends once it resumes.
import { mkdtempSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, onTestFailed } from 'vitest';
import { createLogger } from '../../src/log/logger.ts';
import type { SerialBackend } from '../../src/sources/serial-backend.ts';
import { nativeBackend } from '../../src/sources/serial-native.ts';
import { LINE_115200_8N1 } from '../../src/sources/serial-settings.ts';
import { sttyBackend } from '../../src/sources/serial-stty.ts';
import { SerialSource } from '../../src/sources/serial.ts';
import { fdsOpenOn } from '../helpers/fds.ts';
import { openPty, type Pty } from '../helpers/pty.ts';
import { waitFor } from '../helpers/wait.ts';

const backends: Array<[string, SerialBackend]> = [
  ['stty', sttyBackend],
  ['native', nativeBackend],
];

const SILENCE_MS = 1000;

describe.each(backends)('%s backend: a serial port that stays open but goes silent', (name, backend) => {
  let dir: string;
  let pty: Pty;
  let source: SerialSource | undefined;

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'serial-watchdog-'));
    pty = await openPty(dir);
  });

  afterEach(async () => {
    await source?.stop();
    source = undefined;
    await pty.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('is reopened, said once per stall, counted, and reads again when the meter resumes', async () => {
    const lines: string[] = [];
    onTestFailed(() => console.log(lines.join('')));
    const received: Buffer[] = [];
    let discontinuities = 0;
    const text = () => Buffer.concat(received).toString('latin1');
    /** The index of the first line from `from` on that matches, or -1. */
    const after = (re: RegExp, from = 0) => {
      const i = lines.slice(from).findIndex((l) => re.test(l));
      return i < 0 ? -1 : from + i;
    };
    source = new SerialSource({
      path: pty.devicePath,
      line: LINE_115200_8N1,
      backend,
      backendName: name,
      log: createLogger('debug', (line) => lines.push(line)),
      silenceMs: SILENCE_MS,
    });
    source.start({ data: (chunk) => received.push(chunk), discontinuity: () => discontinuities++, end: () => undefined });
    await waitFor(() => source!.status().state === 'open', { what: 'the port to open' });
    const device = realpathSync(pty.devicePath);
    await pty.write('/ISK5 first\r\n');
    await waitFor(() => text().includes('first'), { what: 'the first bytes' });
    const openSince = source.status().since;

    // Silent from here on: reopened after the timeout.
    const silent = await waitFor(() => after(/WARN serial port \S+ silent for 1(\.\d)? s; reopening it/) + 1, { timeoutMs: 5_000, what: 'the stall warning' });
    await waitFor(() => after(/DEBUG serial port \S+ reopened at 115200 8N1/, silent) >= 0, { timeoutMs: 5_000, what: 'the reopen' });
    expect(source.status()).toMatchObject({ state: 'open', stalls: 1 });
    expect(source.status().since).toBeGreaterThan(openSince);
    expect(discontinuities).toBe(1);
    expect(fdsOpenOn(device).length, 'the port is held open again').toBeGreaterThan(0);

    // Still silent: reopened again, 2 s later (the timeout doubled), without another warning.
    const firstReopenAt = Date.now();
    const again = await waitFor(() => after(/DEBUG serial port \S+ still silent after/, silent) + 1, { timeoutMs: 6_000, what: 'the second reopen' });
    // What arrives while the port is being reopened may be flushed by the open (serialport does): write once it is open.
    await waitFor(() => after(/DEBUG serial port \S+ reopened at/, again) >= 0, { timeoutMs: 5_000, what: 'the port open again' });
    expect(Date.now() - firstReopenAt).toBeGreaterThanOrEqual(2 * SILENCE_MS - 200);
    expect(lines.filter((l) => /WARN .*silent/.test(l))).toHaveLength(1);
    expect(source.status().stalls).toBe(1);

    // The meter resumes: what it sends is read through the reopened port, and that is said once.
    await pty.write('/ISK5 second\r\n');
    await waitFor(() => text().includes('second'), { what: 'bytes after the meter resumed' });
    await waitFor(() => after(/INFO serial port \S+ receiving again after \d+(\.\d)? s of silence/) >= 0, { what: 'the recovery line' });
    expect(source.status()).toMatchObject({ state: 'open', stalls: 1 });
    expect(text()).toBe('/ISK5 first\r\n/ISK5 second\r\n');
  }, 30_000);
});
