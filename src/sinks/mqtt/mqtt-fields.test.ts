// The DSMR-reader field mapping of the MQTT output, over the fixture corpus. Expected values are read off the
// telegrams by hand (and DSMR-reader's own tests, for its Fluvius two-gas-meter telegram), not produced by the code.
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { decodeTelegram } from '../../decode/decode.ts';
import { readingOf, readTelegram, utcTimestamp, type Reading } from './fields.ts';
import { encodeTelegram, readingJson } from './encoder.ts';
import { fixture, repoRoot, telegramEntries } from '../../../test/helpers/fixtures.ts';

const expectedDir = join(repoRoot, 'test', 'fixtures', 'expected');
const expected = (name: string) => JSON.parse(readFileSync(join(expectedDir, `${name}.json`), 'utf8')) as { file: string; timestamp: { raw: string } | null };
const readingFor = (name: string): Reading => readTelegram(fixture(expected(name).file));
const values = (r: Reading) => Object.fromEntries(r.fields.map((f) => [f.name, f.value]));

describe('DSMR-reader fields from every telegram of the corpus', () => {
  const entries = telegramEntries();

  it.each(entries.map((e) => [e.file] as const))('%s', (file) => {
    const raw = fixture(file);
    const reading = readTelegram(raw);
    const names = reading.fields.map((f) => f.name);
    expect(new Set(names).size).toBe(names.length);
    for (const f of reading.fields) {
      if (f.quantity === 'timestamp') expect(f.value).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
      else if (f.quantity !== 'version') expect(f.value).toMatch(/^-?(0|[1-9]\d*)(\.\d+)?$/);
    }
    // Every number is the meter's own digits: the raw telegram holds them, with only leading zeros in front.
    const text = raw.toString('latin1');
    for (const f of reading.fields.filter((x) => !['timestamp', 'version'].includes(x.quantity))) {
      expect(new RegExp(`\\(0*${f.value.replace('.', '\\.')}(\\*|\\))`).test(text.replace(/\(-0*/g, '(-'))).toBe(true);
    }
  });

  it('covers the corpus', () => {
    expect(entries.length).toBeGreaterThan(100);
  });
});

describe('the field mapping, telegram by telegram', () => {
  it('DSMR 4.2 (Kaifa): registers without leading zeros, zeros kept as sent, UTC times, meter statistics', () => {
    const r = readingFor('nl-dsmr-4.2-power-failure-log');
    expect(values(r)).toEqual({
      timestamp: '2016-11-13T19:57:57Z', // 161113205757W: winter time, UTC+1
      electricity_delivered_1: '1581.123',
      electricity_returned_1: '0.000',
      electricity_delivered_2: '1435.706',
      electricity_returned_2: '0.000',
      electricity_currently_delivered: '2.027',
      electricity_currently_returned: '0.000',
      phase_currently_delivered_l1: '0.170',
      phase_currently_delivered_l2: '1.247',
      phase_currently_delivered_l3: '0.209',
      phase_currently_returned_l1: '0.000',
      phase_currently_returned_l2: '0.000',
      phase_currently_returned_l3: '0.000',
      extra_device_timestamp: '2016-11-29T19:00:00Z',
      extra_device_delivered: '981.443',
      phase_power_current_l1: '0',
      phase_power_current_l2: '6',
      phase_power_current_l3: '2',
      dsmr_version: '42',
      electricity_tariff: '2',
      power_failure_count: '15',
      long_power_failure_count: '7',
      voltage_sag_count_l1: '0',
      voltage_sag_count_l2: '0',
      voltage_sag_count_l3: '0',
      voltage_swell_count_l1: '0',
      voltage_swell_count_l2: '0',
      voltage_swell_count_l3: '0',
    });
    expect(r.fields.find((f) => f.name === 'electricity_delivered_1')).toMatchObject({ group: 'reading', quantity: 'energy', unit: 'kWh', device: 'meter' });
    expect(r.fields.find((f) => f.name === 'power_failure_count')).toMatchObject({ group: 'meter-stats', quantity: 'count' });
    expect(r.meter).toEqual({ id: '3960221976967177082151037881335713', header: 'KFM5KAIFA-METER', manufacturer: 'KFM' });
    expect(r.mbus).toEqual([{ channel: 1, medium: 'gas', id: '4819243993373755377509728609491464' }]);
  });

  it('Belgian e-MUCS: summer time, the quarter-hour peaks, gas as the extra device and water as M-Bus 2', () => {
    const r = readingFor('be-emucs-peaks-gas-water');
    const v = values(r);
    expect(v).toMatchObject({
      timestamp: '2020-05-12T11:54:09Z', // 200512135409S: UTC+2
      electricity_delivered_1: '0.034',
      electricity_delivered_2: '15.758',
      electricity_returned_2: '0.011',
      current_average_demand: '2.351',
      maximum_demand_month: '2.589',
      maximum_demand_month_timestamp: '2020-05-09T11:45:58Z',
      extra_device_delivered: '112.384',
      phase_power_current_l1: '0.00',
    });
    expect(v.dsmr_version).toBeUndefined(); // e-MUCS has 0-0:96.1.4, which DSMR-reader does not store as dsmr_version
    expect(r.mbus.map((d) => [d.channel, d.medium])).toEqual([[1, 'gas'], [2, 'water']]);
    expect(r.fields.find((f) => f.name === 'mbus2_delivered')).toMatchObject({ quantity: 'water', unit: 'm3', device: 2 });
    expect(r.fields.find((f) => f.name === 'extra_device_delivered')).toMatchObject({ quantity: 'gas', unit: 'm3', device: 1 });
  });

  it('Fluvius with two gas meters: channel 1 is the extra device, as in DSMR-reader\'s own test', () => {
    expect(values(readingFor('be-emucs-two-gas-meters'))).toMatchObject({
      timestamp: '2023-01-19T11:46:38Z',
      electricity_delivered_1: '4423.770',
      electricity_returned_1: '1194.693',
      electricity_currently_returned: '0.204',
      extra_device_timestamp: '2023-01-19T11:46:16Z',
      extra_device_delivered: '734.607',
      phase_voltage_l2: '234.2',
      // DSMR-reader stores the current as a whole number (2); the meter wrote 002.18, and that is what is published.
      phase_power_current_l1: '2.18',
      mbus2_delivered: '0.000',
    });
  });

  it('Luxembourg Smarty: the single registers 1.8.0/2.8.0 are tariff 1, as DSMR-reader stores them', () => {
    const r = readingFor('lu-smarty-spec');
    const v = values(r);
    expect(v.electricity_delivered_1).toBe('25.653');
    expect(v.electricity_returned_1).toBe('0.040');
    expect(v.electricity_delivered_2).toBeUndefined();
    expect(r.meter.id).toBe('SAG1030790002574'); // 0-0:42.0.0, hex-decoded
    expect(r.mbus.map((d) => d.channel)).toEqual([1, 4]);
  });

  it('DSMR 2.2 gas on 24.3.0 with its value on the next line, local time without S/W taken as Dutch time', () => {
    const v = values(readingFor('nl-dsmr-2.2-gas-two-lines'));
    expect(v.extra_device_delivered).toBe('1.001');
    expect(v.extra_device_timestamp).toBe('2016-11-07T18:00:00Z'); // 161107190000, November: winter time
    expect(v.timestamp).toBeUndefined(); // DSMR 2.2 sends no 0-0:1.0.0
    const kamstrup = values(readingFor('nl-dsmr-2.2-kamstrup-multiline-message'));
    expect(kamstrup.extra_device_timestamp).toBe('2012-05-17T00:00:00Z'); // 120517020000, May: summer time
    expect(kamstrup.extra_device_delivered).toBe('124.477');
  });

  it('a heat meter (GJ) is an M-Bus meter of its own, not the gas "extra device"', () => {
    const r = readingFor('nl-dsmr-5.0-heat-unpadded-crc');
    expect(values(r).extra_device_delivered).toBeUndefined();
    expect(r.fields.find((f) => f.name === 'mbus1_delivered')).toMatchObject({ value: '240.860', unit: 'GJ', quantity: 'heat' });
  });

  it('M-Bus channels without a reading are left out: the no-value marker and the never-read 1970 channel', () => {
    expect(values(readingFor('nl-dsmr-5.0-gas-no-value-timestamp')).extra_device_delivered).toBeUndefined();
    const r = readingFor('nl-dsmr-5.0-two-mbus-empty-channel');
    expect(r.mbus.map((d) => d.channel)).toEqual([2]);
    expect(values(r).extra_device_delivered).toBeDefined();
    expect(values(r).mbus1_delivered).toBeUndefined();
  });

  it('meters that write Wh and W keep their unit: nothing is converted', () => {
    const r = readingFor('at-sagemcom-wh-units');
    expect(r.fields.find((f) => f.name === 'electricity_delivered_1')).toMatchObject({ value: '5017120', unit: 'Wh' });
    expect(r.fields.find((f) => f.name === 'electricity_currently_delivered')).toMatchObject({ value: '286', unit: 'W' });
  });

  it('a telegram that is no telegram has no fields, and does not throw', () => {
    expect(readTelegram(Buffer.from('garbage\r\n')).fields).toEqual([]);
    expect(readingOf(decodeTelegram(Buffer.from('/XYZ5\r\n\r\n!\r\n'))).fields).toEqual([]);
  });

  it('converts the expected timestamps of the corpus to UTC by the meter\'s S/W flag', () => {
    for (const [name, utc] of [
      ['nl-dsmr-4.0-landisgyr-lowercase-dst', '2015-07-01T17:29:59Z'],
      ['nl-dsmr-5.0-spec-text-message', '2010-12-09T10:30:20Z'],
      ['nl-dsmr-5.0-two-mbus-empty-channel', '2020-04-26T20:33:25Z'],
    ]) {
      const e = expected(name);
      expect(utcTimestamp(decodeTelegram(fixture(e.file)).timestamp)).toBe(utc);
    }
  });
});

describe('what one telegram becomes on the broker', () => {
  it('the raw bytes, the JSON reading and one topic per field, all retained, under the prefix', () => {
    const raw = fixture(expected('nl-dsmr-4.2-power-failure-log').file);
    const reading = readTelegram(raw);
    const out = encodeTelegram('home/p1', raw, reading);
    expect(out[0]).toEqual({ topic: 'home/p1/raw', payload: raw, retain: true });
    expect(out[1].topic).toBe('home/p1/json');
    expect(out.every((m) => m.retain)).toBe(true);
    expect(out.find((m) => m.topic === 'home/p1/reading/electricity_delivered_1')?.payload).toBe('1581.123');
    expect(out.find((m) => m.topic === 'home/p1/meter-stats/electricity_tariff')?.payload).toBe('2');
    expect(out.length).toBe(2 + reading.fields.length);
  });

  it('JSON has DSMR-reader\'s fields in its order, null where the meter sent nothing, decimals as strings', () => {
    const json = JSON.parse(readingJson(readTelegram(fixture(expected('nl-dsmr-4.2-power-failure-log').file))));
    // The order of DSMR-reader's default JSON mapping (JSONTelegramMQTTSettings), read off its settings model.
    const dsmrReaderOrder =
      'timestamp electricity_delivered_1 electricity_returned_1 electricity_delivered_2 electricity_returned_2 electricity_currently_delivered electricity_currently_returned phase_currently_delivered_l1 phase_currently_delivered_l2 phase_currently_delivered_l3 phase_currently_returned_l1 phase_currently_returned_l2 phase_currently_returned_l3 extra_device_timestamp extra_device_delivered phase_voltage_l1 phase_voltage_l2 phase_voltage_l3 phase_power_current_l1 phase_power_current_l2 phase_power_current_l3';
    expect(Object.keys(json).slice(0, 21)).toEqual(dsmrReaderOrder.split(' '));
    expect(json.electricity_delivered_1).toBe('1581.123');
    expect(json.phase_voltage_l1).toBeNull(); // this Kaifa sends no voltages
    expect(json.power_failure_count).toBeUndefined(); // meter statistics have topics of their own
  });

  it('a telegram without readable fields is still published raw, without JSON', () => {
    const out = encodeTelegram('dsmr', Buffer.from('/ABC5 x\r\n!\r\n'), readTelegram(Buffer.from('/ABC5 x\r\n!\r\n')));
    expect(out.map((m) => m.topic)).toEqual(['dsmr/raw']);
  });
});
