// Only one program can read the meter. With the datalogger holding the port, `detect` names it and says how to stop
// it rather than "no meter found"; a second datalogger that finds the port locked says who holds it, once, and
// opens the port when that one stops.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startDatalogger } from '../helpers/datalogger.ts';
import { openPty } from '../helpers/pty.ts';
import { waitFor } from '../helpers/wait.ts';
import { basename } from 'node:path';
import { makeTelegrams, programCommand, Scene, waitForDelivery } from './faults-kit.ts';

/** How the holder is named: the program, and the script when an interpreter runs it (node dsmr-datalogger.cjs). */
const HOLDER_NAME = programCommand().map((part) => basename(part)).join(' ');

let scene: Scene;

beforeEach(() => {
  scene = new Scene();
});

afterEach(async () => {
  await scene.close();
});

async function detect(args: string[]): Promise<{ code: number | null; output: string }> {
  const run = startDatalogger({ args: ['detect', ...args] });
  const { code } = await run.waitForExit(30_000);
  return { code, output: run.lines.join('\n') };
}

describe('a serial port another program holds', () => {
  it.each(['native', 'stty'])('detect names the running datalogger (%s backend) and how to stop it', async (backend) => {
    const api = await scene.server();
    const meter = await openPty(scene.dir);
    scene.onCleanup(() => meter.close());
    const dl = scene.start(api, {
      DSMRREADER_REMOTE_DATALOGGER_SERIAL_PORT: meter.devicePath,
      DSMR_DATALOGGER_DSMR_VERSION: '5',
      DSMR_DATALOGGER_SERIAL_BACKEND: backend,
    });
    await dl.waitForLine(/serial port .* opened/);
    const pid = dl.proc.pid!;

    const text = await detect(['--serial-port', meter.devicePath, '--seconds', '2']);
    expect(text.code).toBe(1);
    expect(text.output).toContain(`serial ${meter.devicePath} is in use by PID ${pid} (${HOLDER_NAME}): only one program can read the meter`);
    expect(text.output).toContain('stop it first: sudo supervisorctl stop dsmr-datalogger');
    expect(text.output).not.toMatch(/no meter found/);

    const json = await detect(['--json', '--serial-port', meter.devicePath, '--seconds', '2']);
    const report = JSON.parse(json.output) as { found: boolean; portInUse: string | null; notes: string[] };
    expect(report).toMatchObject({ found: false, portInUse: `PID ${pid} (${HOLDER_NAME})` });
    expect(report.notes).toEqual(['stop it first: sudo supervisorctl stop dsmr-datalogger']);

    // The datalogger kept reading all along: detect did not take its telegrams.
    const sent = makeTelegrams(2, 51);
    await meter.write(Buffer.concat(sent));
    await waitForDelivery(api, 2, 15_000);
  }, 60_000);

  it('a second datalogger finds the port locked: names the holder once, opens it when the first one stops', async () => {
    const api = await scene.server();
    const meter = await openPty(scene.dir);
    scene.onCleanup(() => meter.close());
    const env = { DSMRREADER_REMOTE_DATALOGGER_SERIAL_PORT: meter.devicePath, DSMR_DATALOGGER_DSMR_VERSION: '5', DSMR_DATALOGGER_SERIAL_BACKEND: 'native' };
    const first = scene.start(api, env);
    await first.waitForLine(/serial port .* opened/);
    const second = scene.start(api, { ...env, DSMR_DATALOGGER_DATA_DIR: `${scene.dataDir}-second` });
    const busy = await second.waitForLine(/WARN serial port .* is in use by/);
    expect(busy).toContain(`is in use by PID ${first.proc.pid} (${HOLDER_NAME}); only one program can read the meter: stop it first: sudo supervisorctl stop dsmr-datalogger`);
    // Tried again (every 3 s) without saying it again.
    await waitFor(() => second.lines.filter((l) => /DEBUG serial port .* still cannot be opened/.test(l)).length >= 1, { timeoutMs: 10_000, what: 'a second attempt' });
    expect(second.lines.filter((l) => /in use by/.test(l))).toHaveLength(1);
    expect(second.lines.some((l) => /serial port \S+ opened at/.test(l))).toBe(false);

    expect((await first.stop('SIGTERM')).code).toBe(0);
    await second.waitForLine(/INFO serial port .* opened at 115200 8N1/, 10_000);
    await meter.write(makeTelegrams(1, 52)[0]);
    await waitForDelivery(api, 1, 15_000);
    expect((await second.stop('SIGTERM')).code).toBe(0);
  }, 60_000);
});
