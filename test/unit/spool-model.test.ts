// Model-based test of the spool (after Vector's disk buffer tests): random sequences of append, readBatch, ack,
// flush, drain, timer ticks, close and reopen, a killed process and a power cut, on the in-memory file system with
// ENOSPC, EIO and torn writes injected at random, checked against a simple model of what must hold:
//   - order is kept: every batch, and what a reopened spool holds, is in meter order without duplicates;
//   - nothing waiting is lost except what the size or memory bound drops, and those are counted;
//   - after a reopen nothing acknowledged comes back, except acknowledgements a crash could not have recorded
//     (none after a kill: the cursor is written within ack(); after a power cut, those since the last flush);
//   - everything flushed (or, after a kill, written) survives, unless the bound dropped it.
import { describe, expect, it } from 'vitest';
import { Spool, type SpoolEvent } from '../../src/buffers/spool/index.ts';
import { FakeClock } from '../helpers/fake-clock.ts';
import { FakeFs, type FaultKind } from '../helpers/spool-fake-fs.ts';

const DIR = '/spool/server';
const PAYLOAD = Buffer.alloc(180, 0x41);
const RECORD_BYTES = 20 + PAYLOAD.length + 7;

function telegram(id: number): Buffer {
  return Buffer.concat([PAYLOAD, Buffer.from(String(id).padStart(7, '0'))]);
}
function idOf(payload: Buffer): number {
  return Number(payload.subarray(payload.length - 7).toString());
}

function prng(seed: number): (n: number) => number {
  let state = seed >>> 0 || 1;
  return (n) => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) % n;
  };
}

const FAULTY: FaultKind[] = ['open', 'write', 'truncate', 'sync', 'rename', 'unlink', 'syncDirectory'];

async function run(seed: number, steps: number): Promise<{ appended: number; drops: number; faults: number; crashes: number }> {
  const random = prng(seed);
  const clock = new FakeClock();
  const fs = new FakeFs(clock);
  const events: SpoolEvent[] = [];
  let faultRate = 0;
  const injector = (kind: FaultKind) => {
    if (faultRate === 0 || !FAULTY.includes(kind) || random(100) >= faultRate) return undefined;
    return { code: random(2) === 0 ? ('ENOSPC' as const) : ('EIO' as const), tornBytes: kind === 'write' ? random(RECORD_BYTES * 2) : 0 };
  };
  fs.inject = injector;
  const options = { dir: DIR, maxBytes: 40 * RECORD_BYTES, memoryLimitBytes: 12 * RECORD_BYTES, retryIntervalMs: 500, fs, clock, onEvent: (e: SpoolEvent) => events.push(e) };
  const openQuietly = async () => {
    // Opening is not under test for faults here: the file system behaves while it does.
    fs.inject = undefined;
    try {
      return await Spool.open(options);
    } finally {
      fs.inject = injector;
    }
  };

  let spool = await openQuietly();
  let appended = 0;
  /** The model: what waits, oldest first (a superset: drops not yet seen are still in it). */
  let waiting: number[] = [];
  let batch: number[] = [];
  let batchAcked = 0;
  /** Records dropped by the bound and counted, minus those the model has seen missing. */
  let unseenDrops = 0;
  let countedDrops = 0;
  let acked = new Set<number>();
  // What a crash must keep: ids below these were written (to the page cache) or flushed; acks recorded likewise.
  let writtenThrough = 0;
  let flushedThrough = 0;
  let ackedInCache = new Set<number>();
  let ackedDurably = new Set<number>();
  let crashes = 0;

  const syncDrops = () => {
    const now = spool.stats.droppedFull;
    unseenDrops += now - countedDrops;
    countedDrops = now;
  };
  const faultsDuring = async (op: () => Promise<void>): Promise<boolean> => {
    const before = fs.faultsInjected;
    await op();
    return fs.faultsInjected !== before;
  };

  const reopenAndCheck = async (kind: 'close' | 'kill' | 'power-cut', what: string) => {
    syncDrops();
    const mustKeepThrough = kind === 'power-cut' ? flushedThrough : writtenThrough;
    const ackRecorded = kind === 'power-cut' ? ackedDurably : ackedInCache;
    spool = await openQuietly();
    crashes += 1;
    const survivors = (await spool.readBatch(Number.MAX_SAFE_INTEGER)).map(idOf);
    for (let i = 1; i < survivors.length; i++) expect(survivors[i], `${what}: order`).toBeGreaterThan(survivors[i - 1]);
    for (const id of survivors) {
      expect(id, `${what}: never appended`).toBeLessThan(appended);
      if (acked.has(id)) expect(ackRecorded.has(id), `${what}: ${id} was acknowledged and recorded, yet came back`).toBe(false);
    }
    const kept = new Set(survivors);
    const lost = waiting.filter((id) => id < mustKeepThrough && !kept.has(id));
    // Opening may drop too: acknowledgements a crash did not record bring back records, and the bound still holds.
    unseenDrops += spool.stats.droppedFull;
    expect(lost.length, `${what}: lost ${lost.join(',')} (bound drops not yet seen: ${unseenDrops})`).toBeLessThanOrEqual(unseenDrops);
    // Start over from what the spool now holds.
    waiting = survivors;
    acked = new Set([...acked].filter((id) => kept.has(id) === false));
    ackedInCache = new Set();
    ackedDurably = new Set();
    batch = [];
    batchAcked = 0;
    unseenDrops = 0;
    countedDrops = spool.stats.droppedFull;
    writtenThrough = flushedThrough = appended;
    for (const id of survivors) acked.delete(id);
  };

  for (let step = 0; step < steps; step++) {
    const what = `seed ${seed} step ${step}`;
    const action = random(100);
    if (action < 30) {
      for (let k = 1 + random(5); k > 0; k--) {
        spool.append(telegram(appended), clock.now());
        waiting.push(appended++);
      }
    } else if (action < 45) {
      let got: number[] = [];
      const clean = !(await faultsDuring(async () => {
        got = (await spool.readBatch(1 + random(8))).map(idOf);
      }));
      syncDrops();
      // The oldest waiting, in order: anything the model still has before or between them was dropped.
      let at = 0;
      for (const id of got) {
        const index = waiting.indexOf(id, at);
        expect(index, `${what}: ${id} is not waiting (or out of order)`).toBeGreaterThanOrEqual(0);
        unseenDrops -= index - at;
        at = index + 1;
      }
      waiting.splice(0, at, ...got);
      expect(unseenDrops, `${what}: more records missing than dropped`).toBeGreaterThanOrEqual(0);
      batch = got;
      batchAcked = 0;
      if (clean && spool.heldInMemory === 0) writtenThrough = appended;
    } else if (action < 65) {
      if (batchAcked < batch.length) {
        const n = 1 + random(Math.min(3, batch.length - batchAcked));
        const through = batch[batchAcked + n - 1];
        const clean = !(await faultsDuring(() => spool.ack(n)));
        batchAcked += n;
        const done = waiting.splice(0, waiting.indexOf(through) + 1);
        for (const id of done) acked.add(id);
        if (clean) for (const id of acked) ackedInCache.add(id);
      }
    } else if (action < 72) {
      const clean = !(await faultsDuring(() => spool.flush()));
      if (clean && spool.heldInMemory === 0) {
        writtenThrough = flushedThrough = appended;
        for (const id of acked) ackedInCache.add(id), ackedDurably.add(id);
      }
    } else if (action < 77) {
      const clean = !(await faultsDuring(() => spool.drain()));
      if (clean && spool.heldInMemory === 0) writtenThrough = appended;
    } else if (action < 88) {
      await clock.advance(random(6000));
    } else if (action < 93) {
      faultRate = random(3) === 0 ? 0 : 5 + random(30);
    } else if (action < 95) {
      const clean = !(await faultsDuring(() => spool.close()));
      if (clean) {
        writtenThrough = flushedThrough = appended;
        for (const id of acked) ackedInCache.add(id), ackedDurably.add(id);
      }
      await reopenAndCheck('close', `${what} (close)`);
    } else if (action < 98) {
      fs.kill();
      clock.forget();
      await reopenAndCheck('kill', `${what} (kill)`);
    } else {
      fs.powerCut();
      clock.forget();
      await reopenAndCheck('power-cut', `${what} (power cut)`);
    }
    syncDrops();
    const missing = waiting.length - spool.count;
    expect(missing, `${what}: the spool holds more than the model`).toBeGreaterThanOrEqual(0);
    expect(missing, `${what}: the spool holds fewer than the model, beyond what was dropped`).toBeLessThanOrEqual(unseenDrops);
  }

  // The end: with the disk healthy again, everything waiting is written and survives a power cut after a flush.
  faultRate = 0;
  await clock.advance(1000);
  await spool.flush();
  const held = (await spool.readBatch(Number.MAX_SAFE_INTEGER)).map(idOf);
  fs.powerCut();
  clock.forget();
  const after = await openQuietly();
  expect((await after.readBatch(Number.MAX_SAFE_INTEGER)).map(idOf), `seed ${seed}: after the last flush and a power cut`).toEqual(held);
  return { appended, drops: events.filter((e) => e.type === 'dropped-oldest').length, faults: fs.faultsInjected, crashes };
}

describe('Spool against a model', () => {
  it('keeps order, loses only what the bound drops (counted), and re-sends only unrecorded acknowledgements', async () => {
    const totals = { appended: 0, drops: 0, faults: 0, crashes: 0 };
    for (let seed = 1; seed <= 60; seed++) {
      const result = await run(seed, 400);
      for (const key of Object.keys(totals) as (keyof typeof totals)[]) totals[key] += result[key];
    }
    console.log(`spool model: ${totals.appended} telegrams, ${totals.drops} drop events, ${totals.faults} faults injected, ${totals.crashes} reopenings`);
    // The runs must have exercised what they claim to.
    expect(totals.drops).toBeGreaterThan(10);
    expect(totals.faults).toBeGreaterThan(100);
    expect(totals.crashes).toBeGreaterThan(100);
  });
});
