// Home Assistant discovery payloads of the MQTT output: topics, device and state classes, units, stable unique ids.
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { discoveryConfigs, nodeId } from './discovery.ts';
import { readTelegram, type Reading } from './fields.ts';
import { sensorsOf } from './sink.ts';
import { fixture, repoRoot, telegramEntries } from '../../../test/helpers/fixtures.ts';

const expectedDir = join(repoRoot, 'test', 'fixtures', 'expected');
const telegramOf = (name: string) => fixture((JSON.parse(readFileSync(join(expectedDir, `${name}.json`), 'utf8')) as { file: string }).file);

interface Config {
  name: string;
  unique_id: string;
  state_topic: string;
  device_class?: string;
  state_class?: string;
  unit_of_measurement?: string;
  availability_topic: string;
  payload_available: string;
  payload_not_available: string;
  device: { identifiers: string[]; name: string; manufacturer?: string; model?: string; via_device?: string };
}

function configs(name: string, prefix = 'dsmr'): Map<string, Config> {
  return new Map(discoveryConfigs(prefix, readTelegram(telegramOf(name))).map((m) => [m.topic, JSON.parse(m.payload as string) as Config]));
}

const KAIFA = 'dsmr_3960221976967177082151037881335713';
const KAIFA_GAS = 'dsmr_4819243993373755377509728609491464';

describe('Home Assistant discovery', () => {
  it('one retained config per quantity the meter sends, under homeassistant/sensor/<node>/<field>/config', () => {
    const out = discoveryConfigs('dsmr', readTelegram(telegramOf('nl-dsmr-4.2-power-failure-log')));
    expect(out.every((m) => m.retain)).toBe(true);
    const topics = out.map((m) => m.topic);
    expect(topics).toContain(`homeassistant/sensor/${KAIFA}/electricity_delivered_1/config`);
    expect(topics).toContain(`homeassistant/sensor/${KAIFA_GAS}/extra_device_delivered/config`);
    // This Kaifa sends no voltages: no sensor for them.
    expect(topics.some((t) => t.includes('phase_voltage'))).toBe(false);
    expect(topics.every((t) => /^homeassistant\/sensor\/[A-Za-z0-9_-]+\/[A-Za-z0-9_-]+\/config$/.test(t))).toBe(true);
  });

  it('the meter totals are energy/gas with total_increasing, so the Energy dashboard takes them', () => {
    const c = configs('nl-dsmr-4.2-power-failure-log');
    expect(c.get(`homeassistant/sensor/${KAIFA}/electricity_delivered_1/config`)).toEqual({
      name: 'Electricity delivered, tariff 1',
      unique_id: `${KAIFA}_electricity_delivered_1`,
      state_topic: 'dsmr/reading/electricity_delivered_1',
      device_class: 'energy',
      state_class: 'total_increasing',
      unit_of_measurement: 'kWh',
      availability_topic: 'dsmr/availability',
      payload_available: 'online',
      payload_not_available: 'offline',
      device: { identifiers: [KAIFA], name: 'Smart meter 3960221976967177082151037881335713', manufacturer: 'KFM', model: 'KFM5KAIFA-METER' },
    });
    const gas = c.get(`homeassistant/sensor/${KAIFA_GAS}/extra_device_delivered/config`)!;
    expect(gas).toMatchObject({ device_class: 'gas', state_class: 'total_increasing', unit_of_measurement: 'm³', state_topic: 'dsmr/reading/extra_device_delivered' });
    // The gas meter is a device of its own, named from its equipment identifier, reached through the meter.
    expect(gas.device).toEqual({ identifiers: [KAIFA_GAS], name: 'Gas meter 4819243993373755377509728609491464', via_device: KAIFA });
  });

  it('instantaneous values are measurements with their class and unit; times are timestamps; counters have no unit', () => {
    const c = configs('nl-dsmr-5.0-spec-text-message');
    const node = nodeId('K8EG004046395507');
    const get = (field: string) => c.get(`homeassistant/sensor/${node}/${field}/config`);
    expect(get('electricity_currently_delivered')).toMatchObject({ device_class: 'power', state_class: 'measurement', unit_of_measurement: 'kW' });
    expect(get('phase_voltage_l1')).toMatchObject({ device_class: 'voltage', state_class: 'measurement', unit_of_measurement: 'V' });
    expect(get('phase_power_current_l3')).toMatchObject({ device_class: 'current', state_class: 'measurement', unit_of_measurement: 'A' });
    const ts = get('timestamp')!;
    expect(ts.device_class).toBe('timestamp');
    expect(ts.state_class).toBeUndefined();
    expect(ts.unit_of_measurement).toBeUndefined();
    expect(get('power_failure_count')).toMatchObject({ state_class: 'measurement', state_topic: 'dsmr/meter-stats/power_failure_count' });
    expect(get('power_failure_count')!.unit_of_measurement).toBeUndefined();
  });

  it('water and heat meters get their classes and the units the meter sent', () => {
    const be = configs('be-emucs-peaks-gas-water');
    const water = [...be.values()].find((c) => c.state_topic === 'dsmr/reading/mbus2_delivered')!;
    expect(water).toMatchObject({ device_class: 'water', state_class: 'total_increasing', unit_of_measurement: 'm³' });
    expect(water.device.name).toBe('Water meter 8SAG1234567890');
    const peak = [...be.values()].find((c) => c.state_topic === 'dsmr/reading/current_average_demand')!;
    expect(peak).toMatchObject({ device_class: 'power', state_class: 'measurement', unit_of_measurement: 'kW' });
    const heat = [...configs('nl-dsmr-5.0-heat-unpadded-crc').values()].find((c) => c.state_topic === 'dsmr/reading/mbus1_delivered')!;
    expect(heat).toMatchObject({ device_class: 'energy', state_class: 'total_increasing', unit_of_measurement: 'GJ' });
    const wh = [...configs('at-sagemcom-wh-units').values()].find((c) => c.state_topic === 'dsmr/reading/electricity_delivered_1')!;
    expect(wh.unit_of_measurement).toBe('Wh');
  });

  it('unique ids are unique, and the same for every telegram of the same meter', () => {
    for (const entry of telegramEntries()) {
      const ids = [...discoveryConfigs('dsmr', readTelegram(fixture(entry.file))).map((m) => (JSON.parse(m.payload as string) as Config).unique_id)];
      expect(new Set(ids).size).toBe(ids.length);
    }
    const first = [...configs('nl-dsmr-5.0-spec-text-message').values()].map((c) => c.unique_id);
    const second = [...configs('nl-dsmr-5.0-empty-mbus-channel').values()].map((c) => c.unique_id); // same meter id
    expect(second.filter((id) => !id.includes('2222ABCD')).every((id) => first.includes(id))).toBe(true);
  });

  it('follows the topic prefix for states and availability, but discovery stays under homeassistant/', () => {
    const c = [...configs('nl-dsmr-4.2-power-failure-log', 'home/meter').entries()];
    expect(c.every(([topic]) => topic.startsWith('homeassistant/sensor/'))).toBe(true);
    expect(c.every(([, config]) => config.state_topic.startsWith('home/meter/') && config.availability_topic === 'home/meter/availability')).toBe(true);
  });

  it('a meter without an equipment identifier is named from its identification line', () => {
    const c = configs('at-sagemcom-wh-units');
    const node = [...c.values()][0].device.identifiers[0];
    expect(node).toBe('dsmr_EST5_253710000_A');
  });

  it('the sensors key (what decides whether configs are built again) changes exactly when the configs do', () => {
    // Configs are built only when sensorsOf differs from the last acknowledged: two readings with the same key must
    // have the same configs, whatever their values.
    const byKey = new Map<string, string>();
    for (const entry of telegramEntries()) {
      const reading = readTelegram(fixture(entry.file));
      const built = JSON.stringify(discoveryConfigs('dsmr', reading));
      const seen = byKey.get(sensorsOf(reading));
      if (seen !== undefined) expect(built).toBe(seen);
      byKey.set(sensorsOf(reading), built);
    }
    const reading = readTelegram(telegramOf('nl-dsmr-4.2-power-failure-log'));
    const withValues = (change: (r: Reading) => Reading) => sensorsOf(change(structuredClone(reading)));
    expect(withValues((r) => ({ ...r, fields: r.fields.map((f) => ({ ...f, value: `${f.value}9` })) }))).toBe(sensorsOf(reading));
    expect(withValues((r) => ({ ...r, fields: r.fields.map((f, i) => (i === 1 ? { ...f, unit: 'Wh' } : f)) }))).not.toBe(sensorsOf(reading));
    expect(withValues((r) => ({ ...r, fields: r.fields.slice(1) }))).not.toBe(sensorsOf(reading));
    expect(withValues((r) => ({ ...r, meter: { ...r.meter, id: 'another meter' } }))).not.toBe(sensorsOf(reading));
  });
});
