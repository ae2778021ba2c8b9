// A DataloggerStatus to render, and a clock the tests move by hand: shared by the status-*.test.ts files.
import type { Clock, Timer } from '../../src/core/clock.ts';
import type { DataloggerStatus, OutputStatus } from '../../src/core/status.ts';
import type { Logger } from '../../src/log/logger.ts';
import { VALID_DSMR5 } from '../helpers/streams.ts';

export const T0 = Date.parse('2025-03-01T12:00:00Z');

export function output(over: Partial<OutputStatus> = {}): OutputStatus {
  return {
    name: 'http://dsmr.local',
    kind: 'dsmr-reader',
    target: 'http://dsmr.local',
    state: 'up',
    since: T0,
    lastAnswer: 'delivered',
    lastAnswerAt: T0 + 9_000,
    lastDeliveredAt: T0 + 9_000,
    queuedInMemory: 0,
    spooledTelegrams: 0,
    spooledBytes: 0,
    delivered: 10,
    rejected: 0,
    skippedByInterval: 0,
    droppedSpoolFull: 0,
    spoolWriteErrors: 0,
    ...over,
  };
}

export function status(over: Partial<DataloggerStatus> = {}, now = T0 + 10_000): DataloggerStatus {
  return {
    version: '9.9.9',
    startedAt: T0,
    now,
    input: {
      kind: 'serial',
      target: '/dev/ttyUSB0',
      line: '115200 8N1',
      state: 'open',
      since: T0,
      lastTelegramAt: T0 + 9_000,
      read: 12,
      accepted: 10,
      crcFailures: 2,
      notTelegrams: 0,
      oversized: 1,
      cutOff: 3,
      decryptionFailures: 0,
      stalls: 0,
    },
    outputs: [output()],
    latest: { at: T0 + 9_000, telegram: VALID_DSMR5 },
    ...over,
  };
}

export class FakeClock implements Clock {
  private timers: { at: number; fn: () => void; id: object }[] = [];
  constructor(public time = T0) {}
  now(): number {
    return this.time;
  }
  setTimeout(fn: () => void, ms: number): Timer {
    const id = { unref: () => id };
    this.timers.push({ at: this.time + ms, fn, id });
    return id;
  }
  clearTimeout(timer: Timer | undefined): void {
    this.timers = this.timers.filter((t) => t.id !== timer);
  }
  advance(ms: number): void {
    const end = this.time + ms;
    for (;;) {
      const next = this.timers.filter((t) => t.at <= end).sort((a, b) => a.at - b.at)[0];
      if (!next) break;
      this.timers = this.timers.filter((t) => t !== next);
      this.time = next.at;
      next.fn();
    }
    this.time = end;
  }
}

export function memoryLog(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const at = (level: string) => (m: string) => void lines.push(`${level} ${m}`);
  return { lines, error: at('ERROR'), warn: at('WARN'), info: at('INFO'), debug: at('DEBUG'), enabled: () => true };
}
