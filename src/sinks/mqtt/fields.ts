// A telegram as DSMR-reader's reading: the one table of field names, where each comes from, and what it measures.
// Names, topics and formats follow DSMR-reader (dsmr_datalogger/services/datalogger.py maps OBIS codes to the
// DsmrReading and MeterStatistics fields; dsmr_mqtt publishes them as {prefix}/reading/<field> and
// {prefix}/meter-stats/<field>), because Home Assistant's "DSMR Reader" integration subscribes to exactly those.
// Values are the meter's digits with the leading zeros dropped, as DSMR-reader's Decimal prints them ("000510.747"
// becomes "510.747", "00.000" becomes "0.000"): never a float, so totals are never rounded.
// Timestamps are UTC, "2016-11-13T19:57:57Z", as DSMR-reader's JSON encoder writes them by default.

import { decodeTelegram, type DecodedTelegram, type DecodedTimestamp, type DecodedValue, type MbusChannel } from '../../decode/decode.ts';
import { mbusChannel, parseObis, type ObisCode } from '../../decode/obis.ts';
import { isEuropeanSummerTime } from '../../simulate/dutch-time.ts';
import { isoTime } from '../../platform/iso-time.ts';

/** What a field measures: picks Home Assistant's device class, state class and the unit to assume. */
export type Quantity =
  | 'energy' // a meter total of electricity (kWh)
  | 'power' // kW
  | 'voltage'
  | 'current'
  | 'gas' // a gas meter total (m³)
  | 'water' // a water meter total (m³)
  | 'heat' // a heat meter total (GJ)
  | 'volume' // an M-Bus total of another medium
  | 'count'
  | 'tariff'
  | 'version'
  | 'timestamp';

/** reading: DsmrReading fields ({prefix}/reading/); meter-stats: MeterStatistics fields ({prefix}/meter-stats/). */
export type FieldGroup = 'reading' | 'meter-stats';

export interface Field {
  name: string;
  group: FieldGroup;
  quantity: Quantity;
  /** As published: a decimal text, a UTC timestamp, or the meter's text (version). */
  value: string;
  /** The unit the meter sent with the value, if any. */
  unit: string | null;
  /** Which device of the telegram measured it: the electricity meter, or an M-Bus channel. */
  device: 'meter' | number;
  /** A person's name for it (Home Assistant's entity name). */
  title: string;
}

export interface MeterIdentity {
  /** Equipment identifier as text (hex-decoded when it decodes), else as sent. */
  id: string | null;
  /** The identification line without "/" (e.g. "ISk5\2MT382-1000"), for the device's model. */
  header: string | null;
  manufacturer: string | null;
}

export interface MbusDevice {
  channel: number;
  medium: 'gas' | 'water' | 'heat' | 'other';
  id: string | null;
}

export interface Reading {
  meter: MeterIdentity;
  /** The M-Bus devices that sent a reading. */
  mbus: MbusDevice[];
  /** In DSMR-reader's order; only what the telegram holds. */
  fields: Field[];
}

interface FieldSpec {
  name: string;
  group: FieldGroup;
  quantity: Quantity;
  title: string;
}

const reading = (name: string, quantity: Quantity, title: string): FieldSpec => ({ name, group: 'reading', quantity, title });
const stats = (name: string, quantity: Quantity, title: string): FieldSpec => ({ name, group: 'meter-stats', quantity, title });

// Keyed by C.D.E of the electricity meter's codes (A = 1, or 0 for the 0-0: objects), in DSMR-reader's field order.
const METER_FIELDS: [string, FieldSpec][] = [
  ['0-0:1.0.0', reading('timestamp', 'timestamp', 'Telegram timestamp')],
  ['1-0:1.8.1', reading('electricity_delivered_1', 'energy', 'Electricity delivered, tariff 1')],
  ['1-0:2.8.1', reading('electricity_returned_1', 'energy', 'Electricity returned, tariff 1')],
  ['1-0:1.8.2', reading('electricity_delivered_2', 'energy', 'Electricity delivered, tariff 2')],
  ['1-0:2.8.2', reading('electricity_returned_2', 'energy', 'Electricity returned, tariff 2')],
  ['1-0:1.7.0', reading('electricity_currently_delivered', 'power', 'Power delivered')],
  ['1-0:2.7.0', reading('electricity_currently_returned', 'power', 'Power returned')],
  ['1-0:21.7.0', reading('phase_currently_delivered_l1', 'power', 'Power delivered L1')],
  ['1-0:41.7.0', reading('phase_currently_delivered_l2', 'power', 'Power delivered L2')],
  ['1-0:61.7.0', reading('phase_currently_delivered_l3', 'power', 'Power delivered L3')],
  ['1-0:22.7.0', reading('phase_currently_returned_l1', 'power', 'Power returned L1')],
  ['1-0:42.7.0', reading('phase_currently_returned_l2', 'power', 'Power returned L2')],
  ['1-0:62.7.0', reading('phase_currently_returned_l3', 'power', 'Power returned L3')],
  ['1-0:32.7.0', reading('phase_voltage_l1', 'voltage', 'Voltage L1')],
  ['1-0:52.7.0', reading('phase_voltage_l2', 'voltage', 'Voltage L2')],
  ['1-0:72.7.0', reading('phase_voltage_l3', 'voltage', 'Voltage L3')],
  ['1-0:31.7.0', reading('phase_power_current_l1', 'current', 'Current L1')],
  ['1-0:51.7.0', reading('phase_power_current_l2', 'current', 'Current L2')],
  ['1-0:71.7.0', reading('phase_power_current_l3', 'current', 'Current L3')],
  // Belgian capacity tariff (e-MUCS); DSMR-reader stores no reading field for them, so the names are dsmr_parser's.
  ['1-0:1.4.0', reading('current_average_demand', 'power', 'Average demand, current quarter hour')],
  ['1-0:1.6.0', reading('maximum_demand_month', 'power', 'Maximum quarter-hour demand this month')],
  ['1-3:0.2.8', stats('dsmr_version', 'version', 'DSMR version')],
  ['0-0:96.14.0', stats('electricity_tariff', 'tariff', 'Electricity tariff')],
  ['0-0:96.7.21', stats('power_failure_count', 'count', 'Power failures')],
  ['0-0:96.7.9', stats('long_power_failure_count', 'count', 'Long power failures')],
  ['1-0:32.32.0', stats('voltage_sag_count_l1', 'count', 'Voltage sags L1')],
  ['1-0:52.32.0', stats('voltage_sag_count_l2', 'count', 'Voltage sags L2')],
  ['1-0:72.32.0', stats('voltage_sag_count_l3', 'count', 'Voltage sags L3')],
  ['1-0:32.36.0', stats('voltage_swell_count_l1', 'count', 'Voltage swells L1')],
  ['1-0:52.36.0', stats('voltage_swell_count_l2', 'count', 'Voltage swells L2')],
  ['1-0:72.36.0', stats('voltage_swell_count_l3', 'count', 'Voltage swells L3')],
];
const BY_CODE = new Map(METER_FIELDS);
const ORDER = new Map(METER_FIELDS.map(([, spec], i) => [spec.name, i]));

// Meters with a single register (Luxembourg Smarty, EasyMeter, Austrian meters) send the total on x.8.0; DSMR-reader
// stores Smarty's totals as tariff 1, so a telegram without a tariff-1 register does the same.
const TOTAL_AS_TARIFF_1: Record<string, string> = { '1-0:1.8.0': '1-0:1.8.1', '1-0:2.8.0': '1-0:2.8.1' };

const MONTH_PEAK_TIME = reading('maximum_demand_month_timestamp', 'timestamp', 'Maximum quarter-hour demand this month, at');
const EXTRA_DEVICE_DELIVERED = (medium: MbusDevice['medium']) => reading('extra_device_delivered', QUANTITY_OF[medium], MEDIUM_TITLE[medium]);
const EXTRA_DEVICE_TIMESTAMP = reading('extra_device_timestamp', 'timestamp', 'Gas meter read at');

const QUANTITY_OF: Record<MbusDevice['medium'], Quantity> = { gas: 'gas', water: 'water', heat: 'heat', other: 'volume' };
const MEDIUM_TITLE: Record<MbusDevice['medium'], string> = { gas: 'Gas meter', water: 'Water meter', heat: 'Heat meter', other: 'M-Bus meter' };

// M-Bus medium codes (EN 13757-3).
const MEDIA: Record<number, MbusDevice['medium']> = { 3: 'gas', 4: 'heat', 12: 'heat', 13: 'heat', 6: 'water', 7: 'water', 21: 'water', 22: 'water' };

/** The telegram's reading; never throws (an undecodable telegram gives a reading without fields). */
export function readTelegram(telegram: Uint8Array): Reading {
  return readingOf(decodeTelegram(telegram));
}

export function readingOf(t: DecodedTelegram): Reading {
  const fields: Field[] = [];
  const taken = new Set<string>();
  const add = (spec: FieldSpec, value: string | null, unit: string | null, device: Field['device']) => {
    if (value === null || taken.has(spec.name)) return;
    taken.add(spec.name);
    fields.push({ name: spec.name, group: spec.group, quantity: spec.quantity, value, unit, device, title: spec.title });
  };
  const codes = new Set(t.objects.map((o) => meterCode(parseObis(o.obis))));
  for (const o of t.objects) {
    let code = meterCode(parseObis(o.obis));
    if (code && TOTAL_AS_TARIFF_1[code] && !codes.has(TOTAL_AS_TARIFF_1[code])) code = TOTAL_AS_TARIFF_1[code];
    const spec = code ? BY_CODE.get(code) : undefined;
    if (!spec) continue;
    if (code === '1-0:1.6.0') {
      // "1-0:1.6.0(200509134558S)(02.589*kW)": when the month's peak happened, and how high it was.
      add(spec, decimal(o.values[1]), unitOf(o.values[1]), 'meter');
      add(MONTH_PEAK_TIME, utcTimestamp(o.values[0]), null, 'meter');
    } else if (spec.quantity === 'timestamp') add(spec, utcTimestamp(o.values[0]), null, 'meter');
    else if (spec.quantity === 'version') add(spec, o.values[0]?.raw ?? null, null, 'meter');
    else add(spec, decimal(o.values[0]), unitOf(o.values[0]), 'meter');
  }

  const mbus = mbusDevices(t).filter((d) => (utcTimestamp(lastReading(t, d.channel)?.time) ?? '') >= UNSET_BEFORE);
  const extra = mbus.find((d) => d.medium === 'gas') ?? null;
  for (const device of mbus) {
    const last = lastReading(t, device.channel);
    if (!last) continue;
    const deliveredSpec = device === extra ? EXTRA_DEVICE_DELIVERED(device.medium) : reading(`mbus${device.channel}_delivered`, QUANTITY_OF[device.medium], `${MEDIUM_TITLE[device.medium]} (M-Bus ${device.channel})`);
    const timeSpec = device === extra ? EXTRA_DEVICE_TIMESTAMP : reading(`mbus${device.channel}_timestamp`, 'timestamp', `${MEDIUM_TITLE[device.medium]} (M-Bus ${device.channel}) read at`);
    // DSMR-reader drops the gas value when its time is no date (the 632525252525 marker): it cannot be placed.
    // A channel the meter never read says 1970 (its "700101010000W" unset date): there is no meter behind it.
    const at = utcTimestamp(last.time);
    if (at === null || at < UNSET_BEFORE) continue;
    add(timeSpec, at, null, device.channel);
    add(deliveredSpec, decimal(last.value), unitOf(last.value), device.channel);
  }
  fields.sort((a, b) => rank(a.name) - rank(b.name));
  return { meter: identity(t), mbus: mbus.filter((d) => fields.some((f) => f.device === d.channel)), fields };
}

// DSMR-reader's order (timestamp first, then the registers, ..., the extra device after the phases), then ours.
function rank(name: string): number {
  if (name === 'extra_device_timestamp') return ORDER.get('phase_currently_returned_l3')! + 0.1;
  if (name === 'extra_device_delivered') return ORDER.get('phase_currently_returned_l3')! + 0.2;
  if (name === 'maximum_demand_month_timestamp') return ORDER.get('maximum_demand_month')! + 0.1;
  const known = ORDER.get(name);
  if (known !== undefined) return known;
  const m = /^mbus(\d)_(delivered|timestamp)$/.exec(name);
  return ORDER.size + (m ? Number(m[1]) * 2 + (m[2] === 'delivered' ? 1 : 0) : 100);
}

/** "1-0:1.8.1" for the electricity meter's codes (some meters number it 1-1:), "0-0:..." as is; null for M-Bus. */
function meterCode(o: ObisCode | null): string | null {
  if (!o || mbusChannel(o) !== null) return null;
  return o.a === 1 && !BY_CODE.has(o.code) && !TOTAL_AS_TARIFF_1[o.code] ? `1-0:${o.c}.${o.d}.${o.e}` : o.code;
}

function identity(t: DecodedTelegram): MeterIdentity {
  return {
    id: idText(t.equipmentId),
    header: t.header ? t.header.raw.slice(1) : null,
    manufacturer: t.header ? t.header.manufacturer : null,
  };
}

function idText(id: { raw: string; text: string | null } | null): string | null {
  return (id?.text?.trim() || id?.raw.trim()) || null;
}

function mbusDevices(t: DecodedTelegram): MbusDevice[] {
  return t.mbus.filter((ch) => ch.readings.length > 0).map((ch) => ({ channel: ch.channel, medium: mediumOf(ch), id: idText(ch.equipmentId) }));
}

function mediumOf(ch: MbusChannel): MbusDevice['medium'] {
  if (ch.deviceType) return MEDIA[ch.deviceType.code] ?? 'other';
  // DSMR 2.2/3 meters send no device type: their M-Bus reading is the gas meter; otherwise the unit tells.
  const unit = ch.readings[0]?.unit?.toLowerCase();
  if (ch.readings.some((r) => r.obis.endsWith(':24.3.0')) || unit === 'm3') return 'gas';
  if (unit === 'gj') return 'heat';
  return 'other';
}

/** The channel's last reading, as written: its capture time and its value. */
function lastReading(t: DecodedTelegram, channel: number): { time: DecodedValue | undefined; value: DecodedValue | undefined } | null {
  let found: { time: DecodedValue | undefined; value: DecodedValue | undefined } | null = null;
  for (const o of t.objects) {
    const obis = parseObis(o.obis);
    if (!obis || mbusChannel(obis) !== channel || obis.c !== 24) continue;
    const cde = `${obis.d}.${obis.e}`;
    if (cde === '2.1' || cde === '2.3') found = { time: o.values[0], value: o.values[1] };
    // DSMR 2.2/3: "0-1:24.3.0(time)(00)(60)(1)(0-1:24.2.1)(m3)" then "(value)"; the decoder puts the value seventh.
    else if (cde === '3.0') found = { time: o.values[0], value: o.values[6] };
  }
  return found;
}

/** The meter's digits without leading zeros or a plus sign: "000510.747*kWh" gives "510.747". */
export function decimal(v: DecodedValue | undefined): string | null {
  if (v?.type !== 'number') return null;
  const m = /^([-+]?)0*(\d+(?:\.\d+)?)(?:\*|$)/.exec(v.raw);
  if (!m) return null;
  const digits = m[2];
  const zero = /^[0.]+$/.test(digits);
  return `${m[1] === '-' && !zero ? '-' : ''}${digits}`;
}

function unitOf(v: DecodedValue | undefined): string | null {
  return v?.type === 'number' ? v.unit : null;
}

const HOUR_MS = 3_600_000;
/** Readings dated before this are the meters' "never read" marker, not a reading. */
const UNSET_BEFORE = '2000-01-01';

/** "161113205757W" as "2016-11-13T19:57:57Z"; null when it is no date. Without S/W (DSMR 2.2/3 gas), Dutch time. */
export function utcTimestamp(v: DecodedValue | DecodedTimestamp | undefined | null): string | null {
  if (!v || !('iso' in v) || !v.iso) return null;
  const m = /^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)/.exec(v.iso);
  if (!m) return null;
  const wall = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6]));
  const summer = v.dst ?? isEuropeanSummerTime(wall - 2 * HOUR_MS);
  return isoTime(wall - (summer ? 2 : 1) * HOUR_MS).replace(/\.\d{3}Z$/, 'Z');
}
