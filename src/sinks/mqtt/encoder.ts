// What one telegram becomes on the broker, in DSMR-reader's layout: the raw telegram, the reading as JSON, and each
// field on its own topic. Every message is retained, as DSMR-reader publishes them, so a subscriber that (re)starts
// has the latest values at once.
import type { Reading } from './fields.ts';

export interface Publish {
  topic: string;
  payload: Buffer | string;
  retain: boolean;
}

/** DSMR-reader's JSON reading fields, in its order; the ones a telegram lacks are null, as DSMR-reader sends them. */
const JSON_FIELDS = [
  'timestamp',
  'electricity_delivered_1',
  'electricity_returned_1',
  'electricity_delivered_2',
  'electricity_returned_2',
  'electricity_currently_delivered',
  'electricity_currently_returned',
  'phase_currently_delivered_l1',
  'phase_currently_delivered_l2',
  'phase_currently_delivered_l3',
  'phase_currently_returned_l1',
  'phase_currently_returned_l2',
  'phase_currently_returned_l3',
  'extra_device_timestamp',
  'extra_device_delivered',
  'phase_voltage_l1',
  'phase_voltage_l2',
  'phase_voltage_l3',
  'phase_power_current_l1',
  'phase_power_current_l2',
  'phase_power_current_l3',
];

export const topics = (prefix: string) => ({
  raw: `${prefix}/raw`,
  json: `${prefix}/json`,
  field: (group: string, name: string) => `${prefix}/${group}/${name}`,
  /** online/offline, retained; offline is also the connection's last will. */
  availability: `${prefix}/availability`,
});

export function encodeTelegram(prefix: string, telegram: Buffer, reading: Reading): Publish[] {
  const t = topics(prefix);
  // A copy: a telegram from the backlog is a view of a buffer its next read reuses (Backlog.readBatch), and mqtt.js
  // may still hold a payload after this telegram's post has ended (a socket that drops with writes queued).
  const out: Publish[] = [{ topic: t.raw, payload: Buffer.from(telegram), retain: true }];
  const readingFields = reading.fields.filter((f) => f.group === 'reading');
  if (readingFields.length > 0) out.push({ topic: t.json, payload: readingJson(reading), retain: true });
  for (const f of reading.fields) out.push({ topic: t.field(f.group, f.name), payload: f.value, retain: true });
  return out;
}

/**
 * The reading as DSMR-reader's JSON telegram: its fields (null when absent), then the ones DSMR-reader lacks
 * (Belgian peaks, further M-Bus meters). Numbers are strings of the meter's digits, as DSMR-reader's JSON encoder
 * writes its Decimals: a float would round the totals.
 */
export function readingJson(reading: Reading): string {
  const values = new Map(reading.fields.filter((f) => f.group === 'reading').map((f) => [f.name, f.value]));
  const json: Record<string, string | null> = {};
  for (const name of JSON_FIELDS) json[name] = values.get(name) ?? null;
  for (const [name, value] of values) if (!(name in json)) json[name] = value;
  return JSON.stringify(json);
}
