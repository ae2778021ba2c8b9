// The electrical load of a plausible Dutch household: an always-on base load, a fridge cycling, activity that follows
// the time of day, appliances that switch on now and then (kettle, oven, washing machine ...) and, optionally, solar
// panels returning power by daytime. Power is whole watts per phase, positive = taken from the grid.
import { amsterdamTime } from './dutch-time.ts';
import { between, mixSeed, mulberry32, type Random } from './prng.ts';

export type PhaseWatts = [number, number, number];

interface Appliance {
  name: string;
  watts: number;
  phase: 0 | 1 | 2;
  minMinutes: number;
  maxMinutes: number;
  /** Expected starts per hour when everyone is home and busy (activity 1). */
  startsPerHour: number;
  /** Local hours in which it is used at all. */
  hours: [number, number][];
}

const APPLIANCES: Appliance[] = [
  { name: 'kettle', watts: 2000, phase: 0, minMinutes: 2, maxMinutes: 4, startsPerHour: 1.2, hours: [[6, 23.5]] },
  { name: 'microwave', watts: 1150, phase: 1, minMinutes: 1, maxMinutes: 5, startsPerHour: 0.6, hours: [[7, 23]] },
  { name: 'oven', watts: 2300, phase: 2, minMinutes: 25, maxMinutes: 50, startsPerHour: 0.3, hours: [[11.5, 13.5], [16.5, 19.5]] },
  { name: 'washing machine', watts: 2000, phase: 2, minMinutes: 12, maxMinutes: 20, startsPerHour: 0.12, hours: [[8, 21]] },
  { name: 'dishwasher', watts: 1850, phase: 1, minMinutes: 15, maxMinutes: 25, startsPerHour: 0.2, hours: [[19, 23]] },
  { name: 'vacuum cleaner', watts: 750, phase: 0, minMinutes: 8, maxMinutes: 20, startsPerHour: 0.08, hours: [[9, 18]] },
];

// How busy the house is (0..1) by local hour, interpolated linearly between the points.
const WEEKDAY_ACTIVITY: [number, number][] = [
  [0, 0.05], [6, 0.05], [7, 0.6], [9, 0.2], [12, 0.35], [13, 0.2], [17, 0.8], [20, 0.6], [22.5, 0.25], [24, 0.05],
];
const WEEKEND_ACTIVITY: [number, number][] = [
  [0, 0.08], [8, 0.1], [9, 0.6], [12, 0.5], [13, 0.45], [17, 0.8], [20, 0.65], [23, 0.3], [24, 0.08],
];

// One single-phase inverter may feed at most 16 A (3.68 kW) in the Netherlands; larger systems use all three phases.
const SINGLE_PHASE_INVERTER_MAX_W = 3680;
const NOON_UTC_HOURS = 11.65; // solar noon at about 5 degrees east
const DAY_MS = 86_400_000;

function interpolate(points: [number, number][], x: number): number {
  for (let i = 1; i < points.length; i++) {
    const [x1, y1] = points[i];
    if (x <= x1) {
      const [x0, y0] = points[i - 1];
      return y0 + ((y1 - y0) * (x - x0)) / (x1 - x0);
    }
  }
  return points[points.length - 1][1];
}

function dayOfYear(utcMs: number): number {
  const d = new Date(utcMs);
  return (utcMs - Date.UTC(d.getUTCFullYear(), 0, 1)) / DAY_MS;
}

/** A bounded random walk whose steps grow with the square root of time, so its character does not depend on the interval. */
function walk(random: Random, value: number, sigmaPerSqrtSecond: number, dtSeconds: number, low: number, high: number): number {
  const next = value + (random() * 2 - 1) * sigmaPerSqrtSecond * Math.sqrt(dtSeconds);
  return Math.min(high, Math.max(low, next));
}

export class Household {
  private readonly random: Random;
  private readonly baseWatts: number;
  private readonly fridgeOffsetMs: number;
  private readonly running = new Map<string, { until: number; watts: number; phase: number }>();
  private activityNoise = 0;
  private cloudWalk = 0.7;

  constructor(
    private readonly seed: number,
    private readonly solarPeakWatts: number,
  ) {
    this.random = mulberry32(mixSeed(seed, 0x10ad));
    this.baseWatts = Math.round(between(this.random, 90, 180));
    this.fridgeOffsetMs = Math.floor(this.random() * 40 * 60_000);
  }

  /** Net power per phase at `utcMs`, `dtMs` after the previous step (0 for the first). */
  step(utcMs: number, dtMs: number): PhaseWatts {
    const dtSeconds = dtMs / 1000;
    const local = amsterdamTime(utcMs);
    const hour = local.hour + local.minute / 60 + local.second / 3600;
    const weekend = local.weekday === 0 || local.weekday === 6;
    const activity = interpolate(weekend ? WEEKEND_ACTIVITY : WEEKDAY_ACTIVITY, hour);

    const load: PhaseWatts = [this.baseWatts * 0.45, this.baseWatts * 0.3, this.baseWatts * 0.25];

    // The fridge compressor runs 12 minutes out of every 40.
    if ((utcMs + this.fridgeOffsetMs) % (40 * 60_000) < 12 * 60_000) load[1] += 85;

    this.activityNoise = walk(this.random, this.activityNoise, 0.02, dtSeconds, -0.3, 0.3);
    const activityWatts = 420 * activity * (1 + this.activityNoise);
    load[0] += activityWatts * 0.5;
    load[1] += activityWatts * 0.3;
    load[2] += activityWatts * 0.2;

    for (const appliance of APPLIANCES) {
      const on = this.running.get(appliance.name);
      if (on && on.until <= utcMs) this.running.delete(appliance.name);
      if (this.running.has(appliance.name) || dtMs === 0) continue;
      if (!appliance.hours.some(([from, to]) => hour >= from && hour < to)) continue;
      const startChance = 1 - Math.exp(-appliance.startsPerHour * activity * (dtSeconds / 3600));
      if (this.random() < startChance) {
        const minutes = between(this.random, appliance.minMinutes, appliance.maxMinutes);
        const watts = appliance.watts * between(this.random, 0.95, 1.05);
        this.running.set(appliance.name, { until: utcMs + minutes * 60_000, watts, phase: appliance.phase });
      }
    }
    for (const on of this.running.values()) load[on.phase] += on.watts;
    // Small appliances, chargers and lights flicker: no two readings are quite the same.
    for (let p = 0; p < 3; p++) load[p] += (this.random() * 2 - 1) * 4;

    const solar = this.solarWatts(utcMs, dtSeconds);
    if (this.solarPeakWatts <= SINGLE_PHASE_INVERTER_MAX_W) load[0] -= solar;
    else for (let p = 0; p < 3; p++) load[p] -= solar / 3;

    return [Math.round(load[0]), Math.round(load[1]), Math.round(load[2])];
  }

  private solarWatts(utcMs: number, dtSeconds: number): number {
    if (this.solarPeakWatts <= 0) return 0;
    const season = Math.sin((2 * Math.PI * (dayOfYear(utcMs) - 80)) / 365.25); // -1 midwinter .. 1 midsummer
    const dayLengthHours = 12.2 + 4.5 * season;
    const sunrise = NOON_UTC_HOURS - dayLengthHours / 2;
    const hourUtc = (utcMs % DAY_MS) / 3_600_000;
    const x = (hourUtc - sunrise) / dayLengthHours;
    this.cloudWalk = walk(this.random, this.cloudWalk, 0.01, dtSeconds, 0, 1);
    if (x <= 0 || x >= 1) return 0;
    // Each day has its own weather: some are clear, some overcast.
    const clearness = between(mulberry32(mixSeed(this.seed, Math.floor(utcMs / DAY_MS))), 0.25, 1);
    const clouds = clearness * (0.7 + 0.3 * this.cloudWalk);
    const sunHeight = Math.sin(Math.PI * x) ** 1.6;
    const seasonal = 0.6 + 0.4 * season;
    return this.solarPeakWatts * 0.85 * seasonal * sunHeight * clouds;
  }
}
