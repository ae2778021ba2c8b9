import type { Clock, Timer } from '../../src/core/clock.ts';

interface Pending extends Timer {
  due: number;
  seq: number;
  fn: () => void;
}

/** Lets every promise chain that can move on do so (setImmediate runs after the microtasks and I/O callbacks queued). */
export async function settle(rounds = 5): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}

/** Time that moves only when a test says so: timers fire in due order, and async work settles after each. */
export class FakeClock implements Clock {
  private current: number;
  private timers: Pending[] = [];
  private seq = 0;

  constructor(start = Date.parse('2026-12-01T10:00:00Z')) {
    this.current = start;
  }

  now(): number {
    return this.current;
  }

  setTimeout(fn: () => void, ms: number): Timer {
    const timer: Pending = { due: this.current + Math.max(0, ms), seq: this.seq++, fn, unref: () => timer };
    this.timers.push(timer);
    return timer;
  }

  clearTimeout(timer: Timer | undefined): void {
    this.timers = this.timers.filter((t) => t !== timer);
  }

  get pendingTimers(): number {
    return this.timers.length;
  }

  /** Moves time forward by ms, firing each timer that falls due on the way, at its own moment. */
  async advance(ms: number): Promise<void> {
    const end = this.current + ms;
    await settle();
    for (;;) {
      const next = this.timers.filter((t) => t.due <= end).sort((a, b) => a.due - b.due || a.seq - b.seq)[0];
      if (!next) break;
      this.timers = this.timers.filter((t) => t !== next);
      this.current = next.due;
      next.fn();
      await settle();
    }
    this.current = end;
    await settle();
  }
}
