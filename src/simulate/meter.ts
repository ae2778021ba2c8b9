// A simulated DSMR 5.0 meter (modelled on an Iskra AM550 with a gas meter on M-Bus channel 1): every call to next()
// returns the telegram the meter sends `intervalSeconds` after the previous one, with a valid CRC, energy registers
// that rise by exactly the reported power times the elapsed time, and the gas reading refreshed every 5 minutes.
// Pure: no clock, no I/O; the same seed and start give the same telegrams.
import { crc16 } from '../transforms/crc16.ts';
import { dsmrTimestamp, amsterdamTime } from './dutch-time.ts';
import { GAS_SLOT_MS, gasLitresInSlot } from './gas.ts';
import { Household, type PhaseWatts } from './household.ts';
import { between, mixSeed, mulberry32, type Random } from './prng.ts';

export interface SimulatedMeterOptions {
  /** Any integer; the default is random (see `seed` to reproduce a run). */
  seed?: number;
  /** Time of the first telegram; default now, whole seconds. */
  start?: Date;
  /** Seconds between telegrams; DSMR 5 meters send one per second. */
  intervalSeconds?: number;
  /** Peak power of the solar panels in kW (0 = none); default 3. */
  solarPeakKw?: number;
}

export const METER_HEADER = '/ISK5\\2M550T-1012';

// Energy is kept in watt-milliseconds, whole numbers, so that the registers add up exactly.
const WMS_PER_WH = 3_600_000;
const TARIFF_LOW = 0; // register x.8.1, tariff indicator 0001: nights and weekends
const TARIFF_NORMAL = 1; // register x.8.2, tariff indicator 0002

function pad(n: number, width: number): string {
  return String(n).padStart(width, '0');
}

/** Watt-milliseconds as a DSMR energy value `123456.789` (kWh, whole Wh shown). */
function kwh(wattMs: number): string {
  const wh = Math.floor(wattMs / WMS_PER_WH);
  return `${pad(Math.floor(wh / 1000) % 1_000_000, 6)}.${pad(wh % 1000, 3)}`;
}

/** Whole watts as a DSMR power value `12.345` (kW). */
function kw(watts: number): string {
  const w = Math.min(99_999, Math.max(0, watts));
  return `${pad(Math.floor(w / 1000), 2)}.${pad(w % 1000, 3)}`;
}

function m3(litres: number): string {
  return `${pad(Math.floor(litres / 1000) % 100_000, 5)}.${pad(litres % 1000, 3)}`;
}

function asciiHex(text: string): string {
  return Buffer.from(text, 'ascii').toString('hex').toUpperCase();
}

function digits(random: Random, count: number): string {
  let out = '';
  for (let i = 0; i < count; i++) out += Math.floor(random() * 10);
  return out;
}

function isLowTariff(utcMs: number): boolean {
  const t = amsterdamTime(utcMs);
  return t.weekday === 0 || t.weekday === 6 || t.hour < 7 || t.hour >= 23;
}

export class SimulatedMeter {
  readonly seed: number;
  readonly intervalMs: number;
  private readonly household: Household;
  private readonly random: Random;
  private readonly equipmentId: string;
  private readonly gasEquipmentId: string;
  private readonly shortPowerFailures: number;
  private readonly powerFailureLog: string;
  private readonly voltageSags: number[];
  private readonly voltageSwells: number[];
  private readonly imported = [0, 0]; // per tariff, W·ms
  private readonly exported = [0, 0];
  private readonly voltages: number[];
  private gasLitres: number;
  private gasReadAtMs: number;
  private nextTimeMs: number;
  private previousTimeMs: number | undefined;

  constructor(opts: SimulatedMeterOptions = {}) {
    this.seed = (opts.seed ?? Math.floor(Math.random() * 2 ** 32)) >>> 0;
    const intervalSeconds = opts.intervalSeconds ?? 1;
    if (!Number.isFinite(intervalSeconds) || intervalSeconds <= 0) throw new RangeError(`intervalSeconds must be a positive number, got ${intervalSeconds}`);
    this.intervalMs = Math.round(intervalSeconds * 1000);
    const solarPeakKw = opts.solarPeakKw ?? 3;
    if (!Number.isFinite(solarPeakKw) || solarPeakKw < 0) throw new RangeError(`solarPeakKw must be 0 or more, got ${solarPeakKw}`);
    this.nextTimeMs = opts.start ? opts.start.getTime() : Math.floor(Date.now() / 1000) * 1000;
    if (!Number.isFinite(this.nextTimeMs)) throw new RangeError('start is not a valid date');

    this.household = new Household(this.seed, solarPeakKw * 1000);
    const identity = mulberry32(mixSeed(this.seed, 0x1d));
    this.random = mulberry32(mixSeed(this.seed, 0x7e1));
    this.equipmentId = asciiHex(`E00${digits(identity, 14)}`);
    this.gasEquipmentId = asciiHex(`G00${digits(identity, 14)}`);
    this.imported[TARIFF_LOW] = Math.round(between(identity, 2_500, 6_000) * 1000) * WMS_PER_WH;
    this.imported[TARIFF_NORMAL] = Math.round(between(identity, 2_500, 6_000) * 1000) * WMS_PER_WH;
    if (solarPeakKw > 0) {
      this.exported[TARIFF_LOW] = Math.round(between(identity, 300, 1_200) * 1000) * WMS_PER_WH;
      this.exported[TARIFF_NORMAL] = Math.round(between(identity, 800, 3_000) * 1000) * WMS_PER_WH;
    }
    this.gasLitres = Math.round(between(identity, 1_000, 6_000) * 1000);
    this.gasReadAtMs = Math.floor(this.nextTimeMs / GAS_SLOT_MS) * GAS_SLOT_MS;
    this.shortPowerFailures = 2 + Math.floor(identity() * 10);
    const failedAt = Math.floor(this.nextTimeMs / 1000 - between(identity, 30, 300) * 86_400) * 1000;
    this.powerFailureLog = `(1)(0-0:96.7.19)(${dsmrTimestamp(failedAt)})(${pad(60 + Math.floor(identity() * 3000), 10)}*s)`;
    this.voltageSags = [0, 1, 2].map(() => Math.floor(identity() * 4));
    this.voltageSwells = [0, 1, 2].map(() => Math.floor(identity() * 2));
    this.voltages = [0, 1, 2].map(() => between(identity, 230, 238));
  }

  /** The next telegram, CRLF line ends, ending in `!XXXX\r\n`. */
  next(): Buffer {
    const now = this.nextTimeMs;
    const dtMs = this.previousTimeMs === undefined ? 0 : now - this.previousTimeMs;
    this.previousTimeMs = now;
    this.nextTimeMs = now + this.intervalMs;

    const phases = this.household.step(now, dtMs);
    const net = phases[0] + phases[1] + phases[2];
    // The power shown is the average over the interval that ends now, so the registers rise by power x interval.
    const tariff = isLowTariff(now) ? TARIFF_LOW : TARIFF_NORMAL;
    if (net > 0) this.imported[tariff] += net * dtMs;
    else this.exported[tariff] += -net * dtMs;

    while (this.gasReadAtMs + GAS_SLOT_MS <= now) {
      this.gasLitres += gasLitresInSlot(this.seed, this.gasReadAtMs);
      this.gasReadAtMs += GAS_SLOT_MS;
    }

    this.driftVoltages(dtMs / 1000);
    return this.format(now, tariff, net, phases);
  }

  /** The grid voltage wanders slowly around 234 V, independent of this house. */
  private driftVoltages(dtSeconds: number): void {
    for (let p = 0; p < 3; p++) {
      const drift = (234 - this.voltages[p]) * Math.min(1, 0.01 * dtSeconds);
      const noise = (this.random() * 2 - 1) * 0.15 * Math.sqrt(Math.max(dtSeconds, 1));
      this.voltages[p] = Math.min(245, Math.max(222, this.voltages[p] + drift + noise));
    }
  }

  private format(now: number, tariff: number, net: number, phases: PhaseWatts): Buffer {
    // Local load pulls the voltage down a little, returned solar power pushes it up.
    const volts = phases.map((w, p) => Math.min(253, Math.max(207, this.voltages[p] - w / 1000)));
    const amps = phases.map((w, p) => Math.round(Math.abs(w) / (volts[p] * 0.9)));
    const lines = [
      METER_HEADER,
      '',
      '1-3:0.2.8(50)',
      `0-0:1.0.0(${dsmrTimestamp(now)})`,
      `0-0:96.1.1(${this.equipmentId})`,
      `1-0:1.8.1(${kwh(this.imported[TARIFF_LOW])}*kWh)`,
      `1-0:1.8.2(${kwh(this.imported[TARIFF_NORMAL])}*kWh)`,
      `1-0:2.8.1(${kwh(this.exported[TARIFF_LOW])}*kWh)`,
      `1-0:2.8.2(${kwh(this.exported[TARIFF_NORMAL])}*kWh)`,
      `0-0:96.14.0(${tariff === TARIFF_LOW ? '0001' : '0002'})`,
      `1-0:1.7.0(${kw(Math.max(0, net))}*kW)`,
      `1-0:2.7.0(${kw(Math.max(0, -net))}*kW)`,
      `0-0:96.7.21(${pad(this.shortPowerFailures, 5)})`,
      '0-0:96.7.9(00001)',
      `1-0:99.97.0${this.powerFailureLog}`,
      `1-0:32.32.0(${pad(this.voltageSags[0], 5)})`,
      `1-0:52.32.0(${pad(this.voltageSags[1], 5)})`,
      `1-0:72.32.0(${pad(this.voltageSags[2], 5)})`,
      `1-0:32.36.0(${pad(this.voltageSwells[0], 5)})`,
      `1-0:52.36.0(${pad(this.voltageSwells[1], 5)})`,
      `1-0:72.36.0(${pad(this.voltageSwells[2], 5)})`,
      '0-0:96.13.0()',
      `1-0:32.7.0(${volts[0].toFixed(1)}*V)`,
      `1-0:52.7.0(${volts[1].toFixed(1)}*V)`,
      `1-0:72.7.0(${volts[2].toFixed(1)}*V)`,
      `1-0:31.7.0(${pad(amps[0], 3)}*A)`,
      `1-0:51.7.0(${pad(amps[1], 3)}*A)`,
      `1-0:71.7.0(${pad(amps[2], 3)}*A)`,
      `1-0:21.7.0(${kw(Math.max(0, phases[0]))}*kW)`,
      `1-0:41.7.0(${kw(Math.max(0, phases[1]))}*kW)`,
      `1-0:61.7.0(${kw(Math.max(0, phases[2]))}*kW)`,
      `1-0:22.7.0(${kw(Math.max(0, -phases[0]))}*kW)`,
      `1-0:42.7.0(${kw(Math.max(0, -phases[1]))}*kW)`,
      `1-0:62.7.0(${kw(Math.max(0, -phases[2]))}*kW)`,
      '0-1:24.1.0(003)',
      `0-1:96.1.0(${this.gasEquipmentId})`,
      `0-1:24.2.1(${dsmrTimestamp(this.gasReadAtMs)})(${m3(this.gasLitres)}*m3)`,
      '!',
    ];
    const body = Buffer.from(lines.join('\r\n'), 'ascii');
    const crc = crc16(body).toString(16).toUpperCase().padStart(4, '0');
    return Buffer.concat([body, Buffer.from(`${crc}\r\n`, 'ascii')]);
  }
}
