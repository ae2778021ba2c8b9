import { describe, expect, it } from 'vitest';
import { amsterdamTime, dsmrTimestamp } from '../../src/simulate/dutch-time.ts';
import { METER_HEADER, SimulatedMeter } from '../../src/simulate/meter.ts';

// An independent, bitwise CRC16/ARC, so a table error in src/transforms/crc16.ts would not go unnoticed here.
function bitwiseCrc16(bytes: Buffer): number {
  let crc = 0;
  for (const byte of bytes) {
    crc ^= byte;
    for (let k = 0; k < 8; k++) crc = crc & 1 ? (crc >>> 1) ^ 0xa001 : crc >>> 1;
  }
  return crc;
}

function field(telegram: string, obis: string): string {
  const line = telegram.split('\r\n').find((l) => l.startsWith(`${obis}(`));
  if (!line) throw new Error(`no ${obis} in telegram`);
  return line.slice(obis.length);
}

/** First value of an OBIS line as a number, unit stripped. */
function value(telegram: string, obis: string): number {
  return Number(/^\(([\d.]+)/.exec(field(telegram, obis))![1]);
}

/** Whole Wh from a kWh register, avoiding float sums. */
function wh(telegram: string, obis: string): number {
  return Math.round(value(telegram, obis) * 1000);
}

function watts(telegram: string, obis: string): number {
  return Math.round(value(telegram, obis) * 1000);
}

/** DSMR `YYMMDDhhmmssX` back to UTC milliseconds: S is UTC+2, W is UTC+1. */
function parseDsmrTime(stamp: string): number {
  const m = /^(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)([SW])$/.exec(stamp);
  if (!m) throw new Error(`bad timestamp ${stamp}`);
  const [, yy, mo, dd, hh, mi, ss, dst] = m;
  return Date.UTC(2000 + Number(yy), Number(mo) - 1, Number(dd), Number(hh) - (dst === 'S' ? 2 : 1), Number(mi), Number(ss));
}

function telegramTime(telegram: string): number {
  return parseDsmrTime(/^\((\w+)\)$/.exec(field(telegram, '0-0:1.0.0'))![1]);
}

function run(meter: SimulatedMeter, count: number): string[] {
  return Array.from({ length: count }, () => meter.next().toString('latin1'));
}

describe('SimulatedMeter telegram format', () => {
  const telegrams = run(new SimulatedMeter({ seed: 42, start: new Date('2026-06-10T10:00:00Z') }), 300);

  it('ends every telegram in ! and a valid CRC16 as 4 uppercase hex digits and CRLF', () => {
    for (const telegram of telegrams) {
      const bytes = Buffer.from(telegram, 'latin1');
      const m = /!([0-9A-F]{4})\r\n$/.exec(telegram);
      expect(m, telegram.slice(-12)).not.toBeNull();
      const bang = telegram.lastIndexOf('!');
      expect(telegram.indexOf('!')).toBe(bang);
      expect(parseInt(m![1], 16)).toBe(bitwiseCrc16(bytes.subarray(0, bang + 1)));
    }
  });

  it('uses CRLF line ends only and well-formed COSEM lines', () => {
    const telegram = telegrams[0];
    expect(telegram.replace(/\r\n/g, '')).not.toMatch(/[\r\n]/);
    const lines = telegram.split('\r\n');
    expect(lines[0]).toBe(METER_HEADER);
    expect(lines[0]).toBe('/ISK5\\2M550T-1012');
    expect(lines[1]).toBe('');
    expect(lines[2]).toBe('1-3:0.2.8(50)');
    for (const line of lines.slice(2, -2)) expect(line).toMatch(/^\d+-\d+:\d+\.\d+\.\d+(\([^()]*\))+$/);
    expect(lines.at(-1)).toBe('');
    expect(lines.at(-2)).toMatch(/^![0-9A-F]{4}$/);
  });

  it('contains the registers DSMR-reader reads, with DSMR 5 widths and units', () => {
    const t = telegrams[0];
    for (const obis of ['1-0:1.8.1', '1-0:1.8.2', '1-0:2.8.1', '1-0:2.8.2']) expect(field(t, obis)).toMatch(/^\(\d{6}\.\d{3}\*kWh\)$/);
    for (const obis of ['1-0:1.7.0', '1-0:2.7.0', '1-0:21.7.0', '1-0:41.7.0', '1-0:61.7.0', '1-0:22.7.0', '1-0:42.7.0', '1-0:62.7.0']) {
      expect(field(t, obis)).toMatch(/^\(\d{2}\.\d{3}\*kW\)$/);
    }
    for (const obis of ['1-0:32.7.0', '1-0:52.7.0', '1-0:72.7.0']) {
      expect(field(t, obis)).toMatch(/^\(\d{3}\.\d\*V\)$/);
      expect(value(t, obis)).toBeGreaterThan(207);
      expect(value(t, obis)).toBeLessThan(253);
    }
    for (const obis of ['1-0:31.7.0', '1-0:51.7.0', '1-0:71.7.0']) expect(field(t, obis)).toMatch(/^\(\d{3}\*A\)$/);
    expect(field(t, '0-0:1.0.0')).toMatch(/^\(\d{12}[SW]\)$/);
    expect(field(t, '0-0:96.1.1')).toMatch(/^\(([0-9A-F]{2}){17}\)$/);
    expect(Buffer.from(field(t, '0-0:96.1.1').slice(1, -1), 'hex').toString('ascii')).toMatch(/^E00\d{14}$/);
    expect(field(t, '0-0:96.14.0')).toMatch(/^\(000[12]\)$/);
    expect(field(t, '0-0:96.7.21')).toMatch(/^\(\d{5}\)$/);
    expect(field(t, '0-0:96.7.9')).toMatch(/^\(\d{5}\)$/);
    expect(field(t, '1-0:99.97.0')).toMatch(/^\(1\)\(0-0:96\.7\.19\)\(\d{12}[SW]\)\(\d{10}\*s\)$/);
    expect(field(t, '0-1:24.1.0')).toBe('(003)');
    expect(Buffer.from(field(t, '0-1:96.1.0').slice(1, -1), 'hex').toString('ascii')).toMatch(/^G00\d{14}$/);
    expect(field(t, '0-1:24.2.1')).toMatch(/^\(\d{12}[SW]\)\(\d{5}\.\d{3}\*m3\)$/);
  });

  it('makes the total power the sum of the phases, importing or exporting but never both', () => {
    for (const t of telegrams) {
      const net =
        watts(t, '1-0:21.7.0') + watts(t, '1-0:41.7.0') + watts(t, '1-0:61.7.0') -
        watts(t, '1-0:22.7.0') - watts(t, '1-0:42.7.0') - watts(t, '1-0:62.7.0');
      expect(watts(t, '1-0:1.7.0') - watts(t, '1-0:2.7.0')).toBe(net);
      expect(watts(t, '1-0:1.7.0') === 0 || watts(t, '1-0:2.7.0') === 0).toBe(true);
    }
  });
});

describe('SimulatedMeter counters', () => {
  // A June day at 10 s: nights on the low tariff, solar export at midday, a working day on the normal tariff.
  const intervalSeconds = 10;
  const start = new Date('2026-06-10T00:00:00+02:00');
  const telegrams = run(new SimulatedMeter({ seed: 7, start, intervalSeconds }), 8641);

  it('advances the meter time by the interval, with the right S/W letter', () => {
    telegrams.forEach((t, i) => expect(telegramTime(t)).toBe(start.getTime() + i * intervalSeconds * 1000));
    expect(field(telegrams[0], '0-0:1.0.0')).toBe('(260610000000S)');
  });

  it('never decreases an energy register and raises them by power x time', () => {
    const registers = ['1-0:1.8.1', '1-0:1.8.2', '1-0:2.8.1', '1-0:2.8.2'];
    let sawImport = false;
    let sawExport = false;
    for (let i = 1; i < telegrams.length; i++) {
      const [before, after] = [telegrams[i - 1], telegrams[i]];
      for (const r of registers) expect(wh(after, r)).toBeGreaterThanOrEqual(wh(before, r));
      const importedWh = wh(after, '1-0:1.8.1') + wh(after, '1-0:1.8.2') - wh(before, '1-0:1.8.1') - wh(before, '1-0:1.8.2');
      const exportedWh = wh(after, '1-0:2.8.1') + wh(after, '1-0:2.8.2') - wh(before, '1-0:2.8.1') - wh(before, '1-0:2.8.2');
      // The power in a telegram is the average over the interval before it; registers show whole Wh (rounded down).
      expect(Math.abs(importedWh - (watts(after, '1-0:1.7.0') * intervalSeconds) / 3600)).toBeLessThan(1);
      expect(Math.abs(exportedWh - (watts(after, '1-0:2.7.0') * intervalSeconds) / 3600)).toBeLessThan(1);
      // Energy goes to the register of the tariff in force.
      const low = field(after, '0-0:96.14.0') === '(0001)';
      expect(wh(after, low ? '1-0:1.8.2' : '1-0:1.8.1')).toBe(wh(before, low ? '1-0:1.8.2' : '1-0:1.8.1'));
      sawImport ||= watts(after, '1-0:1.7.0') > 0;
      sawExport ||= watts(after, '1-0:2.7.0') > 0;
    }
    expect(sawImport && sawExport).toBe(true);
  });

  it('keeps the whole-day totals consistent with the sum of power x time', () => {
    const first = telegrams[0];
    const last = telegrams.at(-1)!;
    let importWs = 0;
    let exportWs = 0;
    for (const t of telegrams.slice(1)) {
      importWs += watts(t, '1-0:1.7.0') * intervalSeconds;
      exportWs += watts(t, '1-0:2.7.0') * intervalSeconds;
    }
    const importedWh = wh(last, '1-0:1.8.1') + wh(last, '1-0:1.8.2') - wh(first, '1-0:1.8.1') - wh(first, '1-0:1.8.2');
    const exportedWh = wh(last, '1-0:2.8.1') + wh(last, '1-0:2.8.2') - wh(first, '1-0:2.8.1') - wh(first, '1-0:2.8.2');
    expect(Math.abs(importedWh - importWs / 3600)).toBeLessThan(2);
    expect(Math.abs(exportedWh - exportWs / 3600)).toBeLessThan(2);
    // A plausible household: a few kWh a day, some solar return in June.
    expect(importedWh).toBeGreaterThan(1500);
    expect(importedWh).toBeLessThan(25_000);
    expect(exportedWh).toBeGreaterThan(1000);
  });

  it('uses the low tariff at night and the normal tariff on a weekday afternoon', () => {
    const at = (hour: number) => field(telegrams[(hour * 3600) / intervalSeconds], '0-0:96.14.0');
    expect(at(3)).toBe('(0001)');
    expect(at(15)).toBe('(0002)');
    expect(at(23.5)).toBe('(0001)');
  });

  it('reads the gas meter every 5 minutes, on the 5-minute mark, never going down', () => {
    let readings = 0;
    for (let i = 1; i < telegrams.length; i++) {
      const [, stampBefore, m3Before] = /^\((\w+)\)\(([\d.]+)\*m3\)$/.exec(field(telegrams[i - 1], '0-1:24.2.1'))!;
      const [, stamp, m3] = /^\((\w+)\)\(([\d.]+)\*m3\)$/.exec(field(telegrams[i], '0-1:24.2.1'))!;
      const gasTime = parseDsmrTime(stamp);
      const now = telegramTime(telegrams[i]);
      expect(gasTime % 300_000).toBe(0);
      expect(gasTime).toBeLessThanOrEqual(now);
      expect(now - gasTime).toBeLessThan(300_000);
      expect(Number(m3)).toBeGreaterThanOrEqual(Number(m3Before));
      if (stamp === stampBefore) expect(m3).toBe(m3Before);
      else readings++;
    }
    expect(readings).toBe(288);
  });
});

describe('Dutch meter time', () => {
  it('switches to summer time on 29 March 2026 and back on 25 October 2026', () => {
    expect(dsmrTimestamp(Date.parse('2026-03-29T00:59:59Z'))).toBe('260329015959W');
    expect(dsmrTimestamp(Date.parse('2026-03-29T01:00:00Z'))).toBe('260329030000S');
    expect(dsmrTimestamp(Date.parse('2026-10-25T00:59:59Z'))).toBe('261025025959S');
    expect(dsmrTimestamp(Date.parse('2026-10-25T01:00:00Z'))).toBe('261025020000W');
    expect(dsmrTimestamp(Date.parse('2026-01-01T00:00:00Z'))).toBe('260101010000W');
    expect(dsmrTimestamp(Date.parse('2026-07-01T12:00:00Z'))).toBe('260701140000S');
  });

  it('shows the switch in the telegrams: the doubled hour in October is told apart by S and W', () => {
    const october = run(new SimulatedMeter({ seed: 1, start: new Date('2026-10-25T00:59:58Z') }), 3);
    expect(october.map((t) => field(t, '0-0:1.0.0'))).toEqual(['(261025025958S)', '(261025025959S)', '(261025020000W)']);
    const march = run(new SimulatedMeter({ seed: 1, start: new Date('2026-03-29T00:59:59Z') }), 2);
    expect(march.map((t) => field(t, '0-0:1.0.0'))).toEqual(['(260329015959W)', '(260329030000S)']);
  });

  it('agrees with the Europe/Amsterdam zone of the runtime for every hour of 2025 to 2027', () => {
    const zone = new Intl.DateTimeFormat('en-GB', {
      timeZone: 'Europe/Amsterdam', year: '2-digit', month: '2-digit', day: '2-digit',
      hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23', timeZoneName: 'shortOffset',
    });
    for (let t = Date.parse('2025-01-01T00:30:00Z'); t < Date.parse('2028-01-01T00:00:00Z'); t += 3_600_000) {
      const parts = Object.fromEntries(zone.formatToParts(t).map((p) => [p.type, p.value]));
      const expected = `${parts.year}${parts.month}${parts.day}${parts.hour}${parts.minute}${parts.second}${parts.timeZoneName === 'GMT+2' ? 'S' : 'W'}`;
      expect(dsmrTimestamp(t)).toBe(expected);
    }
    expect(amsterdamTime(Date.parse('2026-03-28T12:00:00Z')).weekday).toBe(6);
  });
});

describe('SimulatedMeter determinism', () => {
  const start = new Date('2026-02-02T18:00:00+01:00');

  it('produces the same telegrams for the same seed and start', () => {
    const a = run(new SimulatedMeter({ seed: 123, start }), 200).join('');
    const b = run(new SimulatedMeter({ seed: 123, start }), 200).join('');
    expect(a).toBe(b);
  });

  it('produces a different meter for another seed', () => {
    const a = run(new SimulatedMeter({ seed: 123, start }), 1)[0];
    const b = run(new SimulatedMeter({ seed: 124, start }), 1)[0];
    expect(field(a, '0-0:96.1.1')).not.toBe(field(b, '0-0:96.1.1'));
    expect(field(a, '1-0:1.8.1')).not.toBe(field(b, '1-0:1.8.1'));
  });

  it('varies the power from one telegram to the next', () => {
    const powers = new Set(run(new SimulatedMeter({ seed: 5, start }), 60).map((t) => field(t, '1-0:1.7.0')));
    expect(powers.size).toBeGreaterThan(10);
  });

  it('returns no solar power without panels', () => {
    const noon = run(new SimulatedMeter({ seed: 9, start: new Date('2026-06-21T12:00:00+02:00'), solarPeakKw: 0, intervalSeconds: 30 }), 240);
    for (const t of noon) expect(watts(t, '1-0:2.7.0')).toBe(0);
    expect(wh(noon[0], '1-0:2.8.1') + wh(noon[0], '1-0:2.8.2')).toBe(0);
  });

  it('rejects an interval that is not a positive number', () => {
    expect(() => new SimulatedMeter({ intervalSeconds: 0 })).toThrow(RangeError);
    expect(() => new SimulatedMeter({ intervalSeconds: Number.NaN })).toThrow(RangeError);
  });
});
