// A pulled and replugged cable: the built datalogger reopens the port within 0.5 s of its return because it watches
// the port's directory, where the poll behind that watch would take 3 s. Each round starts the replug right after
// the datalogger logged a failed attempt on the missing port, so the poll's next try is 3 s away and cannot be what
// opens the port.
import { lstatSync, realpathSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { fdsOpenOn } from '../helpers/fds.ts';
import { openPty } from '../helpers/pty.ts';
import { waitFor } from '../helpers/wait.ts';
import { expectDelivered, makeTelegrams, Scene, waitForDelivery } from './faults-kit.ts';

const RETURN_BOUND_MS = 500;
const POLL_MS = 3000;
const FAILED_ATTEMPT = /^(\S+) (?:WARN|DEBUG) serial port \S+ (?:still )?cannot be opened \(ENOENT\)/;

let scene: Scene;

beforeEach(() => {
  scene = new Scene();
});

afterEach(async () => {
  await scene.close();
});

/** Whether process `pid` has the pty behind `link` open; false while the link is missing. */
function holdsDevice(pid: number, link: string): boolean {
  let device: string;
  try {
    device = realpathSync(link);
  } catch {
    return false;
  }
  return fdsOpenOn(device, pid).length > 0;
}

describe('serial port replugged', () => {
  it.each(['native', 'stty'])('is open again within 0.5 s of its return, three times in a row (%s backend)', async (backend) => {
    const api = await scene.server();
    const meter = await openPty(scene.dir);
    scene.onCleanup(() => meter.close());
    const sent = makeTelegrams(4, 41);
    const dl = scene.start(api, {
      DSMRREADER_REMOTE_DATALOGGER_SERIAL_PORT: meter.devicePath,
      DSMR_DATALOGGER_DSMR_VERSION: '5',
      DSMR_DATALOGGER_SERIAL_BACKEND: backend,
    });
    const pid = dl.proc.pid!;
    await dl.waitForLine(/serial port .* opened/);
    await meter.write(sent[0]);
    await waitForDelivery(api, 1, 15_000);

    const figures: number[] = [];
    for (let round = 1; round <= 3; round++) {
      const from = dl.lines.length;
      await meter.vanish();
      await dl.waitForLine(/WARN serial port .* lost/, 10_000, from);
      // The last failed attempt before the replug: the poll would try next 3 s after it.
      const failed = await dl.waitForLine(FAILED_ATTEMPT, POLL_MS + 5_000, from);
      const failedAt = Date.parse(FAILED_ATTEMPT.exec(failed)![1]);

      let openedAt = 0;
      const opened = waitFor(() => holdsDevice(pid, meter.devicePath) && (openedAt = Date.now()), {
        intervalMs: 1,
        timeoutMs: POLL_MS + 5_000,
        what: `round ${round}: the datalogger to hold the port again`,
      });
      await meter.restore();
      // The link's own change time is the moment it reappeared.
      const returnedAt = lstatSync(meter.devicePath).ctimeMs;
      await opened;
      const latency = openedAt - returnedAt;
      figures.push(latency);
      expect(latency, `round ${round}: opened ${latency.toFixed(1)} ms after the port returned`).toBeLessThan(RETURN_BOUND_MS);
      expect(openedAt - failedAt, `round ${round}: opened ${openedAt - failedAt} ms after the last failed attempt, which the ${POLL_MS} ms poll cannot do`).toBeLessThan(POLL_MS - RETURN_BOUND_MS);

      // And it reads: the telegram the meter sends now arrives. Written once the open is complete: serialport
      // flushes what is waiting while it opens.
      await dl.waitForLine(/INFO serial port \S+ opened at/, 5_000, from);
      await meter.write(sent[round]);
      await waitForDelivery(api, round + 1, 15_000);
    }
    expectDelivered(api.stored, sent, 0);
    console.log(`${backend} backend: port open again ${figures.map((ms) => ms.toFixed(1)).join(' ms, ')} ms after it returned`);
    expect((await dl.stop('SIGTERM')).code).toBe(0);
  }, 90_000);
});
