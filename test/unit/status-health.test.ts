// The health rules of /health, the page, `status` and the log, on a hand-moved clock.
import { describe, expect, it } from 'vitest';
import { evaluateHealth, HealthLog } from '../../src/status/health.ts';
import { StatusService } from '../../src/status/service.ts';
import { FakeClock } from '../helpers/fake-clock.ts';
import { memoryLog, output, status, T0 } from './status-fixture.ts';

const limits = { silenceMs: 60_000, stallMs: 300_000 };

describe('the meter', () => {
  it('is healthy while a telegram passed within the silence limit, and not once it is exceeded', () => {
    const lastTelegramAt = T0 + 1_000;
    const at = (now: number) => evaluateHealth(status({ input: { ...status().input, lastTelegramAt } }, now), limits);
    expect(at(lastTelegramAt + 60_000).healthy).toBe(true);
    const silent = at(lastTelegramAt + 61_000);
    expect(silent.healthy).toBe(false);
    expect(silent.problems).toEqual([{ subject: 'input', kind: 'silent', message: 'no telegram from the meter for 61 s (serial /dev/ttyUSB0)' }]);
  });

  it('gets the same allowance after the start before its first telegram', () => {
    const base = status();
    const noTelegram = { ...base.input, lastTelegramAt: undefined, state: 'waiting' as const };
    expect(evaluateHealth(status({ input: noTelegram, latest: undefined }, T0 + 59_000), limits).healthy).toBe(true);
    const h = evaluateHealth(status({ input: noTelegram, latest: undefined }, T0 + 125_000), limits);
    expect(h.problems.map((p) => p.message)).toEqual(['no telegram from the meter since the start 2 min ago (serial /dev/ttyUSB0, waiting)']);
  });
});

describe('an output', () => {
  const now = T0 + 3_600_000;
  const talking = (o: ReturnType<typeof output>) => status({ input: { ...status().input, lastTelegramAt: now - 1_000 }, outputs: [o] }, now);

  it('refused for longer than the stall limit is unhealthy, with the last answer; refused for less is not yet', () => {
    const refused = (since: number) => evaluateHealth(talking(output({ state: 'refused', since, lastDeliveredAt: since, lastAnswer: 'API key rejected by http://dsmr.local (HTTP 403)', queuedInMemory: 5 })), limits);
    expect(refused(now - 299_000).healthy).toBe(true);
    expect(refused(now - 301_000).problems).toEqual([
      { subject: 'http://dsmr.local', kind: 'refused', message: 'http://dsmr.local has refused telegrams for 5 min (last answer: API key rejected by http://dsmr.local (HTTP 403))' },
    ]);
  });

  it('that delivered nothing for longer than the stall limit while telegrams wait is unhealthy', () => {
    const h = evaluateHealth(talking(output({ state: 'unavailable', since: now - 600_000, lastDeliveredAt: now - 600_000, oldestWaitingAt: now - 599_000, spooledTelegrams: 599, lastAnswer: 'ECONNREFUSED' })), limits);
    expect(h.problems.map((p) => [p.kind, p.message])).toEqual([['stalled', 'http://dsmr.local has delivered nothing for 9 min with 599 telegrams waiting (last answer: ECONNREFUSED)']]);
  });

  it('catching up on an old backlog is healthy: it delivers', () => {
    const h = evaluateHealth(talking(output({ lastDeliveredAt: now - 1_000, oldestWaitingAt: now - 3_000_000, spooledTelegrams: 3_000 })), limits);
    expect(h.healthy).toBe(true);
  });

  it('with nothing waiting is healthy however long ago it last delivered (the meter was silent: that is the input rule)', () => {
    expect(evaluateHealth(talking(output({ lastDeliveredAt: now - 3_000_000 })), limits).problems.filter((p) => p.subject !== 'input')).toEqual([]);
  });

  it('counts a backlog of an earlier run from this start, not from when it was read', () => {
    const o = output({ lastDeliveredAt: undefined, oldestWaitingAt: undefined, spooledTelegrams: 100, state: 'unavailable' });
    const at = (now: number) => evaluateHealth(status({ outputs: [o], input: { ...status().input, lastTelegramAt: now - 1_000 } }, now), limits);
    expect(at(T0 + 200_000).problems).toEqual([]);
    expect(at(T0 + 301_000).problems.map((p) => p.kind)).toEqual(['stalled']);
  });
});

describe('the log', () => {
  it('says each problem once when it appears, again only when its kind changes, and once when it is gone', () => {
    const log = memoryLog();
    const watch = new HealthLog(log);
    const stalled = { subject: 'http://a', kind: 'stalled' as const, message: 'http://a has delivered nothing for 6 min' };
    watch.update({ healthy: false, problems: [stalled] });
    watch.update({ healthy: false, problems: [{ ...stalled, message: 'http://a has delivered nothing for 7 min' }] });
    watch.update({ healthy: false, problems: [{ subject: 'http://a', kind: 'refused', message: 'http://a has refused telegrams for 5 min' }] });
    watch.update({ healthy: true, problems: [] });
    watch.update({ healthy: true, problems: [] });
    expect(log.lines).toEqual([
      'WARN unhealthy: http://a has delivered nothing for 6 min',
      'WARN unhealthy: http://a has refused telegrams for 5 min',
      'INFO healthy again: http://a is taking telegrams',
    ]);
  });

  it('is checked on the sampling timer, not per request: a silent meter is said once, its return once', () => {
    const clock = new FakeClock(T0);
    const log = memoryLog();
    let lastTelegramAt = T0;
    const service = new StatusService(() => status({ input: { ...status().input, lastTelegramAt } }, clock.now()), clock, limits, log);
    service.start();
    clock.advanceSync(120_000);
    for (let i = 0; i < 5; i++) service.view();
    lastTelegramAt = clock.now();
    clock.advanceSync(15_000);
    service.stop();
    clock.advanceSync(600_000);
    expect(log.lines).toEqual(['WARN unhealthy: no telegram from the meter for 75 s (serial /dev/ttyUSB0)', 'INFO healthy again: the meter is talking']);
  });
});
