// The few values a person looks for in the latest telegram: power now and the meter's totals.
import { decodeTelegram, type DecodedTelegram } from '../decode/decode.ts';

export interface EnergyRegister {
  /** Sum of the tariff registers, or the meter's own total (1-0:1.8.0 / 2.8.0) when it sends one. */
  totalKwh: number | null;
  /** Per tariff number ("1", "2", ...), in kWh. */
  tariffs: Record<string, number>;
}

export interface Reading {
  /** The meter's own clock (0-0:1.0.0), ISO 8601 with its offset. */
  meterTime: string | null;
  powerDeliveredW: number | null;
  powerReturnedW: number | null;
  delivered: EnergyRegister;
  returned: EnergyRegister;
  gasM3: number | null;
  gasTime: string | null;
}

export function readingOf(telegram: Uint8Array): Reading {
  return summarise(decodeTelegram(telegram));
}

function summarise(t: DecodedTelegram): Reading {
  const gas = t.mbus.flatMap((channel) => channel.readings).find((r) => r.value !== null && r.unit?.toLowerCase() === 'm3');
  return {
    meterTime: t.timestamp?.iso ?? null,
    powerDeliveredW: watts(t, '1-0:1.7.0'),
    powerReturnedW: watts(t, '1-0:2.7.0'),
    delivered: register(t, 1),
    returned: register(t, 2),
    gasM3: gas?.value ?? null,
    gasTime: gas?.timestamp?.iso ?? null,
  };
}

function firstNumber(t: DecodedTelegram, obis: string): { value: number; unit: string | null } | undefined {
  for (const object of t.objects) {
    if (object.obis !== obis) continue;
    const value = object.values.find((v) => v.type === 'number');
    if (value?.type === 'number') return value;
  }
  return undefined;
}

function watts(t: DecodedTelegram, obis: string): number | null {
  const n = firstNumber(t, obis);
  if (!n) return null;
  return n.unit?.toLowerCase() === 'w' ? n.value : Math.round(n.value * 1000 * 1000) / 1000;
}

function kwh(value: { value: number; unit: string | null }): number {
  return value.unit?.toLowerCase() === 'wh' ? value.value / 1000 : value.value;
}

/** direction 1: delivered to the client (+A, 1-0:1.8.x); 2: returned by it (-A, 1-0:2.8.x). */
function register(t: DecodedTelegram, direction: 1 | 2): EnergyRegister {
  const tariffs: Record<string, number> = {};
  for (let tariff = 1; tariff <= 9; tariff++) {
    const n = firstNumber(t, `1-0:${direction}.8.${tariff}`);
    if (n) tariffs[String(tariff)] = kwh(n);
  }
  const total = firstNumber(t, `1-0:${direction}.8.0`);
  const values = Object.values(tariffs);
  const sum = values.length > 0 ? Math.round(values.reduce((a, b) => a + b, 0) * 1000) / 1000 : null;
  return { totalKwh: total ? kwh(total) : sum, tariffs };
}

/** Net power: positive is taken from the grid, negative fed into it; undefined when the meter sends neither. */
export function netPowerW(reading: Reading): number | undefined {
  if (reading.powerDeliveredW === null && reading.powerReturnedW === null) return undefined;
  return (reading.powerDeliveredW ?? 0) - (reading.powerReturnedW ?? 0);
}

/** Decodes the latest telegram once, however often it is asked for. */
export class LatestReading {
  private telegram: Uint8Array | undefined;
  private reading: Reading | undefined;

  of(telegram: Uint8Array | undefined): Reading | undefined {
    if (!telegram) return undefined;
    if (telegram !== this.telegram) {
      this.telegram = telegram;
      this.reading = readingOf(telegram);
    }
    return this.reading;
  }
}
