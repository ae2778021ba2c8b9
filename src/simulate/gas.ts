// Gas use of a household with central heating, per 5-minute slot: DSMR 5 meters read the M-Bus gas meter every
// 5 minutes. Each slot's use depends only on the seed and the slot, so the gas register is the same whatever the
// telegram interval.
import { amsterdamTime } from './dutch-time.ts';
import { between, mixSeed, mulberry32 } from './prng.ts';

export const GAS_SLOT_MS = 5 * 60_000;
const DAY_MS = 86_400_000;

/** Litres of gas used in the slot starting at `slotStartMs` (a multiple of GAS_SLOT_MS). */
export function gasLitresInSlot(seed: number, slotStartMs: number): number {
  const random = mulberry32(mixSeed(seed ^ 0x6a5, slotStartMs / GAS_SLOT_MS));
  const local = amsterdamTime(slotStartMs);
  const hour = local.hour + local.minute / 60;
  const year = new Date(slotStartMs).getUTCFullYear();
  const day = (slotStartMs - Date.UTC(year, 0, 1)) / DAY_MS;
  // 1 in mid-January, 0 from May to September: no heating in summer.
  const heatingSeason = Math.min(1, Math.max(0, (Math.cos((2 * Math.PI * (day - 15)) / 365.25) + 0.3) / 1.3));

  const thermostatDay = hour >= 6.5 && hour < 22.5;
  const warmUp = hour >= 6.5 && hour < 8 ? 1.8 : 1;
  const cubicMetresPerHour = heatingSeason * (thermostatDay ? 0.45 * warmUp : 0.1) * between(random, 0.6, 1.4);

  let cubicMetres = (cubicMetresPerHour * GAS_SLOT_MS) / 3_600_000;
  const showerTime = (hour >= 6.5 && hour < 8.5) || (hour >= 19 && hour < 22);
  if (showerTime && random() < 0.12) cubicMetres += between(random, 0.06, 0.12);
  if (hour >= 17.5 && hour < 19 && random() < 0.3) cubicMetres += between(random, 0.01, 0.02);
  return Math.round(cubicMetres * 1000);
}
