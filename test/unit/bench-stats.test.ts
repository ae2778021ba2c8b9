// The benchmark's arithmetic: a wrong percentile or a wrong per-1000 scale would make every figure it prints wrong.
import { describe, expect, it } from 'vitest';
import {
  cpuSecondsPer1000,
  formField,
  formatNumber,
  formatRatio,
  median,
  percentile,
  perHour,
  ratePerSecond,
  ratio,
  renderTable,
  splitTelegrams,
  withoutLineEnd,
} from '../../scripts/bench/stats.mjs';
import { buildReport, verdict } from '../../scripts/bench/report.mjs';

describe('percentile (nearest rank)', () => {
  const hundred = Array.from({ length: 100 }, (_, i) => 100 - i); // 100..1, unsorted on purpose

  it('picks the value at rank ceil(p/100 * n) of the sorted samples', () => {
    expect(percentile(hundred, 50)).toBe(50);
    expect(percentile(hundred, 99)).toBe(99);
    expect(percentile(hundred, 100)).toBe(100);
    expect(percentile(hundred, 1)).toBe(1);
  });

  it('always answers with a measured value, never an interpolation', () => {
    expect(percentile([1, 10], 50)).toBe(1);
    expect(percentile([1, 10], 51)).toBe(10);
    expect(percentile([3, 1, 2], 99)).toBe(3);
    expect(median([5, 1, 3])).toBe(3);
  });

  it('p99 of 1000 samples is the 10th worst, so one slow outlier does not decide it', () => {
    const samples = Array.from({ length: 1000 }, () => 1);
    samples[0] = 500;
    expect(percentile(samples, 99)).toBe(1);
    for (let i = 0; i < 11; i++) samples[i] = 500;
    expect(percentile(samples, 99)).toBe(500);
  });

  it('does not sort the caller array, and refuses nonsense', () => {
    const samples = [3, 1, 2];
    percentile(samples, 50);
    expect(samples).toEqual([3, 1, 2]);
    expect(percentile([], 50)).toBeNaN();
    expect(() => percentile([1], 0)).toThrow(RangeError);
    expect(() => percentile([1], 101)).toThrow(RangeError);
  });
});

describe('rates and scales', () => {
  it('CPU seconds per 1000 telegrams from clock ticks', () => {
    // 62 ticks at 100 Hz for 2000 telegrams: 0.62 s per 2000, 0.31 s per 1000
    expect(cpuSecondsPer1000(62, 100, 2000)).toBeCloseTo(0.31, 10);
    expect(cpuSecondsPer1000(5, 100, 0)).toBeNaN();
  });

  it('bytes per hour from a shorter run', () => {
    expect(perHour(4096, 36)).toBe(409_600);
    expect(perHour(0, 20)).toBe(0);
    expect(perHour(1, 0)).toBeNaN();
  });

  it('telegrams per second counts intervals between the first and the last arrival', () => {
    expect(ratePerSecond(1001, 0, 1000)).toBe(1000);
    expect(ratePerSecond(1, 0, 1000)).toBeNaN();
  });

  it('ratio is subject over peer, and copes with zeros', () => {
    expect(ratio(1, 4)).toBe(0.25);
    expect(ratio(0, 0)).toBe(1);
    expect(ratio(3, 0)).toBe(Infinity);
    expect(ratio(undefined, 4)).toBeNaN();
  });
});

describe('formatting', () => {
  it('groups thousands with a space and shows missing values as n/a', () => {
    expect(formatNumber(86_400)).toBe('86 400');
    expect(formatNumber(1234567.891, 2)).toBe('1 234 567.89');
    expect(formatNumber(-1500)).toBe('-1 500');
    expect(formatNumber(0.31, 3)).toBe('0.310');
    expect(formatNumber(undefined)).toBe('n/a');
    expect(formatNumber(Number.NaN)).toBe('n/a');
    expect(formatRatio(0.043)).toBe('0.043x');
    expect(formatRatio(2.5)).toBe('2.50x');
    expect(formatRatio(Number.NaN)).toBe('');
  });

  it('aligns a table: first column left, the rest right', () => {
    const text = renderTable(
      ['figure', 'a', 'b'],
      [
        ['cpu', '0.310', '7.280'],
        ['latency p99', '3.67', '10.48'],
      ],
    );
    expect(text.split('\n')).toEqual([
      'figure           a      b',
      '-----------  -----  -----',
      'cpu          0.310  7.280',
      'latency p99   3.67  10.48',
    ]);
  });
});

describe('telegrams and form bodies', () => {
  const one = '/ISK5\\2M550T-1012\r\n\r\n1-0:1.8.1(004822.385*kWh)\r\n!D4F9\r\n';
  const two = '/ISK5\\2M550T-1012\r\n\r\n1-0:1.8.1(004822.386*kWh)\r\n!1A2B\r\n';

  it('splits simulator output into whole telegrams, ignoring anything in between', () => {
    const parts = splitTelegrams(Buffer.from(`noise\r\n${one}${two}!stray\r\n/partial\r\n`, 'latin1'));
    expect(parts.map((p) => p.toString('latin1'))).toEqual([one, two]);
  });

  it('compares telegrams without their trailing line end', () => {
    expect(withoutLineEnd(Buffer.from(one, 'latin1')).toString('latin1')).toBe(one.slice(0, -2));
    expect(withoutLineEnd(Buffer.from('\r\n')).length).toBe(0);
  });

  it('decodes a form field to the exact bytes, + and %XX included', () => {
    const body = Buffer.from(`other=1&telegram=${encodeURIComponent(one).replace(/%20/g, '+')}&telegram=second`, 'latin1');
    expect(formField(body, 'telegram')?.toString('latin1')).toBe(one);
    expect(formField(Buffer.from('telegram=%AB%zz'), 'telegram')).toEqual(Buffer.from([0xab, 0x25, 0x7a, 0x7a]));
    expect(formField(Buffer.from('telegrams=1'), 'telegram')).toBeUndefined();
  });
});

describe('targets', () => {
  it('judges absolute and relative targets, and says n/a when it cannot', () => {
    expect(verdict({ max: 5, text: '' }, 3.67, undefined)).toBe('ok');
    expect(verdict({ max: 5, text: '' }, 5.01, undefined)).toBe('MISS');
    expect(verdict({ min: 1000, text: '' }, 999, undefined)).toBe('MISS');
    expect(verdict({ max: 0, text: '' }, 0, undefined)).toBe('ok');
    expect(verdict({ maxRatio: 0.25, text: '' }, 0.31, 7.28)).toBe('ok');
    expect(verdict({ maxRatio: 0.25, text: '' }, 2, 7.28)).toBe('MISS');
    expect(verdict({ maxRatio: 0.25, text: '' }, 0.31, undefined)).toBe('n/a');
    expect(verdict({ max: 5, text: '' }, undefined, undefined)).toBe('n/a');
    expect(verdict(undefined, 1, 2)).toBe('');
  });

  it('judges memory against stock Node idling in the same run', () => {
    expect(verdict({ maxFloorRatio: 1.1, text: '' }, 46, undefined, 42)).toBe('ok');
    expect(verdict({ maxFloorRatio: 1.1, text: '' }, 46.3, undefined, 42)).toBe('MISS');
    expect(verdict({ maxFloorRatio: 1.1, text: '' }, 46, undefined, undefined)).toBe('n/a');
  });

  it('lists every missed target and prints the peer column only with a peer', () => {
    const MiB = 1048576;
    const subject = {
      floor: { rssBytes: 40 * MiB },
      setups: {
        api: { steady: { latencyMs: { p99: 7 }, idleRssBytes: 50 * MiB, hwmBytes: 48 * MiB }, startup: { warmMedianMs: 69 } },
        nostatus: { steady: { idleRssBytes: 47 * MiB, hwmBytes: 47 * MiB } },
      },
    };
    const alone = buildReport({ subject, artifacts: [] });
    expect(alone.missed).toEqual(['API only: resident memory, idle (MiB)', 'API only: latency p99 (ms)', 'status endpoint on adds, idle (MiB)']);
    expect(alone.text.split('\n')[0]).not.toContain('peer');
    expect(alone.text).toMatch(/API only: resident memory, idle \(MiB\)\s+50\.0\s+1\.25x\s+<= 1\.10x Node\s+MISS/);
    expect(alone.text).toMatch(/API only: resident memory, peak forwarding \(MiB\)\s+48\.0\s+1\.20x\s+<= 1\.25x Node\s+ok/);
    const peer = { setups: { api: { steady: { latencyMs: { p99: 14 } } } } };
    const beside = buildReport({ subject, peer, artifacts: [{ name: 'dist/x', bytes: 1048576 }] });
    expect(beside.text).toMatch(/API only: latency p99 \(ms\)\s+7\.00\s+14\.00\s+0\.50x\s+<= 3\s+MISS/);
    expect(beside.text).toMatch(/size of dist\/x \(MiB\)\s+1\.00/);
  });
});
