// Home Assistant MQTT discovery: a retained config per sensor under homeassistant/sensor/<node>/<object>/config, one
// device per meter (the electricity meter, and each M-Bus meter through it), so the meters show up without any YAML
// and the Energy dashboard takes the totals (device class energy/gas/water, state class total_increasing).
// unique_id is built from the meter's equipment identifier and the field name, so it stays the same across restarts,
// reinstalls and brokers.
import type { Field, MbusDevice, Quantity, Reading } from './fields.ts';
import type { Publish } from './encoder.ts';
import { topics } from './encoder.ts';

export const DISCOVERY_PREFIX = 'homeassistant';

interface QuantityClass {
  deviceClass?: string;
  stateClass?: 'total_increasing' | 'measurement';
  /** The unit when the meter sends none (DSMR fixes it per register). */
  unit?: string;
}

const CLASSES: Record<Quantity, QuantityClass> = {
  energy: { deviceClass: 'energy', stateClass: 'total_increasing', unit: 'kWh' },
  gas: { deviceClass: 'gas', stateClass: 'total_increasing', unit: 'm³' },
  water: { deviceClass: 'water', stateClass: 'total_increasing', unit: 'm³' },
  heat: { deviceClass: 'energy', stateClass: 'total_increasing', unit: 'GJ' },
  volume: { stateClass: 'total_increasing' },
  power: { deviceClass: 'power', stateClass: 'measurement', unit: 'kW' },
  voltage: { deviceClass: 'voltage', stateClass: 'measurement', unit: 'V' },
  current: { deviceClass: 'current', stateClass: 'measurement', unit: 'A' },
  count: { stateClass: 'measurement' },
  tariff: {},
  version: {},
  timestamp: { deviceClass: 'timestamp' },
};

// Home Assistant checks units against the device class by exact spelling; meters write "m3", some "kwh".
const UNITS: Record<string, string> = { kwh: 'kWh', wh: 'Wh', mwh: 'MWh', kw: 'kW', w: 'W', v: 'V', a: 'A', m3: 'm³', gj: 'GJ', mj: 'MJ', l: 'L' };

/** Every discovery config for the sensors this reading has, keyed by topic. */
export function discoveryConfigs(prefix: string, reading: Reading): Publish[] {
  const meterNode = nodeId(reading.meter.id ?? reading.meter.header ?? 'meter');
  const meterDevice = {
    identifiers: [meterNode],
    name: `Smart meter ${reading.meter.id ?? reading.meter.header ?? ''}`.trim(),
    ...(reading.meter.manufacturer ? { manufacturer: reading.meter.manufacturer } : {}),
    ...(reading.meter.header ? { model: reading.meter.header } : {}),
  };
  const devices = new Map<Field['device'], { node: string; device: Record<string, unknown> }>([['meter', { node: meterNode, device: meterDevice }]]);
  for (const m of reading.mbus) devices.set(m.channel, mbusDevice(m, meterNode));
  const t = topics(prefix);
  return reading.fields.map((field) => {
    const { node, device } = devices.get(field.device)!;
    const cls = CLASSES[field.quantity];
    const unit = field.quantity === 'timestamp' ? undefined : field.unit ? (UNITS[field.unit.toLowerCase()] ?? field.unit) : cls.unit;
    const config = {
      name: field.title,
      unique_id: `${node}_${field.name}`,
      state_topic: t.field(field.group, field.name),
      ...(cls.deviceClass ? { device_class: cls.deviceClass } : {}),
      ...(cls.stateClass ? { state_class: cls.stateClass } : {}),
      ...(unit ? { unit_of_measurement: unit } : {}),
      availability_topic: t.availability,
      payload_available: 'online',
      payload_not_available: 'offline',
      device,
    };
    return { topic: `${DISCOVERY_PREFIX}/sensor/${node}/${field.name}/config`, payload: JSON.stringify(config), retain: true };
  });
}

function mbusDevice(m: MbusDevice, meterNode: string): { node: string; device: Record<string, unknown> } {
  // An M-Bus meter without an identifier is still a device of its own, known by its channel on this meter.
  const node = m.id ? nodeId(m.id) : `${meterNode}_mbus${m.channel}`;
  const kind = { gas: 'Gas meter', water: 'Water meter', heat: 'Heat meter', other: 'M-Bus meter' }[m.medium];
  return { node, device: { identifiers: [node], name: `${kind} ${m.id ?? `(M-Bus ${m.channel})`}`, via_device: meterNode } };
}

/** Discovery allows [A-Za-z0-9_-] in node and object ids. */
export function nodeId(id: string): string {
  return `dsmr_${id.replace(/[^A-Za-z0-9_-]/g, '_')}`;
}
