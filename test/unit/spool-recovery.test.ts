// Crash safety of the spool on a real file system: torn and corrupted records are skipped and counted, every intact
// record before them survives in order (a process killed with SIGKILL: test/integration/spool-kill.test.ts).
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_SPOOL_MAX_BYTES, Spool, type SpoolEvent } from '../../src/buffers/spool/index.ts';
import { telegramsDir } from '../helpers/fixtures.ts';

const TELEGRAM = readFileSync(join(telegramsDir, 'dsmr-reader/test_fluvius__TestDatalogger.txt'));

function telegram(n: number): Buffer {
  return Buffer.concat([TELEGRAM, Buffer.from(`#${String(n).padStart(7, '0')}`)]);
}
function numberOf(payload: Buffer): number {
  return Number(payload.subarray(payload.length - 7).toString());
}

let root: string;
beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'spool-recovery-'));
});
afterAll(() => {
  rmSync(root, { recursive: true, force: true });
});

let dirCounter = 0;
function freshDir(): string {
  const dir = join(root, `d${dirCounter++}`);
  mkdirSync(dir);
  return dir;
}

async function openAndReadAll(dir: string): Promise<{ numbers: number[]; spool: Spool; events: SpoolEvent[] }> {
  const events: SpoolEvent[] = [];
  const spool = await Spool.open({ dir, maxBytes: DEFAULT_SPOOL_MAX_BYTES, onEvent: (e) => events.push(e) });
  const numbers = (await spool.readBatch(Number.MAX_SAFE_INTEGER)).map(numberOf);
  return { numbers, spool, events };
}

// A closed spool holding records 0..4 in one segment; returns the segment's bytes and where the last record starts.
async function fiveRecordSegment(): Promise<{ bytes: Buffer; lastStart: number; name: string }> {
  const dir = freshDir();
  const spool = await Spool.open({ dir, maxBytes: DEFAULT_SPOOL_MAX_BYTES });
  for (let n = 0; n < 5; n++) spool.append(telegram(n));
  await spool.close();
  const [name] = readdirSync(dir).filter((f) => f.endsWith('.seg'));
  const bytes = readFileSync(join(dir, name));
  return { bytes, lastStart: (bytes.length / 5) * 4, name };
}

describe('Spool recovery', () => {
  it('recovers every earlier record when the last one is torn at any byte', async () => {
    const { bytes, lastStart, name } = await fiveRecordSegment();
    for (let cut = lastStart; cut < bytes.length; cut++) {
      const dir = freshDir();
      writeFileSync(join(dir, name), bytes.subarray(0, cut));
      const { numbers, spool, events } = await openAndReadAll(dir);
      expect(numbers, `cut at ${cut}`).toEqual([0, 1, 2, 3]);
      const torn = cut > lastStart ? 1 : 0;
      expect(spool.stats.corruptSkipped, `cut at ${cut}`).toBe(torn);
      expect(events.filter((e) => e.type === 'corrupt-skipped' && e.reason === 'torn-tail')).toHaveLength(torn);
      await spool.close();
      if (cut === lastStart + 100) {
        // The torn bytes were cut off at the first start: a second start reports nothing.
        const again = await openAndReadAll(dir);
        expect(again.numbers).toEqual([0, 1, 2, 3]);
        expect(again.spool.stats.corruptSkipped).toBe(0);
        await again.spool.close();
      }
      rmSync(dir, { recursive: true });
    }
  });

  it('recovers every earlier record when any byte of the last one is corrupted', async () => {
    const { bytes, lastStart, name } = await fiveRecordSegment();
    for (let at = lastStart; at < bytes.length; at++) {
      const dir = freshDir();
      const damaged = Buffer.from(bytes);
      damaged[at] ^= 0x5a;
      writeFileSync(join(dir, name), damaged);
      const { numbers, spool } = await openAndReadAll(dir);
      expect(numbers, `byte ${at} flipped`).toEqual([0, 1, 2, 3]);
      expect(spool.stats.corruptSkipped, `byte ${at} flipped`).toBe(1);
      await spool.close();
      rmSync(dir, { recursive: true });
    }
  });

  it('skips a corrupted record in the middle and keeps the ones after it, also after new appends', async () => {
    const { bytes, name } = await fiveRecordSegment();
    const dir = freshDir();
    const damaged = Buffer.from(bytes);
    damaged[(bytes.length / 5) * 2 + 100] ^= 0xff; // inside record 2
    writeFileSync(join(dir, name), damaged);
    const first = await openAndReadAll(dir);
    expect(first.numbers).toEqual([0, 1, 3, 4]);
    expect(first.spool.stats.corruptSkipped).toBe(1);
    expect(first.events).toMatchObject([{ type: 'corrupt-skipped', reason: 'corrupt' }]);
    first.spool.append(telegram(5));
    await first.spool.readBatch(1);
    await first.spool.ack(1);
    await first.spool.close();
    const second = await openAndReadAll(dir);
    expect(second.numbers).toEqual([1, 3, 4, 5]);
    await second.spool.close();
  });

  it('opens without reading every payload, yet finds a damaged length or magic at open, and never hands out a damaged record', async () => {
    const { bytes, name } = await fiveRecordSegment();
    const recordBytes = bytes.length / 5;
    // Inside the length field of record 1, in the magic of record 2, in the payload of record 3 (found when replayed).
    for (const [at, countAtOpen] of [[recordBytes + 5, 4], [recordBytes * 2 + 1, 4], [recordBytes * 3 + 200, 5]] as const) {
      const dir = freshDir();
      const damaged = Buffer.from(bytes);
      damaged[at] ^= 0x5a;
      writeFileSync(join(dir, name), damaged);
      const events: SpoolEvent[] = [];
      const spool = await Spool.open({ dir, maxBytes: DEFAULT_SPOOL_MAX_BYTES, onEvent: (e) => events.push(e) });
      // An upper bound until the damaged record is met.
      expect(spool.count, `byte ${at}`).toBe(countAtOpen);
      const numbers = (await spool.readBatch(Number.MAX_SAFE_INTEGER)).map(numberOf);
      const lost = Math.floor(at / recordBytes);
      expect(numbers, `byte ${at}`).toEqual([0, 1, 2, 3, 4].filter((n) => n !== lost));
      expect(events, `byte ${at}`).toMatchObject([{ type: 'corrupt-skipped', reason: 'corrupt' }]);
      await spool.ack(numbers.length);
      expect(spool.count, `byte ${at}`).toBe(0);
      await spool.close();
    }
  });

  it('replays everything (duplicates, not loss) when the cursor file is unreadable', async () => {
    const dir = freshDir();
    const spool = await Spool.open({ dir, maxBytes: DEFAULT_SPOOL_MAX_BYTES });
    for (let n = 0; n < 6; n++) spool.append(telegram(n));
    await spool.readBatch(2);
    await spool.ack(2);
    await spool.close();
    writeFileSync(join(dir, 'cursor'), Buffer.alloc(64, 0x33));
    const { numbers, events, spool: reopened } = await openAndReadAll(dir);
    expect(numbers).toEqual([0, 1, 2, 3, 4, 5]);
    expect(events).toMatchObject([{ type: 'cursor-invalid' }]);
    await reopened.close();
  });

  it('uses the intact cursor slot when the newest one is torn', async () => {
    const dir = freshDir();
    const spool = await Spool.open({ dir, maxBytes: DEFAULT_SPOOL_MAX_BYTES });
    for (let n = 0; n < 6; n++) spool.append(telegram(n));
    await spool.readBatch(6);
    await spool.ack(1);
    await spool.flush(); // cursor generation 1 (slot 1): after record 0
    await spool.ack(2);
    await spool.flush(); // generation 2 (slot 0): after record 2
    await spool.close();
    const cursor = readFileSync(join(dir, 'cursor'));
    cursor[10] ^= 0xff; // tear slot 0
    writeFileSync(join(dir, 'cursor'), cursor);
    const { numbers, spool: reopened } = await openAndReadAll(dir);
    expect(numbers).toEqual([1, 2, 3, 4, 5]);
    await reopened.close();
  });
});
