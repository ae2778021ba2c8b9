// A full disk does not stop the spool: records are held in memory up to a bound (oldest dropped, counted, said
// once), served from there, and written out in order once the disk takes writes again. Uses a real 256 KiB tmpfs
// (needs root); the test is skipped, with a note, where mounting is not allowed.
import { execFileSync } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, statSync, truncateSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Spool, type SpoolEvent } from '../../src/buffers/spool/index.ts';
import { RECORD_HEADER_BYTES } from '../../src/buffers/spool/record.ts';
import { telegramsDir } from '../helpers/fixtures.ts';
import { waitFor } from '../helpers/wait.ts';

const TELEGRAM = readFileSync(join(telegramsDir, 'dsmr_parser/TELEGRAM_V5.txt'));
const RECORD_BYTES = TELEGRAM.length + 8 + RECORD_HEADER_BYTES;

function telegram(n: number): Buffer {
  return Buffer.concat([TELEGRAM, Buffer.from(`#${String(n).padStart(7, '0')}`)]);
}
function numberOf(payload: Buffer): number {
  return Number(payload.subarray(payload.length - 7).toString());
}

let base: string;
let mountPoint: string | undefined;
let mountError = '';

beforeAll(() => {
  base = mkdtempSync(join(tmpdir(), 'spool-full-'));
  const point = join(base, 'mnt');
  mkdirSync(point);
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=256k', 'tmpfs', point], { stdio: 'pipe' });
    mountPoint = point;
  } catch (error) {
    mountError = error instanceof Error ? error.message : String(error);
  }
});

afterAll(() => {
  if (mountPoint) execFileSync('umount', [mountPoint]);
  rmSync(base, { recursive: true, force: true });
});

// Fills the file system completely, then gives back `spare` bytes, leaving a disk that is almost full.
function fillLeaving(path: string, spare: number): void {
  const fd = openSync(path, 'w');
  const block = Buffer.alloc(4096, 0x55);
  try {
    for (;;) writeSync(fd, block);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOSPC') throw error;
  } finally {
    closeSync(fd);
  }
  truncateSync(path, Math.max(0, statSync(path).size - spare));
}

describe('Spool on a full disk', () => {
  it('holds a bounded number of records in memory, then writes them out in order when space returns', async (ctx) => {
    if (!mountPoint) return ctx.skip(`cannot mount a tmpfs here: ${mountError}`);
    const dir = join(mountPoint, 'spool', 'server-1');
    const filler = join(mountPoint, 'filler');
    fillLeaving(filler, 12 * 1024);

    const events: SpoolEvent[] = [];
    const memoryLimit = 20 * RECORD_BYTES;
    let spool = await Spool.open({
      dir,
      maxBytes: 10 * 1024 * 1024,
      memoryLimitBytes: memoryLimit,
      retryIntervalMs: 50,
      onEvent: (e) => events.push(e),
    });
    for (let n = 0; n < 60; n++) {
      spool.append(telegram(n));
      await spool.drain();
    }

    const failed = events.filter((e) => e.type === 'disk-failed');
    expect(failed).toMatchObject([{ type: 'disk-failed', code: 'ENOSPC' }]);
    expect(spool.stats.writeErrors).toBeGreaterThan(0);
    expect(spool.heldInMemory).toBeGreaterThan(0);
    expect(spool.heldInMemory * RECORD_BYTES).toBeLessThanOrEqual(memoryLimit);
    // Said once, however many were dropped.
    expect(events.filter((e) => e.type === 'dropped-oldest')).toMatchObject([{ reason: 'memory-limit' }]);
    expect(spool.stats.droppedFull).toBeGreaterThan(0);
    expect(spool.count).toBe(60 - spool.stats.droppedFull);

    // Still served in meter order while the disk is full: what is on disk, then what is held.
    const during = (await spool.readBatch(1000)).map(numberOf);
    expect(during).toHaveLength(spool.count);
    expect(during[0]).toBe(0);
    expect(during[during.length - 1]).toBe(59);
    const onDisk = during.findIndex((n, i) => n !== i);
    expect(onDisk).toBeGreaterThan(0);
    expect(during.slice(onDisk)).toEqual(Array.from({ length: during.length - onDisk }, (_, i) => 60 - (during.length - onDisk) + i));

    truncateSync(filler, 0);
    await waitFor(() => events.some((e) => e.type === 'disk-writable'), { timeoutMs: 5_000, what: 'the spool to write again' });
    expect(events.find((e) => e.type === 'disk-writable')).toMatchObject({ droppedRecords: spool.stats.droppedFull });
    expect(spool.heldInMemory).toBe(0);
    expect((await spool.readBatch(1000)).map(numberOf)).toEqual(during);

    // And they really are on disk now.
    await spool.close();
    spool = await Spool.open({ dir, maxBytes: 10 * 1024 * 1024 });
    expect((await spool.readBatch(1000)).map(numberOf)).toEqual(during);
    expect(spool.stats.corruptSkipped).toBe(0);
    await spool.close();
    rmSync(dir, { recursive: true });
  });

  it('delivers records held in memory when the server comes back before the disk does', async (ctx) => {
    if (!mountPoint) return ctx.skip(`cannot mount a tmpfs here: ${mountError}`);
    const dir = join(mountPoint, 'spool', 'server-2');
    mkdirSync(dir, { recursive: true });
    const filler = join(mountPoint, 'filler');
    fillLeaving(filler, 0);

    const events: SpoolEvent[] = [];
    const spool = await Spool.open({ dir, maxBytes: 10 * 1024 * 1024, retryIntervalMs: 50, onEvent: (e) => events.push(e) });
    for (let n = 0; n < 10; n++) spool.append(telegram(n));
    await spool.drain();
    expect(spool.heldInMemory).toBe(10);
    expect(events.map((e) => e.type)).toEqual(['disk-failed']);

    expect((await spool.readBatch(4)).map(numberOf)).toEqual([0, 1, 2, 3]);
    await spool.ack(4);
    expect(spool.count).toBe(6);
    truncateSync(filler, 0);
    await waitFor(() => spool.heldInMemory === 0 && events.some((e) => e.type === 'disk-writable'), {
      timeoutMs: 5_000,
      what: 'the held records to be written',
    });
    expect((await spool.readBatch(100)).map(numberOf)).toEqual([4, 5, 6, 7, 8, 9]);
    await spool.close();
    rmSync(filler);
  });
});
