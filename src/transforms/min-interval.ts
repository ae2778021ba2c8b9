// DSMR 5 meters send every second; many users want one reading per 5 or 10 s in DSMR-reader.
// A telegram that arrives a little early still passes: meters do not keep exact time between telegrams, and a
// strict bound would turn "every 5 s" into "every 6 s".
const EARLY_TOLERANCE_MS = 250;

export class MinimumInterval {
  private last: number | undefined;

  constructor(private readonly intervalMs: number) {}

  admit(now: number): boolean {
    if (this.intervalMs > 0 && this.last !== undefined && now - this.last < this.intervalMs - EARLY_TOLERANCE_MS) return false;
    this.last = now;
    return true;
  }
}
