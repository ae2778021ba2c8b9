// A DataloggerStatus to render and a log to read back: shared by the status-*.test.ts files.
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

export function memoryLog(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const at = (level: string) => (m: string) => void lines.push(`${level} ${m}`);
  return { lines, error: at('ERROR'), warn: at('WARN'), info: at('INFO'), debug: at('DEBUG'), enabled: () => true };
}
