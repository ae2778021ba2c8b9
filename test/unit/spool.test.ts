// Behaviour of the durable per-server spool on a real file system: order, acknowledgement, persistence across
// reopen, segment removal, the size bound, and that healthy operation writes nothing.
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DEFAULT_SPOOL_MAX_BYTES, Spool, describeSpoolEvent, type SpoolEvent, type SpoolOptions } from '../../src/buffers/spool/index.ts';
import { RECORD_HEADER_BYTES } from '../../src/buffers/spool/record.ts';
import { telegramsDir } from '../helpers/fixtures.ts';
import { waitFor } from '../helpers/wait.ts';

const TELEGRAM = readFileSync(join(telegramsDir, 'dsmr_parser/TELEGRAM_V5.txt'));
const RECORD_BYTES = TELEGRAM.length + 8 + RECORD_HEADER_BYTES; // telegram, "#0000001", header

// Each payload carries its number, so order and gaps are visible.
function telegram(n: number): Buffer {
  return Buffer.concat([TELEGRAM, Buffer.from(`#${String(n).padStart(7, '0')}`)]);
}
function numberOf(payload: Buffer): number {
  return Number(payload.subarray(payload.length - 7).toString());
}

const dirs: string[] = [];
const spools: Spool[] = [];
afterEach(async () => {
  for (const spool of spools.splice(0)) await spool.close().catch(() => undefined);
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'spool-test-'));
  dirs.push(dir);
  return dir;
}

async function open(opts: Partial<SpoolOptions> & { dir: string }): Promise<{ spool: Spool; events: SpoolEvent[] }> {
  const events: SpoolEvent[] = [];
  const spool = await Spool.open({ maxBytes: DEFAULT_SPOOL_MAX_BYTES, onEvent: (e) => events.push(e), ...opts });
  spools.push(spool);
  return { spool, events };
}

async function readAll(spool: Spool): Promise<number[]> {
  return (await spool.readBatch(Number.MAX_SAFE_INTEGER)).map(numberOf);
}

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from }, (_, i) => from + i);
}

function segmentFiles(dir: string): string[] {
  return readdirSync(dir).filter((name) => name.endsWith('.seg'));
}

describe('Spool', () => {
  it('creates only its directory when opened, and writes nothing while unused', async () => {
    const dir = join(tempDir(), 'spool', 'server-1');
    const { spool } = await open({ dir });
    expect(existsSync(dir)).toBe(true);
    expect(spool.count).toBe(0);
    expect(await spool.readBatch(10)).toEqual([]);
    await spool.flush();
    await spool.close();
    expect(readdirSync(dir)).toEqual([]);
  });

  it('hands an appended telegram to write(2) within a second, without flush', async () => {
    const dir = tempDir();
    const { spool } = await open({ dir, fsyncIntervalMs: 60_000 });
    spool.append(telegram(1));
    const started = Date.now();
    await waitFor(() => segmentFiles(dir).length === 1 && statSync(join(dir, segmentFiles(dir)[0])).size === RECORD_BYTES, {
      timeoutMs: 1_000,
      what: 'the record in the segment file',
    });
    expect(Date.now() - started).toBeLessThan(1_000);
  });

  it('returns the oldest records in order without removing them, until acknowledged', async () => {
    const { spool } = await open({ dir: tempDir() });
    for (let n = 0; n < 10; n++) spool.append(telegram(n));
    expect(spool.count).toBe(10);
    expect((await spool.readBatch(4)).map(numberOf)).toEqual([0, 1, 2, 3]);
    expect((await spool.readBatch(4)).map(numberOf)).toEqual([0, 1, 2, 3]);
    await spool.ack(3);
    expect(spool.count).toBe(7);
    expect((await spool.readBatch(3)).map(numberOf)).toEqual([3, 4, 5]);
    await spool.ack(1);
    await spool.ack(2);
    expect(await readAll(spool)).toEqual(range(6, 10));
    expect(spool.bytes).toBeGreaterThan(0);
  });

  it('gives back exactly the unacknowledged records after close and reopen, and adds new ones after them', async () => {
    const dir = tempDir();
    const first = await open({ dir });
    for (let n = 0; n < 10; n++) first.spool.append(telegram(n));
    await first.spool.readBatch(3);
    await first.spool.ack(3);
    await first.spool.close();

    const second = await open({ dir });
    expect(second.spool.count).toBe(7);
    expect(await readAll(second.spool)).toEqual(range(3, 10));
    second.spool.append(telegram(10));
    expect(await readAll(second.spool)).toEqual(range(3, 11));
    await second.spool.close();

    const third = await open({ dir });
    expect(await readAll(third.spool)).toEqual(range(3, 11));
    expect(third.events).toEqual([]);
  });

  it('persists acknowledgements within about a second while replaying, without close', async () => {
    const dir = tempDir();
    const { spool } = await open({ dir, cursorIntervalMs: 200 });
    for (let n = 0; n < 10; n++) spool.append(telegram(n));
    await spool.flush();
    await spool.readBatch(4);
    await spool.ack(4);
    // As after a kill -9: a second reader of the same directory sees the acknowledged position.
    await waitFor(async () => {
      const probe = await Spool.open({ dir, maxBytes: DEFAULT_SPOOL_MAX_BYTES });
      const count = probe.count;
      await probe.close();
      return count === 6;
    }, { timeoutMs: 5_000, what: 'the cursor on disk' });
  });

  it('removes a segment file once all its records are acknowledged, and all of them once drained', async () => {
    const dir = tempDir();
    const { spool } = await open({ dir, segmentBytes: 3 * RECORD_BYTES });
    for (let n = 0; n < 9; n++) spool.append(telegram(n));
    await spool.drain();
    expect(segmentFiles(dir)).toHaveLength(3);
    await spool.readBatch(5);
    await spool.ack(2);
    expect(segmentFiles(dir)).toHaveLength(3);
    await spool.ack(1);
    expect(segmentFiles(dir)).toHaveLength(2);
    await spool.readBatch(100);
    await spool.ack(6);
    expect(segmentFiles(dir)).toEqual([]);
    expect(spool.count).toBe(0);
    expect(spool.bytes).toBe(0);

    // The next outage starts a fresh segment, and a restart does not mistake it for delivered data.
    spool.append(telegram(9));
    await spool.close();
    const reopened = await open({ dir });
    expect(await readAll(reopened.spool)).toEqual([9]);
  });

  it('keeps within maxBytes by dropping the oldest whole segments, counting the records and saying so', async () => {
    const dir = tempDir();
    const maxBytes = 40 * RECORD_BYTES;
    const { spool, events } = await open({ dir, maxBytes }); // segments clamp to maxBytes / 8 = 5 records
    for (let n = 0; n < 100; n++) spool.append(telegram(n));
    await spool.drain();
    const onDisk = segmentFiles(dir).reduce((sum, name) => sum + statSync(join(dir, name)).size, 0);
    expect(onDisk).toBeLessThanOrEqual(maxBytes);
    expect(spool.bytes).toBe(onDisk);
    const kept = await readAll(spool);
    expect(kept.length + spool.stats.droppedFull).toBe(100);
    expect(kept).toEqual(range(100 - kept.length, 100));
    expect(kept.length).toBeGreaterThanOrEqual(35);
    const drops = events.filter((e) => e.type === 'dropped-oldest');
    expect(drops.length).toBeGreaterThan(0);
    expect(drops.reduce((sum, e) => sum + e.records, 0)).toBe(spool.stats.droppedFull);
  });

  it('acknowledges only what was read when the oldest records were dropped in between', async () => {
    const dir = tempDir();
    const { spool } = await open({ dir, maxBytes: 16 * RECORD_BYTES }); // segments of 2 records
    for (let n = 0; n < 10; n++) spool.append(telegram(n));
    expect((await spool.readBatch(3)).map(numberOf)).toEqual([0, 1, 2]);
    for (let n = 10; n < 20; n++) spool.append(telegram(n));
    await spool.drain(); // drops 0..3 to make room
    await spool.ack(3); // 0, 1, 2 are gone already; 4 must stay
    expect(await readAll(spool)).toEqual(range(4, 20));
  });

  it('lowers an existing spool to a reduced maxBytes at open', async () => {
    const dir = tempDir();
    const first = await open({ dir, segmentBytes: 2 * RECORD_BYTES });
    for (let n = 0; n < 20; n++) first.spool.append(telegram(n));
    await first.spool.close();
    const { spool, events } = await open({ dir, maxBytes: 10 * RECORD_BYTES });
    expect(spool.bytes).toBeLessThanOrEqual(10 * RECORD_BYTES);
    expect(await readAll(spool)).toEqual(range(20 - spool.count, 20));
    expect(spool.stats.droppedFull).toBe(20 - spool.count);
    expect(events.some((e) => e.type === 'dropped-oldest')).toBe(true);
  });

  it('stays in meter order through any mix of appends, reads, acknowledgements and restarts', async () => {
    const dir = tempDir();
    let seed = 12345;
    const random = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed % n;
    };
    let current = await open({ dir, segmentBytes: 4 * RECORD_BYTES });
    const expected: number[] = [];
    let next = 0;
    let read = 0; // records of the last batch not yet acknowledged
    for (let step = 0; step < 600; step++) {
      const action = random(10);
      if (action < 5) {
        const n = 1 + random(4);
        for (let i = 0; i < n; i++) {
          current.spool.append(telegram(next));
          expected.push(next++);
        }
      } else if (action < 7) {
        const batch = (await current.spool.readBatch(1 + random(8))).map(numberOf);
        expect(batch).toEqual(expected.slice(0, batch.length));
        read = batch.length;
      } else if (action < 9) {
        if (read > 0) {
          const n = 1 + random(read);
          await current.spool.ack(n);
          expected.splice(0, n);
          read -= n;
        }
      } else {
        await current.spool.close();
        spools.splice(spools.indexOf(current.spool), 1);
        current = await open({ dir, segmentBytes: 4 * RECORD_BYTES });
        read = 0;
      }
      expect(current.spool.count).toBe(expected.length);
    }
    expect(await readAll(current.spool)).toEqual(expected);
    expect(current.events).toEqual([]);
  });

  it('describes every event as one log line', () => {
    const samples: SpoolEvent[] = [
      { type: 'corrupt-skipped', file: 'a.seg', offset: 10, bytes: 5, reason: 'torn-tail' },
      { type: 'cursor-invalid', file: 'cursor' },
      { type: 'dropped-oldest', reason: 'size-limit', records: 3, file: 'a.seg' },
      { type: 'dropped-oldest', reason: 'memory-limit', records: 1 },
      { type: 'disk-failed', code: 'ENOSPC', message: 'no space', heldRecords: 2 },
      { type: 'disk-writable', droppedRecords: 0 },
      { type: 'io-warning', operation: 'fsync', code: 'EIO', message: 'i/o error' },
      { type: 'unwritten-on-close', records: 4 },
    ];
    for (const event of samples) {
      const { level, message } = describeSpoolEvent(event);
      expect(['error', 'warn', 'info', 'debug']).toContain(level);
      expect(message).toMatch(/^spool: /);
      expect(message).not.toContain('\n');
    }
  });
});
