import { describe, expect, it } from 'vitest';
import { backoffDelay, DELIVERY_POLICY, parseRetryAfter, RECONNECT_POLICY, REFUSED_POLICY } from '../../src/policy/backoff.ts';
import { MinimumInterval } from '../../src/transforms/min-interval.ts';

describe('backoff', () => {
  it('doubles from 1 s up to 30 s when reconnecting to a bridge', () => {
    expect([0, 1, 2, 3, 4, 5, 6, 50].map((a) => backoffDelay(RECONNECT_POLICY, a))).toEqual([1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000]);
  });
  it('draws delivery retries with full jitter below an exponential ceiling capped at 5 s, whatever the outage length', () => {
    expect(backoffDelay(DELIVERY_POLICY, 0, () => 0.5)).toBe(500);
    expect(backoffDelay(DELIVERY_POLICY, 2, () => 0.999)).toBe(3996);
    expect(backoffDelay(DELIVERY_POLICY, 3, () => 1)).toBe(5000);
    expect(backoffDelay(DELIVERY_POLICY, 40, () => 1)).toBe(5000);
    expect(backoffDelay(DELIVERY_POLICY, 2, () => 0)).toBe(0);
  });
  it('asks a refusing server again at least every 30 s, so a fixed key is picked up within a minute', () => {
    expect([0, 1, 2, 10].map((a) => backoffDelay(REFUSED_POLICY, a))).toEqual([10_000, 20_000, 30_000, 30_000]);
  });
  it('reads Retry-After as seconds or a date, capped', () => {
    const now = Date.parse('2026-11-24T10:00:00Z');
    expect(parseRetryAfter('45', now)).toBe(45_000);
    expect(parseRetryAfter('Tue, 24 Nov 2026 10:00:30 GMT', now)).toBe(30_000);
    expect(parseRetryAfter('86400', now)).toBe(60_000);
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(parseRetryAfter(undefined, now)).toBeUndefined();
  });
});

describe('minimum interval', () => {
  it('passes the first telegram, then one per interval, tolerating a meter that is a little early', () => {
    const gate = new MinimumInterval(5000);
    const times = [0, 1000, 2000, 3000, 4000, 4900, 5900, 9800, 10000, 14850];
    expect(times.filter((t) => gate.admit(t))).toEqual([0, 4900, 9800, 14850]);
  });
  it('passes everything at 0', () => {
    const gate = new MinimumInterval(0);
    expect([0, 0, 1, 2].every((t) => gate.admit(t))).toBe(true);
  });
});
