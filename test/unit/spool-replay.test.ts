// A day of DSMR 5 telegrams (86,400) goes into the spool and comes back out in order, fast, and without memory
// growing with the backlog (the backlog is ~80 MB; the process must not hold it).
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DEFAULT_SPOOL_MAX_BYTES, Spool } from '../../src/buffers/spool/index.ts';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { telegramsDir } from '../helpers/fixtures.ts';

const DAY = 86_400;
const TELEGRAM = readFileSync(join(telegramsDir, 'dsmr_parser/TELEGRAM_V5.txt')); // 890 bytes, a real DSMR 5 layout

function telegram(n: number): Buffer {
  return Buffer.concat([TELEGRAM, Buffer.from(`#${String(n).padStart(7, '0')}`)]);
}
function numberOf(payload: Buffer): number {
  return Number(payload.subarray(payload.length - 7).toString());
}
// Live memory after a full collection, so garbage not yet collected does not blur the measurement.
setFlagsFromString('--expose-gc');
const collectGarbage = runInNewContext('gc') as () => void;
async function heldBytes(): Promise<number> {
  // Twice, with a turn in between: backing stores of freed buffers are released after the first pass.
  collectGarbage();
  await new Promise((resolve) => setImmediate(resolve));
  collectGarbage();
  const usage = process.memoryUsage();
  return usage.heapUsed + usage.arrayBuffers;
}

const dir = mkdtempSync(join(tmpdir(), 'spool-replay-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// In its own function so nothing of the writing side is still reachable when memory is measured.
async function spoolADay(): Promise<void> {
  const spool = await Spool.open({ dir, maxBytes: DEFAULT_SPOOL_MAX_BYTES });
  for (let n = 0; n < DAY; n++) {
    spool.append(telegram(n));
    if (n % 1000 === 999) await spool.drain();
  }
  await spool.close();
}

describe('Spool backlog of a day', () => {
  it('spools 86,400 telegrams and replays them in order within seconds, in flat memory', async () => {
    const started = Date.now();
    await spoolADay();
    const spooledAt = Date.now();

    // From here on nothing may grow with the backlog: not the open (which validates every record), not the replay.
    const baseline = await heldBytes();
    const spool = await Spool.open({ dir, maxBytes: DEFAULT_SPOOL_MAX_BYTES });
    let peak = (await heldBytes()) - baseline;
    expect(spool.count).toBe(DAY);
    expect(spool.bytes).toBeGreaterThan(DAY * TELEGRAM.length);
    const openedAt = Date.now();

    let expected = 0;
    for (;;) {
      const batch = await spool.readBatch(500);
      if (batch.length === 0) break;
      for (const payload of batch) {
        if (numberOf(payload) !== expected) throw new Error(`expected telegram ${expected}, got ${numberOf(payload)}`);
        expected += 1;
      }
      await spool.ack(batch.length);
      if (expected % 10_000 === 0) peak = Math.max(peak, (await heldBytes()) - baseline);
    }
    const replayedAt = Date.now();
    expect(expected).toBe(DAY);
    expect(spool.count).toBe(0);
    expect(spool.bytes).toBe(0);
    await spool.close();

    console.log(
      `spool: wrote ${DAY} in ${spooledAt - started} ms, opened in ${openedAt - spooledAt} ms, ` +
        `replayed in ${replayedAt - openedAt} ms; peak growth ${(peak / 1048576).toFixed(1)} MiB`,
    );
    expect(replayedAt - started).toBeLessThan(10_000);
    // The backlog is ~80 MB; a replay that held it (or a good part of it) would show here. Batches are views of
    // one read each (about 256 KiB), so a few MiB is all a replay may keep alive.
    expect(peak).toBeLessThan(8 * 1024 * 1024);
  });
});
