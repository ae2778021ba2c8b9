// The hour kept for the charts is a fixed ring: it never grows past its capacity, whatever runs for how long.
import { describe, expect, it } from 'vitest';
import { History, HISTORY_SPAN_MS, SAMPLE_INTERVAL_MS } from '../../src/status/history.ts';
import { StatusService } from '../../src/status/service.ts';
import { FakeClock } from '../helpers/fake-clock.ts';
import { output, status, T0 } from './status-fixture.ts';

describe('History', () => {
  it('holds one hour of samples and no more: a day of sampling keeps the last hour and the same memory', () => {
    const history = new History();
    expect(history.capacity).toBe(HISTORY_SPAN_MS / SAMPLE_INTERVAL_MS + 1);
    const backlog = (n: number) => new Map([['http://a', n], ['http://b', 2 * n]]);
    history.add(T0, 100, backlog(1));
    const bytes = history.memoryBytes;
    // 241 samples of a time (8 bytes), a power (4) and two backlogs (4 each): under 5 KiB.
    expect(bytes).toBe(241 * (8 + 4 + 4 + 4));
    for (let i = 1; i < 24 * 240; i++) history.add(T0 + i * SAMPLE_INTERVAL_MS, 100 + i, backlog(i));
    expect(history.memoryBytes).toBe(bytes);
    expect(history.length).toBe(history.capacity);
    const end = T0 + (24 * 240 - 1) * SAMPLE_INTERVAL_MS;
    const power = history.powerSince(end - HISTORY_SPAN_MS);
    expect(power).toHaveLength(241);
    expect(power[0]).toEqual({ at: end - HISTORY_SPAN_MS, value: 100 + 24 * 240 - 241 });
    expect(power[240]).toEqual({ at: end, value: 100 + 24 * 240 - 1 });
    expect(history.backlogSince('http://b', end - 30_000).map((p) => p.value)).toEqual([2 * (24 * 240 - 3), 2 * (24 * 240 - 2), 2 * (24 * 240 - 1)]);
  });

  it('leaves out the samples without a reading, and knows no backlog of an output it never saw', () => {
    const history = new History();
    history.add(T0, undefined, new Map());
    history.add(T0 + 15_000, -250, new Map([['http://a', 3]]));
    expect(history.powerSince(0)).toEqual([{ at: T0 + 15_000, value: -250 }]);
    expect(history.backlogSince('http://a', 0)).toEqual([{ at: T0 + 15_000, value: 3 }]);
    expect(history.backlogSince('http://other', 0)).toEqual([]);
  });
});

describe('StatusService sampling', () => {
  it('samples on its timer: the net power of the latest telegram and each output backlog, every 15 s', () => {
    const clock = new FakeClock(T0);
    const waiting = output({ queuedInMemory: 2, spooledTelegrams: 5 });
    const service = new StatusService(() => status({ outputs: [waiting], input: { ...status().input, lastTelegramAt: clock.now() } }, clock.now()), clock, { silenceMs: 60_000, stallMs: 300_000 }, { error() {}, warn() {}, info() {}, debug() {}, enabled: () => false });
    service.start();
    clock.advanceSync(60_000);
    service.stop();
    clock.advanceSync(60_000);
    // VALID_DSMR5 reads 0.378 kW delivered, 0 returned.
    expect(service.history.powerSince(0)).toEqual([15, 30, 45, 60].map((s) => ({ at: T0 + s * 1000, value: 378 })));
    expect(service.history.backlogSince('http://dsmr.local', 0).map((p) => p.value)).toEqual([7, 7, 7, 7]);
  });
});
