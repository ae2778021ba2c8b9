// isoTime() stands in for Date#toISOString (which maps in ICU data): it must give the very same text, and fail the same.
import { describe, expect, it } from 'vitest';
import { isoTime } from '../../src/platform/iso-time.ts';

describe('isoTime', () => {
  it('writes what toISOString writes, at every field width and boundary', () => {
    const moments = [
      0,
      1,
      999,
      Date.UTC(2026, 11, 1, 15, 39, 59, 123),
      Date.UTC(2024, 1, 29, 23, 59, 59, 999),
      Date.UTC(2025, 2, 30, 1, 0, 0, 0), // the European switch to summer time: UTC has no gap
      Date.UTC(2000, 0, 1, 0, 0, 0, 10),
      Date.UTC(999, 0, 1), // three-digit year: padded to four
      Date.UTC(0, 0, 1) - 1, // Date.UTC maps 0 to 1900; this is 1899-12-31T23:59:59.999Z
      new Date('0000-01-01T00:00:00.000Z').getTime(),
      new Date('9999-12-31T23:59:59.999Z').getTime(),
      -1,
    ];
    for (const ms of moments) expect(isoTime(ms), String(ms)).toBe(new Date(ms).toISOString());
  });

  it('writes what toISOString writes for ten thousand moments between 1970 and 2100', () => {
    let seed = 20261201;
    const next = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    const span = Date.UTC(2100, 0, 1);
    for (let i = 0; i < 10_000; i++) {
      const ms = Math.floor(next() * span);
      expect(isoTime(ms)).toBe(new Date(ms).toISOString());
    }
  });

  it('leaves years outside 0-9999 to toISOString (signed six digits) and throws as it does for an invalid time', () => {
    for (const iso of ['+010000-01-01T00:00:00.000Z', '-000001-12-31T23:59:59.999Z', '+275760-09-13T00:00:00.000Z']) {
      expect(isoTime(new Date(iso).getTime())).toBe(iso);
    }
    expect(() => isoTime(Number.NaN)).toThrow(RangeError);
    expect(() => isoTime(8.64e15 + 1)).toThrow(RangeError);
  });

  it('is now when given nothing', () => {
    const before = Date.now();
    const at = Date.parse(isoTime());
    expect(at).toBeGreaterThanOrEqual(before);
    expect(at).toBeLessThanOrEqual(Date.now());
  });
});
