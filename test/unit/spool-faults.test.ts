// The spool on a file system that fails on purpose (test/helpers/spool-fake-fs.ts): a full disk, I/O errors, torn
// writes, failing fsync and cursor updates, a power cut; what it writes (nothing while healthy, little more than
// the telegrams while spooling); how it hands out a batch; the age of the oldest telegram. All in-process.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Spool, type SpoolEvent, type SpoolOptions } from '../../src/buffers/spool/index.ts';
import { RECORD_HEADER_BYTES } from '../../src/buffers/spool/record.ts';
import { FakeClock } from '../helpers/fake-clock.ts';
import { FakeFs, type Fault, type FaultKind } from '../helpers/spool-fake-fs.ts';
import { telegramsDir } from '../helpers/fixtures.ts';

const TELEGRAM = readFileSync(join(telegramsDir, 'dsmr_parser/TELEGRAM_V5.txt'));
const RECORD_BYTES = TELEGRAM.length + 8 + RECORD_HEADER_BYTES;
const DIR = '/data/spool/server-1';

function telegram(n: number): Buffer {
  return Buffer.concat([TELEGRAM, Buffer.from(`#${String(n).padStart(7, '0')}`)]);
}
function numberOf(payload: Buffer): number {
  return Number(payload.subarray(payload.length - 7).toString());
}
function range(from: number, to: number): number[] {
  return Array.from({ length: to - from }, (_, i) => from + i);
}

function machine() {
  const clock = new FakeClock();
  const fs = new FakeFs(clock);
  const events: SpoolEvent[] = [];
  const open = (opts: Partial<SpoolOptions> = {}) =>
    Spool.open({ dir: DIR, maxBytes: 10 * 1024 * 1024, fs, clock, onEvent: (e) => events.push(e), ...opts });
  /** Makes the next `count` operations of `kind` (on files whose name matches) fail. */
  const failNext = (kind: FaultKind, count: number, fault: Fault, name = /./) => {
    let left = count;
    fs.inject = (k, path) => (k === kind && name.test(path) && left-- > 0 ? fault : undefined);
  };
  return { clock, fs, events, open, failNext };
}

async function readAll(spool: Spool): Promise<number[]> {
  return (await spool.readBatch(Number.MAX_SAFE_INTEGER)).map(numberOf);
}

describe('Spool on a failing file system', () => {
  it('holds a bounded number of records in memory while the disk is full, then writes them out in order', async () => {
    const { fs, clock, events, open } = machine();
    fs.capacity = 12 * 1024;
    const memoryLimit = 20 * RECORD_BYTES;
    let spool = await open({ memoryLimitBytes: memoryLimit, retryIntervalMs: 50 });
    for (let n = 0; n < 60; n++) {
      spool.append(telegram(n));
      await spool.drain();
    }
    expect(events.filter((e) => e.type === 'disk-failed')).toMatchObject([{ type: 'disk-failed', code: 'ENOSPC' }]);
    expect(spool.stats.writeErrors).toBeGreaterThan(0);
    expect(spool.heldInMemory).toBeGreaterThan(0);
    expect(spool.heldInMemory * RECORD_BYTES).toBeLessThanOrEqual(memoryLimit);
    expect(events.filter((e) => e.type === 'dropped-oldest')).toMatchObject([{ reason: 'memory-limit' }]);
    expect(spool.count).toBe(60 - spool.stats.droppedFull);

    // Served in meter order while the disk is full: what is on disk, then what is held.
    const during = await readAll(spool);
    expect(during).toHaveLength(spool.count);
    const onDisk = during.findIndex((n, i) => n !== i);
    expect(onDisk).toBeGreaterThan(0);
    expect(during.slice(onDisk)).toEqual(range(60 - (during.length - onDisk), 60));
    // The short write that hit the end of the disk was cut off again: the segments end on whole records.
    const segmentBytes = fs.list(DIR).filter((name) => name.endsWith('.seg')).map((name) => fs.contents(join(DIR, name))!.length);
    expect(segmentBytes.every((bytes) => bytes % RECORD_BYTES === 0)).toBe(true);

    fs.capacity = Infinity;
    await clock.advance(50);
    expect(events.at(-1)).toEqual({ type: 'disk-writable', droppedRecords: spool.stats.droppedFull });
    expect(spool.heldInMemory).toBe(0);
    expect(await readAll(spool)).toEqual(during);
    await spool.close();
    spool = await open();
    expect(await readAll(spool)).toEqual(during);
    expect(spool.stats.corruptSkipped).toBe(0);
  });

  it('retries after EIO (said once) and loses nothing', async () => {
    const { clock, events, open, failNext } = machine();
    const spool = await open({ retryIntervalMs: 1000 });
    failNext('write', 3, { code: 'EIO' }, /\.seg$/);
    for (let n = 0; n < 5; n++) spool.append(telegram(n));
    await spool.drain();
    expect(spool.heldInMemory).toBe(5);
    for (let n = 5; n < 8; n++) spool.append(telegram(n));
    await clock.advance(1000); // second failure
    await clock.advance(1000); // third
    expect(spool.heldInMemory).toBe(8);
    await clock.advance(1000);
    expect(spool.heldInMemory).toBe(0);
    expect(spool.stats.writeErrors).toBe(3);
    expect(events.map((e) => e.type)).toEqual(['disk-failed', 'disk-writable']);
    expect(events[0]).toMatchObject({ code: 'EIO' });
    await spool.close();
    const reopened = await open();
    expect(await readAll(reopened)).toEqual(range(0, 8));
  });

  it('cuts off a torn write, so the segment ends on whole records', async () => {
    const { fs, clock, open, failNext } = machine();
    const spool = await open({ retryIntervalMs: 10 });
    spool.append(telegram(0));
    await spool.drain();
    failNext('write', 1, { code: 'EIO', tornBytes: 300 }, /\.seg$/);
    for (let n = 1; n < 4; n++) spool.append(telegram(n));
    await spool.drain();
    expect(fs.contents(join(DIR, '0000000001.seg'))!.length).toBe(RECORD_BYTES);
    await clock.advance(10);
    await spool.close();
    const reopened = await open();
    expect(await readAll(reopened)).toEqual([0, 1, 2, 3]);
    expect(reopened.stats.corruptSkipped).toBe(0);
  });

  it('writes the same records over torn bytes it could not cut off, so none comes twice', async () => {
    const { fs, clock, events, open } = machine();
    const spool = await open({ retryIntervalMs: 10 });
    spool.append(telegram(0));
    await spool.drain();
    let writes = 1;
    let truncates = 1;
    fs.inject = (kind, path) => {
      if (!path.endsWith('.seg')) return undefined;
      if (kind === 'write' && writes-- > 0) return { code: 'EIO', tornBytes: RECORD_BYTES + 300 };
      if (kind === 'truncate' && truncates-- > 0) return { code: 'EIO' };
      return undefined;
    };
    spool.append(telegram(1));
    spool.append(telegram(2));
    await spool.drain();
    // Record 1 is whole on disk, and held in memory too.
    expect(fs.contents(join(DIR, '0000000001.seg'))!.length).toBe(2 * RECORD_BYTES + 300);
    expect(spool.heldInMemory).toBe(2);
    spool.append(telegram(3));
    await clock.advance(10);
    expect(fs.list(DIR).filter((name) => name.endsWith('.seg'))).toEqual(['0000000001.seg']);
    await spool.close();
    events.length = 0;
    const reopened = await open();
    expect(await readAll(reopened)).toEqual([0, 1, 2, 3]);
    expect(events).toEqual([]);
  });

  it('skips, after a kill, the torn bytes it could not cut off, keeping the whole records among them', async () => {
    const { fs, clock, events, open } = machine();
    const spool = await open({ retryIntervalMs: 10 });
    spool.append(telegram(0));
    await spool.drain();
    fs.inject = (kind, path) => (!path.endsWith('.seg') ? undefined : kind === 'write' ? { code: 'EIO', tornBytes: RECORD_BYTES + 300 } : kind === 'truncate' ? { code: 'EIO' } : undefined);
    spool.append(telegram(1));
    spool.append(telegram(2));
    await spool.drain();
    fs.kill();
    clock.forget();
    fs.inject = undefined;
    events.length = 0;
    const reopened = await open();
    expect(await readAll(reopened)).toEqual([0, 1]);
    expect(events).toMatchObject([{ type: 'corrupt-skipped', reason: 'torn-tail', bytes: 300 }]);
  });

  it('holds records while not even a segment file can be created, then creates it', async () => {
    const { clock, events, open, failNext } = machine();
    const spool = await open({ retryIntervalMs: 10 });
    failNext('open', 2, { code: 'ENOSPC' });
    spool.append(telegram(0));
    await spool.drain();
    expect(spool.heldInMemory).toBe(1);
    await clock.advance(10);
    await clock.advance(10);
    expect(spool.heldInMemory).toBe(0);
    expect(events.map((e) => e.type)).toEqual(['disk-failed', 'disk-writable']);
    await spool.close();
    expect(await readAll(await open())).toEqual([0]);
  });

  it('warns once when fsync or the cursor update fails, and replays (duplicates, never loss) what it could not record', async () => {
    const { fs, events, open } = machine();
    const spool = await open();
    fs.inject = (kind, path) => ((kind === 'write' && path.endsWith('cursor')) || (kind === 'sync' && !path.includes('FORMAT')) ? { code: 'EIO' } : undefined);
    for (let n = 0; n < 6; n++) spool.append(telegram(n));
    await spool.flush();
    await spool.readBatch(6);
    await spool.ack(1);
    await spool.ack(1);
    await spool.flush();
    for (let n = 6; n < 9; n++) spool.append(telegram(n));
    await spool.flush();
    expect(events.filter((e) => e.type === 'io-warning').map((e) => (e as { operation: string }).operation)).toEqual([
      'fsync of a segment',
      'updating the acknowledgement cursor',
    ]);
    fs.inject = undefined;
    fs.kill();
    expect(await readAll(await open())).toEqual(range(0, 9));
  });

  it('keeps, after a power cut, everything flushed and every acknowledgement flushed', async () => {
    const { fs, open } = machine();
    const spool = await open();
    for (let n = 0; n < 10; n++) spool.append(telegram(n));
    await spool.readBatch(3);
    await spool.ack(3);
    await spool.flush();
    // After the flush: written (page cache) and acknowledged, but not synced yet.
    for (let n = 10; n < 15; n++) spool.append(telegram(n));
    await spool.drain();
    await spool.readBatch(2);
    await spool.ack(2);
    fs.powerCut();
    const after = await readAll(await open());
    expect(after[0]).toBe(3);
    expect(after.slice(0, 7)).toEqual(range(3, 10));
    expect(after).toEqual(range(3, 3 + after.length));
  });

  it('keeps, after a kill, everything that reached write(2) and every acknowledgement made', async () => {
    const { fs, clock, open } = machine();
    const spool = await open();
    for (let n = 0; n < 10; n++) spool.append(telegram(n));
    await spool.drain();
    await spool.readBatch(4);
    await spool.ack(4);
    fs.kill();
    clock.forget();
    expect(await readAll(await open())).toEqual(range(4, 10));
  });
});

describe('Spool writes', () => {
  it('nothing at all while the server is healthy, and nothing more once a backlog is delivered', async () => {
    const { fs, clock, open } = machine();
    const spool = await open();
    await spool.readBatch(256);
    await spool.flush();
    await clock.advance(3_600_000);
    expect(fs.writeCalls).toBe(0);
    expect(fs.syncCalls).toBe(0);
    expect(fs.list(DIR)).toEqual([]);

    for (let n = 0; n < 10; n++) spool.append(telegram(n));
    await clock.advance(10_000);
    for (;;) {
      const batch = await spool.readBatch(4);
      if (batch.length === 0) break;
      await spool.ack(batch.length);
    }
    await clock.advance(10_000);
    const writes = fs.writeCalls;
    const syncs = fs.syncCalls;
    await spool.readBatch(256);
    await clock.advance(3_600_000);
    await spool.close();
    expect(fs.writeCalls).toBe(writes);
    expect(fs.syncCalls).toBe(syncs);
    expect(fs.list(DIR).filter((name) => name.endsWith('.seg'))).toEqual([]);
  });

  it('at most 1.1 bytes per telegram byte, spooling and replaying one acknowledgement at a time', async () => {
    const { fs, clock, open } = machine();
    const spool = await open();
    const telegrams = 3000;
    // One a second, as a meter sends them.
    for (let n = 0; n < telegrams; n++) {
      spool.append(telegram(n), clock.now());
      await clock.advance(1000);
    }
    const spooled = fs.bytesWritten;
    // Replayed as the outbox does: a batch, then each telegram acknowledged after its delivery.
    for (;;) {
      const batch = await spool.readBatch(256);
      if (batch.length === 0) break;
      for (let i = 0; i < batch.length; i++) await spool.ack(1);
      await clock.advance(100);
    }
    await spool.close();
    const telegramBytes = telegrams * telegram(0).length;
    const ratio = fs.bytesWritten / telegramBytes;
    console.log(`spool: ${(spooled / telegramBytes).toFixed(3)}x while spooling, ${ratio.toFixed(3)}x with the replay's cursor updates`);
    expect(spooled / telegramBytes).toBeLessThanOrEqual(1.03);
    expect(ratio).toBeLessThanOrEqual(1.1);
    // Batched fsync: one per 5 s interval at most, not one per telegram.
    expect(fs.syncCalls).toBeLessThan(telegrams / 4);
  });
});

describe('Spool reads', () => {
  it('hands out a batch as views of one buffer read from disk, the same buffer batch after batch', async () => {
    const { fs, open } = machine();
    const spool = await open();
    for (let n = 0; n < 400; n++) spool.append(telegram(n));
    await spool.close();
    const reopened = await open();
    const readsBefore = fs.readCalls;
    const batch = await reopened.readBatch(200);
    expect(batch.map(numberOf)).toEqual(range(0, 200));
    expect(fs.readCalls - readsBefore, 'one read for the whole batch').toBe(1);
    const buffers = new Set(batch.map((payload) => payload.buffer));
    expect(buffers.size).toBe(1);
    expect(batch[0].buffer.byteLength).toBeLessThanOrEqual(256 * 1024);
    await reopened.ack(200);
    // No garbage per batch: the next one is read into the same buffer (the views of the last one are done with).
    const next = await reopened.readBatch(200);
    expect(next.map(numberOf)).toEqual(range(200, 400));
    expect(new Set(next.map((payload) => payload.buffer))).toEqual(buffers);
  });

  it('reads a batch across many segments, past the room of its buffer, and records larger than its guess', async () => {
    const { events, open } = machine();
    // About 110 records per segment: a batch of 500 spans five segments and outgrows the batch buffer in the third.
    const spool = await open({ segmentBytes: 100_000 });
    for (let n = 0; n < 3000; n++) spool.append(telegram(n));
    await spool.close();
    const reopened = await open({ segmentBytes: 100_000 });
    let expected = 0;
    for (let batch = await reopened.readBatch(500); batch.length > 0; batch = await reopened.readBatch(500)) {
      expect(batch.map(numberOf)).toEqual(range(expected, expected + batch.length));
      expected += batch.length;
      await reopened.ack(batch.length);
    }
    expect(expected).toBe(3000);
    // One at a time, telegrams larger than the 1 KiB a record is guessed at.
    const big = (n: number) => Buffer.concat([TELEGRAM, TELEGRAM, TELEGRAM, Buffer.from(`#${String(n).padStart(7, '0')}`)]);
    for (let n = 0; n < 5; n++) reopened.append(big(n));
    for (let n = 0; n < 5; n++) {
      const [one] = await reopened.readBatch(1);
      expect(one).toEqual(big(n));
      await reopened.ack(1);
    }
    expect(events).toEqual([]);
  });

  it('reads ahead a bounded amount however large the batch asked for', async () => {
    const { open } = machine();
    const spool = await open();
    for (let n = 0; n < 1000; n++) spool.append(telegram(n));
    await spool.close();
    const batch = await (await open()).readBatch(1000);
    expect(batch.map(numberOf)).toEqual(range(0, 1000));
    for (const buffer of new Set(batch.map((payload) => payload.buffer))) expect(buffer.byteLength).toBeLessThanOrEqual(256 * 1024);
  });

  it('knows when the oldest waiting telegram was read, on disk, in memory and after a restart', async () => {
    const { clock, open } = machine();
    const spool = await open();
    const t0 = clock.now();
    expect(spool.oldestReadAt).toBeUndefined();
    for (let n = 0; n < 10; n++) spool.append(telegram(n), t0 + n * 1000);
    expect(spool.oldestReadAt).toBe(t0); // still in memory
    expect(spool.bytes).toBe(10 * RECORD_BYTES);
    await spool.drain();
    expect(spool.oldestReadAt).toBe(t0);
    await spool.readBatch(3);
    await spool.ack(2);
    expect(spool.oldestReadAt).toBe(t0 + 2000);
    await spool.ack(1);
    expect(spool.oldestReadAt).toBe(t0 + 3000); // past the batch: read from the file
    expect(spool.count).toBe(7);
    expect(spool.bytes).toBe(7 * RECORD_BYTES);
    await spool.close();
    const reopened = await open();
    expect(reopened.oldestReadAt).toBe(t0 + 3000);
    await reopened.readBatch(7);
    await reopened.ack(7);
    expect(reopened.oldestReadAt).toBeUndefined();
    expect(reopened.bytes).toBe(0);
  });
});
