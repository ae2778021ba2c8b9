// The watch that notices a missing serial device coming back, on real directories with inotify: a by-id link whose
// directory does not exist yet, a dangling link whose target appears, the device a link last led to, and entries
// that do not matter.
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { directoriesToWatch, watchDevice, type DeviceWatcher } from '../../src/sources/device-watch.ts';
import { waitFor } from '../helpers/wait.ts';

describe('device watch', () => {
  let dir: string;
  let watcher: DeviceWatcher | undefined;
  let calls: number[];

  const start = (paths: string[]) => {
    watcher = watchDevice(paths, () => calls.push(Date.now()));
  };

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'device-watch-'));
    calls = [];
  });

  afterEach(() => {
    watcher?.close();
    watcher = undefined;
    rmSync(dir, { recursive: true, force: true });
  });

  it('sees a by-id link appear in directories that did not exist yet', async () => {
    const link = join(dir, 'serial', 'by-id', 'usb-FTDI_P1-if00-port0');
    mkdirSync(join(dir, 'dev'));
    writeFileSync(join(dir, 'dev', 'ttyUSB0'), '');
    start([link]);
    expect([...directoriesToWatch([link]).keys()]).toContain(dir);

    // As udev does on the first plug: the directories, then the link.
    mkdirSync(join(dir, 'serial'));
    await waitFor(() => calls.length >= 1, { timeoutMs: 2_000, what: 'a call for the new serial directory' });
    mkdirSync(join(dir, 'serial', 'by-id'));
    await waitFor(() => directoriesToWatch([link]).has(join(dir, 'serial', 'by-id')) && calls.length >= 2, { timeoutMs: 2_000, what: 'a call for by-id' });
    const before = calls.length;
    const madeAt = Date.now();
    symlinkSync('../../dev/ttyUSB0', link);
    await waitFor(() => calls.length > before, { timeoutMs: 2_000, what: 'a call for the link' });
    expect(calls[before] - madeAt).toBeLessThan(500);
  });

  it('sees the target of a dangling link appear, and the device a link last led to', async () => {
    mkdirSync(join(dir, 'by-id'));
    mkdirSync(join(dir, 'dev'));
    const link = join(dir, 'by-id', 'meter');
    symlinkSync('../dev/ttyUSB0', link);
    start([link, join(dir, 'dev', 'ttyUSB1')]);
    expect(directoriesToWatch([link]).get(join(dir, 'dev'))).toEqual(new Set(['ttyUSB0']));

    writeFileSync(join(dir, 'dev', 'ttyUSB0'), '');
    await waitFor(() => calls.length >= 1, { timeoutMs: 2_000, what: 'a call for the link target' });
    const before = calls.length;
    writeFileSync(join(dir, 'dev', 'ttyUSB1'), '');
    await waitFor(() => calls.length > before, { timeoutMs: 2_000, what: 'a call for the last known device' });
  });

  it('ignores other entries of the watched directories, and stops calling when closed', async () => {
    const device = join(dir, 'ttyUSB0');
    start([device]);
    // inotify reports in order: had the unrelated entries caused a call, it would come before the one for ours.
    writeFileSync(join(dir, 'ttyUSB7'), '');
    mkdirSync(join(dir, 'other'));
    writeFileSync(device, '');
    await waitFor(() => calls.length >= 1, { timeoutMs: 2_000, what: 'a call for the device' });
    expect(calls).toHaveLength(1);

    watcher!.close();
    rmSync(device);
    writeFileSync(device, '');
    // A call after close would come with these events; one more event for a still-watched path proves they are through.
    const probe = join(dir, 'probe');
    const probeCalls: number[] = [];
    const probeWatcher = watchDevice([probe], () => probeCalls.push(1));
    try {
      writeFileSync(probe, '');
      await waitFor(() => probeCalls.length >= 1, { timeoutMs: 2_000, what: 'the probe watch' });
    } finally {
      probeWatcher.close();
    }
    expect(calls).toHaveLength(1);
  });
});
