// Fault injection, machine side: the data directory's disk fills up while the server is down, and the serial port
// vanishes in the middle of a telegram while the server is down.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import type { Datalogger } from '../helpers/datalogger.ts';
import { openPty } from '../helpers/pty.ts';
import { inspectSpool, spoolDirs } from '../helpers/spool-inspect.ts';
import { sleep, waitFor } from '../helpers/wait.ts';
import { deliveryOf, expectDelivered, idOf, makeTelegrams, readCount, RETRY_DEADLINE_MS, Scene, waitForDelivery, waitForReads } from './faults-kit.ts';

let scene: Scene;

beforeEach(() => {
  scene = new Scene();
});

afterEach(async () => {
  await scene.close();
});

/** The data directory on a tmpfs of `size`; undefined (and a message) where mounting is not permitted. */
function smallDisk(size: string): string | undefined {
  mkdirSync(scene.dataDir, { recursive: true });
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', scene.dataDir], { stdio: 'pipe' });
  } catch (error) {
    return `cannot mount a tmpfs here (${String((error as { stderr?: Buffer }).stderr ?? error).trim()}); run as root to test a full disk`;
  }
  scene.onCleanup(() => execFileSync('umount', [scene.dataDir]));
  return undefined;
}

function residentMiB(dl: Datalogger): number {
  const status = readFileSync(`/proc/${dl.proc.pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)![1]) / 1024;
}

const concat = (telegrams: Buffer[]) => Buffer.concat(telegrams);

describe('faults: the machine', () => {
  it('the disk fills up (256 KiB tmpfs) while the server is down: keeps running, says so once, delivers all it held', async (ctx) => {
    const refused = smallDisk('256k');
    if (refused) return ctx.skip(refused);
    const api = await scene.server({ up: false });
    const sent = makeTelegrams(500, 31);
    const dl = scene.startOnStdin(api);
    for (let i = 0; i < sent.length; i += 100) {
      dl.proc.stdin!.write(concat(sent.slice(i, i + 100)));
      await waitForReads(dl, i + 100);
    }
    await dl.waitForLine(/ERROR .*spool: cannot write \(ENOSPC/);
    const onDisk = inspectSpool(spoolDirs(scene.dataDir)[0]).pending;
    expect(onDisk.length, 'the spool should have filled the disk').toBeGreaterThan(100);
    expect(onDisk.length, 'everything fitted on disk: the disk was not full').toBeLessThan(sent.length);
    expect(onDisk.map(idOf)).toEqual(sent.slice(0, onDisk.length).map(idOf));

    await api.up();
    await waitForDelivery(api, sent.length, RETRY_DEADLINE_MS);
    dl.proc.stdin!.end();
    expect((await dl.waitForExit(15_000)).code).toBe(0);
    const duplicates = expectDelivered(api.stored, sent, 2);
    expect(dl.lines.filter((l) => /spool: cannot write/.test(l))).toHaveLength(1);
    expect(dl.lines.some((l) => /memory limit reached/.test(l))).toBe(false);
    console.log(`full disk: ${onDisk.length} of ${sent.length} telegrams fitted on disk, the rest held in memory; ${duplicates} duplicate(s)`);
  }, 120_000);

  it('the disk stays full: what is held in memory is bounded (the oldest held go first), order holds', async (ctx) => {
    const refused = smallDisk('256k');
    if (refused) return ctx.skip(refused);
    const api = await scene.server({ up: false });
    // About 18 MB: more than the 16 MiB the spool holds in memory while the disk refuses writes.
    const sent = makeTelegrams(21_000, 32);
    const dl = scene.startOnStdin(api, { DSMR_DATALOGGER_LOG_LEVEL: 'info' });
    for (let i = 0; i < sent.length; i += 1000) {
      dl.proc.stdin!.write(concat(sent.slice(i, i + 1000)));
      // Info level: the stats line is not there, so wait for the pipe to drain instead of counting read lines.
      await new Promise<void>((resolve) => (dl.proc.stdin!.writableNeedDrain ? dl.proc.stdin!.once('drain', resolve) : resolve()));
    }
    await dl.waitForLine(/ERROR .*spool: memory limit reached while the disk refuses writes; dropping the oldest held telegrams/, 30_000);
    await sleep(500);
    const rss = residentMiB(dl);
    expect(rss, `resident memory ${rss.toFixed(0)} MiB`).toBeLessThan(200);
    const onDisk = inspectSpool(spoolDirs(scene.dataDir)[0]).pending.length;

    await api.up();
    await waitFor(() => api.stored.at(-1)?.equals(sent[sent.length - 1]), { what: 'the newest telegram to arrive', timeoutMs: 120_000, intervalMs: 200 });
    dl.proc.stdin!.end();
    expect((await dl.waitForExit(30_000)).code).toBe(0);
    // Delivered: what was on disk (sent[0..onDisk)), then, after one gap of dropped ones, the newest up to the last.
    const { unique, duplicates } = deliveryOf(api.stored);
    const index = new Map(sent.map((t, i) => [t.toString('latin1'), i]));
    const positions = unique.map((t) => index.get(t.toString('latin1')) ?? -1);
    expect(positions.slice(0, onDisk)).toEqual(sent.slice(0, onDisk).map((_, i) => i));
    const held = positions.slice(onDisk);
    const firstHeld = held[0];
    expect(held, 'after the gap, every telegram up to the newest, in order').toEqual(held.map((_, i) => firstHeld + i));
    expect(held.at(-1)).toBe(sent.length - 1);
    const dropped = firstHeld - onDisk;
    // The spool says how many it dropped; it must be exactly the gap.
    const said = dl.lines.map((l) => /disk writable again; held telegrams written, (\d+) dropped meanwhile/.exec(l)).find((m) => m);
    expect(Number(said?.[1]), 'the number of dropped telegrams the log gives').toBe(dropped);
    // 16 MiB of 896-byte records is about 18,700 telegrams: that many of the newest were kept, no more.
    expect(held.length).toBeGreaterThan(15_000);
    expect(held.length).toBeLessThan(19_000);
    expect(duplicates).toBeLessThanOrEqual(2);
    expect(dl.lines.filter((l) => /spool: cannot write/.test(l))).toHaveLength(1);
    expect(dl.lines.filter((l) => /spool: memory limit reached/.test(l))).toHaveLength(1);
    console.log(`disk stays full: ${onDisk} delivered from disk, ${dropped} dropped, ${held.length} held in memory and delivered; RSS ${rss.toFixed(0)} MiB`);
  }, 180_000);

  it.each(['native', 'stty'])('the serial port vanishes mid-telegram while the server is down (%s backend): the cut one is dropped, the rest arrive', async (backend) => {
    const api = await scene.server({ up: false });
    const meter = await openPty(scene.dir);
    scene.onCleanup(() => meter.close());
    const sent = makeTelegrams(20, 33);
    const dl = scene.start(api, {
      DSMRREADER_REMOTE_DATALOGGER_SERIAL_PORT: meter.devicePath,
      DSMR_DATALOGGER_DSMR_VERSION: '5',
      DSMR_DATALOGGER_SERIAL_BACKEND: backend,
    });
    await dl.waitForLine(/serial port .* opened/);
    await meter.write(concat(sent.slice(0, 10)));
    await waitForReads(dl, 10);
    // The cable is pulled in the middle of telegram 10.
    await meter.write(sent[10].subarray(0, 400));
    await sleep(300);
    await meter.vanish();
    await dl.waitForLine(/serial port .* lost/);
    const lostAt = dl.lines.length;
    await meter.restore();
    await dl.waitForLine(/serial port .* opened/, 15_000, lostAt);
    // Plugged back in as the meter sends the rest of telegram 10: that tail must not become a telegram.
    await meter.write(concat([sent[10].subarray(400), ...sent.slice(11)]));
    await waitForReads(dl, 19);
    await api.up();
    const expected = [...sent.slice(0, 10), ...sent.slice(11)];
    await waitForDelivery(api, expected.length, RETRY_DEADLINE_MS);
    await api.quietFor(300);
    expectDelivered(api.stored, expected, 0);
    expect(readCount(dl)).toBe(19);
    expect((await dl.stop('SIGTERM')).code).toBe(0);
  }, 120_000);
});
