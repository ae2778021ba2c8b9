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

/** Time that moves only when a test says so: timers fire in due order, each at its own moment. */
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

  /** Moves time forward by ms, firing each timer that falls due on the way, and lets the async work they start settle. */
  async advance(ms: number): Promise<void> {
    const end = this.current + ms;
    await settle();
    for (let timer = this.nextDue(end); timer; timer = this.nextDue(end)) {
      this.fire(timer);
      await settle();
    }
    this.current = end;
    await settle();
  }

  /** The same for code that does no async work: everything due has run when it returns. */
  advanceSync(ms: number): void {
    const end = this.current + ms;
    for (let timer = this.nextDue(end); timer; timer = this.nextDue(end)) this.fire(timer);
    this.current = end;
  }

  /** A killed process's timers never fire. */
  forget(): void {
    this.timers = [];
  }

  private nextDue(end: number): Pending | undefined {
    return this.timers.filter((t) => t.due <= end).sort((a, b) => a.due - b.due || a.seq - b.seq)[0];
  }

  private fire(timer: Pending): void {
    this.timers = this.timers.filter((t) => t !== timer);
    this.current = timer.due;
    timer.fn();
  }
}
