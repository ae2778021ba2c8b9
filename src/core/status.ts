// What the datalogger can say about itself: the stats line, /status, /metrics and /health all read these snapshots.
import type { OutputKind } from '../sinks/sink.ts';

export type InputState = 'open' | 'waiting' | 'closed';

export interface InputStatus {
  kind: 'serial' | 'network' | 'file';
  /** Port path, host:port or file path. */
  target: string;
  /** Line settings in use, e.g. "115200 8N1" (serial only; "auto" while still detecting). */
  line?: string;
  /** open: reading; waiting: missing port or bridge, reconnecting; closed: stopped or ended. */
  state: InputState;
  /** Epoch ms of the last state change. */
  since: number;
  /** Epoch ms of the last telegram that passed the checks. */
  lastTelegramAt?: number;
  /** Frames read from the input (before the checks). */
  read: number;
  /** Telegrams that passed the checks and went to the outputs. */
  accepted: number;
  crcFailures: number;
  /** Frames dropped because they were not a telegram or lacked the CRC they needed. */
  notTelegrams: number;
  oversized: number;
  cutOff: number;
  decryptionFailures: number;
  /** Times the input went silent past the timeout and was reopened. */
  stalls: number;
}

export type OutputState = 'up' | 'unavailable' | 'refused';

export interface OutputStatus {
  /** Stable label of the output, e.g. "http://dsmr.local" or "mqtt://broker:1883": the `output` metric label. */
  name: string;
  kind: OutputKind;
  /** As shown to a person; secrets masked. */
  target: string;
  state: OutputState;
  since: number;
  /** The last answer, e.g. "HTTP 201", "ECONNREFUSED", "not authorized". */
  lastAnswer?: string;
  lastAnswerAt?: number;
  lastDeliveredAt?: number;
  queuedInMemory: number;
  spooledTelegrams: number;
  spooledBytes: number;
  /** Epoch ms at which the oldest telegram still waiting was read. */
  oldestWaitingAt?: number;
  delivered: number;
  rejected: number;
  skippedByInterval: number;
  droppedSpoolFull: number;
  spoolWriteErrors: number;
}

export interface DataloggerStatus {
  version: string;
  startedAt: number;
  now: number;
  input: InputStatus;
  outputs: OutputStatus[];
  /** The last telegram that passed the checks, raw, for decoding. */
  latest?: { at: number; telegram: Buffer };
}
