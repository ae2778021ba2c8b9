// Names of the OBIS codes seen in P1 telegrams: Dutch DSMR 2.2 to 5, Belgian e-MUCS, Luxembourg Smarty, and the
// nearby variants in the corpus (Austrian, Hungarian, Swedish, EasyMeter). Units are not listed here: every meter sends
// its unit with the value ("kWh", "Wh", "kVArh"...), and the decoder reports what was sent rather than what was expected.

/**
 * How the text between the parentheses is to be read.
 * - auto: each value is recognised by its shape (timestamp, OBIS reference, number with optional unit, else text).
 * - text: an identifier or version that only looks numeric ("0002", "42", "09610"); never turned into a number.
 * - hex: text the meter sends hex-encoded (identifiers, messages); decoded when it decodes to readable text.
 */
export type ValueKind = 'auto' | 'text' | 'hex';

export interface ObisInfo {
  name: string;
  kind: ValueKind;
}

// Keys use "n" for the M-Bus channel (B group 1..4) of "0-n:" codes; "{n}" in a name is replaced by the channel.
const TABLE: Record<string, ObisInfo> = {
  // Identification and version
  '1-3:0.2.8': { name: 'Version information for P1 output', kind: 'text' },
  '0-0:96.1.4': { name: 'Version information (Belgian e-MUCS)', kind: 'text' },
  '0-0:1.0.0': { name: 'Date-time stamp of the P1 message', kind: 'auto' },
  '0-0:96.1.1': { name: 'Equipment identifier', kind: 'hex' },
  '0-0:96.1.0': { name: 'Equipment identifier (meter serial number)', kind: 'hex' },
  '0-0:96.1.2': { name: 'EAN code of the connection', kind: 'hex' },
  '0-0:42.0.0': { name: 'COSEM logical device name (equipment identifier)', kind: 'hex' },
  '0-0:0.0.0': { name: 'Device address', kind: 'text' },
  '1-0:0.0.0': { name: 'Device address (meter serial number)', kind: 'text' },
  '0-0:96.1.255': { name: 'Manufacturer device identification', kind: 'text' },
  '1-0:96.5.5': { name: 'Meter status word', kind: 'text' },
  '1-0:0.2.0': { name: 'Active firmware identifier', kind: 'text' },
  '1-0:0.2.8': { name: 'Active firmware signature', kind: 'text' },
  '1-0:94.32.1': { name: 'Grid configuration (230 = 3x230 V, 400 = 3x400 V)', kind: 'auto' },

  // Energy registers
  '1-0:1.8.0': { name: 'Electricity delivered to client, total (+A)', kind: 'auto' },
  '1-0:1.8.1': { name: 'Electricity delivered to client, tariff 1 (+A)', kind: 'auto' },
  '1-0:1.8.2': { name: 'Electricity delivered to client, tariff 2 (+A)', kind: 'auto' },
  '1-0:1.8.3': { name: 'Electricity delivered to client, tariff 3 (+A)', kind: 'auto' },
  '1-0:1.8.4': { name: 'Electricity delivered to client, tariff 4 (+A)', kind: 'auto' },
  '1-0:2.8.0': { name: 'Electricity delivered by client, total (-A)', kind: 'auto' },
  '1-0:2.8.1': { name: 'Electricity delivered by client, tariff 1 (-A)', kind: 'auto' },
  '1-0:2.8.2': { name: 'Electricity delivered by client, tariff 2 (-A)', kind: 'auto' },
  '1-0:2.8.3': { name: 'Electricity delivered by client, tariff 3 (-A)', kind: 'auto' },
  '1-0:2.8.4': { name: 'Electricity delivered by client, tariff 4 (-A)', kind: 'auto' },
  '1-0:3.8.0': { name: 'Reactive energy imported, total (+R)', kind: 'auto' },
  '1-0:3.8.1': { name: 'Reactive energy imported, tariff 1 (+R)', kind: 'auto' },
  '1-0:3.8.2': { name: 'Reactive energy imported, tariff 2 (+R)', kind: 'auto' },
  '1-0:4.8.0': { name: 'Reactive energy exported, total (-R)', kind: 'auto' },
  '1-0:4.8.1': { name: 'Reactive energy exported, tariff 1 (-R)', kind: 'auto' },
  '1-0:4.8.2': { name: 'Reactive energy exported, tariff 2 (-R)', kind: 'auto' },
  '1-0:5.8.0': { name: 'Reactive energy, quadrant I', kind: 'auto' },
  '1-0:6.8.0': { name: 'Reactive energy, quadrant II', kind: 'auto' },
  '1-0:7.8.0': { name: 'Reactive energy, quadrant III', kind: 'auto' },
  '1-0:8.8.0': { name: 'Reactive energy, quadrant IV', kind: 'auto' },
  '1-0:15.8.0': { name: 'Active energy, absolute (|+A| + |-A|)', kind: 'auto' },
  '0-0:96.14.0': { name: 'Tariff indicator electricity', kind: 'auto' },

  // Instantaneous power, voltage, current
  '1-0:1.7.0': { name: 'Actual electricity power delivered (+P)', kind: 'auto' },
  '1-0:2.7.0': { name: 'Actual electricity power received (-P)', kind: 'auto' },
  '1-0:3.7.0': { name: 'Actual reactive power imported (+Q)', kind: 'auto' },
  '1-0:4.7.0': { name: 'Actual reactive power exported (-Q)', kind: 'auto' },
  '1-0:5.7.0': { name: 'Actual reactive power, quadrant I', kind: 'auto' },
  '1-0:6.7.0': { name: 'Actual reactive power, quadrant II', kind: 'auto' },
  '1-0:7.7.0': { name: 'Actual reactive power, quadrant III', kind: 'auto' },
  '1-0:8.7.0': { name: 'Actual reactive power, quadrant IV', kind: 'auto' },
  '1-0:9.7.0': { name: 'Actual apparent power imported (+S)', kind: 'auto' },
  '1-0:10.7.0': { name: 'Actual apparent power exported (-S)', kind: 'auto' },
  '1-0:13.7.0': { name: 'Power factor', kind: 'auto' },
  '1-0:33.7.0': { name: 'Power factor L1', kind: 'auto' },
  '1-0:53.7.0': { name: 'Power factor L2', kind: 'auto' },
  '1-0:73.7.0': { name: 'Power factor L3', kind: 'auto' },
  '1-0:14.7.0': { name: 'Supply frequency', kind: 'auto' },
  '1-0:21.7.0': { name: 'Instantaneous active power L1 (+P)', kind: 'auto' },
  '1-0:41.7.0': { name: 'Instantaneous active power L2 (+P)', kind: 'auto' },
  '1-0:61.7.0': { name: 'Instantaneous active power L3 (+P)', kind: 'auto' },
  '1-0:22.7.0': { name: 'Instantaneous active power L1 (-P)', kind: 'auto' },
  '1-0:42.7.0': { name: 'Instantaneous active power L2 (-P)', kind: 'auto' },
  '1-0:62.7.0': { name: 'Instantaneous active power L3 (-P)', kind: 'auto' },
  '1-0:23.7.0': { name: 'Instantaneous reactive power L1 (+Q)', kind: 'auto' },
  '1-0:43.7.0': { name: 'Instantaneous reactive power L2 (+Q)', kind: 'auto' },
  '1-0:63.7.0': { name: 'Instantaneous reactive power L3 (+Q)', kind: 'auto' },
  '1-0:24.7.0': { name: 'Instantaneous reactive power L1 (-Q)', kind: 'auto' },
  '1-0:44.7.0': { name: 'Instantaneous reactive power L2 (-Q)', kind: 'auto' },
  '1-0:64.7.0': { name: 'Instantaneous reactive power L3 (-Q)', kind: 'auto' },
  '1-0:32.7.0': { name: 'Instantaneous voltage L1', kind: 'auto' },
  '1-0:52.7.0': { name: 'Instantaneous voltage L2', kind: 'auto' },
  '1-0:72.7.0': { name: 'Instantaneous voltage L3', kind: 'auto' },
  '1-0:31.7.0': { name: 'Instantaneous current L1', kind: 'auto' },
  '1-0:51.7.0': { name: 'Instantaneous current L2', kind: 'auto' },
  '1-0:71.7.0': { name: 'Instantaneous current L3', kind: 'auto' },

  // Power quality and events
  '0-0:96.7.21': { name: 'Number of power failures in any phase', kind: 'auto' },
  '0-0:96.7.9': { name: 'Number of long power failures in any phase', kind: 'auto' },
  '1-0:99.97.0': { name: 'Power failure event log (long power failures)', kind: 'auto' },
  '1-0:32.32.0': { name: 'Number of voltage sags in phase L1', kind: 'auto' },
  '1-0:52.32.0': { name: 'Number of voltage sags in phase L2', kind: 'auto' },
  '1-0:72.32.0': { name: 'Number of voltage sags in phase L3', kind: 'auto' },
  '1-0:32.36.0': { name: 'Number of voltage swells in phase L1', kind: 'auto' },
  '1-0:52.36.0': { name: 'Number of voltage swells in phase L2', kind: 'auto' },
  '1-0:72.36.0': { name: 'Number of voltage swells in phase L3', kind: 'auto' },
  '1-0:99.1.0': { name: 'Load profile', kind: 'auto' },

  // Limiter and breaker
  '0-0:17.0.0': { name: 'Actual threshold electricity (limiter)', kind: 'auto' },
  '0-0:96.3.10': { name: 'Actual switch position electricity (breaker)', kind: 'auto' },
  '1-0:31.4.0': { name: 'Current threshold L1 (fuse supervision)', kind: 'auto' },
  '1-0:51.4.0': { name: 'Current threshold L2 (fuse supervision)', kind: 'auto' },
  '1-0:71.4.0': { name: 'Current threshold L3 (fuse supervision)', kind: 'auto' },
  '1-1:31.4.0': { name: 'Threshold for maximum imported and exported current (limiter)', kind: 'auto' },

  // Messages
  '0-0:96.13.1': { name: 'Text message code', kind: 'hex' },
  '0-0:96.13.0': { name: 'Text message', kind: 'hex' },
  '0-0:96.13.2': { name: 'Long text message 2', kind: 'hex' },
  '0-0:96.13.3': { name: 'Long text message 3', kind: 'hex' },
  '0-0:96.13.4': { name: 'Long text message 4', kind: 'hex' },
  '0-0:96.13.5': { name: 'Long text message 5', kind: 'hex' },

  // Belgian capacity tariff (quarter-hour peaks); 98.1.0 also carries other countries' monthly billing values
  '1-0:1.4.0': { name: 'Current average demand, active energy import (quarter hour)', kind: 'auto' },
  '1-0:1.6.0': { name: 'Maximum demand of the running month, active energy import', kind: 'auto' },
  '0-0:98.1.0': { name: 'Monthly history (Belgium: maximum demand of the last 13 months)', kind: 'auto' },

  // M-Bus devices (gas, water, heat) on channel n
  '0-n:24.1.0': { name: 'M-Bus device type (channel {n})', kind: 'auto' },
  '0-n:96.1.0': { name: 'M-Bus equipment identifier (channel {n})', kind: 'hex' },
  '0-n:96.1.1': { name: 'M-Bus equipment identifier (channel {n})', kind: 'hex' },
  '0-n:96.1.2': { name: 'M-Bus EAN code (channel {n})', kind: 'hex' },
  '0-n:24.2.1': { name: 'M-Bus last reading, temperature corrected for gas (channel {n})', kind: 'auto' },
  '0-n:24.2.3': { name: 'M-Bus last reading, not temperature corrected (channel {n})', kind: 'auto' },
  '0-n:24.3.0': { name: 'M-Bus hourly reading, DSMR 2.2/3 format (channel {n})', kind: 'auto' },
  '0-n:24.4.0': { name: 'M-Bus valve position (channel {n})', kind: 'auto' },
  '0-n:96.3.10': { name: 'Relay or breaker control state (channel {n})', kind: 'auto' },
};

/** Shared between callers (parseObis remembers what it parsed): never changed. */
export interface ObisCode {
  /** "A-B:C.D.E" as written, without a "*F" suffix. */
  readonly code: string;
  readonly a: number;
  readonly b: number;
  readonly c: number;
  readonly d: number;
  readonly e: number;
}

// The F group is normally left out; EasyMeter writes it as "*255", the DSMR 4.x spec examples as ".255".
const OBIS_PATTERN = /^(\d{1,3})-(\d{1,3}):(\d{1,3})\.(\d{1,3})\.(\d{1,3})(?:[*.](\d{1,3}))?$/;

/**
 * What parseObis found, by text: a meter sends the same few dozen codes in every telegram, and without the optimizing
 * JIT parsing them again was a third of decoding one. Bounded, for a stream of garbage codes.
 */
const PARSED = new Map<string, ObisCode | null>();
const MAX_PARSED = 512;

/** Parses "1-0:1.8.1" (or "1-0:1.8.1*255", "1-0:1.8.1.255"); null when the text is not an OBIS code. */
export function parseObis(text: string): ObisCode | null {
  const known = PARSED.get(text);
  if (known !== undefined) return known;
  if (PARSED.size >= MAX_PARSED) PARSED.clear();
  const m = OBIS_PATTERN.exec(text);
  let parsed: ObisCode | null = null;
  if (m) {
    const [a, b, c, d, e] = [m[1], m[2], m[3], m[4], m[5]].map(Number);
    parsed = { code: `${a}-${b}:${c}.${d}.${e}`, a, b, c, d, e };
  }
  PARSED.set(text, parsed);
  return parsed;
}

/** M-Bus channel of a "0-n:" object (n = 1..4), else null. */
export function mbusChannel(obis: ObisCode): number | null {
  return obis.a === 0 && obis.b >= 1 && obis.b <= 4 ? obis.b : null;
}

/** Name and value kind of a code, or null when the code is not in the table. */
export function lookupObis(obis: ObisCode): ObisInfo | null {
  const exact = TABLE[obis.code];
  if (exact) return exact;
  const channel = mbusChannel(obis);
  if (channel !== null) {
    const generic = TABLE[`0-n:${obis.c}.${obis.d}.${obis.e}`];
    if (generic) return { name: generic.name.replace('{n}', String(channel)), kind: generic.kind };
  }
  // Some meters (Sagemcom XT211) number their electricity channel 1 instead of 0; the quantity is the same.
  if (obis.a === 1 && obis.b !== 0) {
    const channel0 = TABLE[`1-0:${obis.c}.${obis.d}.${obis.e}`];
    if (channel0) return channel0;
  }
  return null;
}

// M-Bus medium codes (EN 13757-3) as DSMR sends them, in decimal: "(003)" gas, "(007)" water, "(004)" heat.
const DEVICE_TYPES: Record<number, string> = {
  0: 'other',
  1: 'oil',
  2: 'electricity',
  3: 'gas',
  4: 'heat',
  5: 'steam',
  6: 'warm water',
  7: 'water',
  8: 'heat cost allocator',
  9: 'compressed air',
  10: 'cooling (outlet)',
  11: 'cooling (inlet)',
  12: 'heat (inlet)',
  13: 'heat and cooling',
  21: 'hot water',
  22: 'cold water',
};

export function deviceTypeName(code: number): string | null {
  return DEVICE_TYPES[code] ?? null;
}
