// GET /status: the snapshot as JSON for a person or a script. Times as ISO 8601 and ages in seconds, so that a reader
// needs neither the server's clock nor its time zone. The page and `dsmr-datalogger status` read this same document.
import type { DataloggerStatus, InputStatus, OutputStatus } from '../core/status.ts';
import type { Health } from './health.ts';
import type { Reading } from './reading.ts';
import { isoTime } from '../platform/iso-time.ts';

export interface InputDocument {
  kind: InputStatus['kind'];
  target: string;
  line: string | null;
  state: InputStatus['state'];
  since: string;
  lastTelegramAt: string | null;
  lastTelegramAgeSeconds: number | null;
  telegramsRead: number;
  telegramsAccepted: number;
  crcFailures: number;
  notTelegrams: number;
  oversizedFrames: number;
  cutOffFrames: number;
  decryptionFailures: number;
  stalls: number;
}

export interface OutputDocument {
  name: string;
  kind: OutputStatus['kind'];
  target: string;
  state: OutputStatus['state'];
  since: string;
  lastAnswer: string | null;
  lastAnswerAt: string | null;
  lastDeliveredAt: string | null;
  queuedInMemory: number;
  spooledTelegrams: number;
  spooledBytes: number;
  oldestWaitingAgeSeconds: number | null;
  delivered: number;
  rejected: number;
  skippedByInterval: number;
  droppedSpoolFull: number;
  spoolWriteErrors: number;
}

export interface LatestDocument extends Reading {
  receivedAt: string;
  ageSeconds: number;
}

export interface StatusDocument {
  version: string;
  startedAt: string;
  now: string;
  uptimeSeconds: number;
  healthy: boolean;
  problems: string[];
  input: InputDocument;
  outputs: OutputDocument[];
  latest: LatestDocument | null;
}

const isoOrNull = (ms: number | undefined) => (ms === undefined ? null : isoTime(ms));
const ageSeconds = (now: number, ms: number) => Math.max(0, Math.round((now - ms) / 100) / 10);

export function statusDocument(status: DataloggerStatus, reading: Reading | undefined, health: Health): StatusDocument {
  const { now, input } = status;
  return {
    version: status.version,
    startedAt: isoTime(status.startedAt),
    now: isoTime(now),
    uptimeSeconds: Math.floor((now - status.startedAt) / 1000),
    healthy: health.healthy,
    problems: health.problems.map((p) => p.message),
    input: {
      kind: input.kind,
      target: input.target,
      line: input.line ?? null,
      state: input.state,
      since: isoTime(input.since),
      lastTelegramAt: isoOrNull(input.lastTelegramAt),
      lastTelegramAgeSeconds: input.lastTelegramAt === undefined ? null : ageSeconds(now, input.lastTelegramAt),
      telegramsRead: input.read,
      telegramsAccepted: input.accepted,
      crcFailures: input.crcFailures,
      notTelegrams: input.notTelegrams,
      oversizedFrames: input.oversized,
      cutOffFrames: input.cutOff,
      decryptionFailures: input.decryptionFailures,
      stalls: input.stalls,
    },
    outputs: status.outputs.map((o) => ({
      name: o.name,
      kind: o.kind,
      target: o.target,
      state: o.state,
      since: isoTime(o.since),
      lastAnswer: o.lastAnswer ?? null,
      lastAnswerAt: isoOrNull(o.lastAnswerAt),
      lastDeliveredAt: isoOrNull(o.lastDeliveredAt),
      queuedInMemory: o.queuedInMemory,
      spooledTelegrams: o.spooledTelegrams,
      spooledBytes: o.spooledBytes,
      oldestWaitingAgeSeconds: o.oldestWaitingAt === undefined ? null : ageSeconds(now, o.oldestWaitingAt),
      delivered: o.delivered,
      rejected: o.rejected,
      skippedByInterval: o.skippedByInterval,
      droppedSpoolFull: o.droppedSpoolFull,
      spoolWriteErrors: o.spoolWriteErrors,
    })),
    latest: status.latest && reading ? { receivedAt: isoTime(status.latest.at), ageSeconds: ageSeconds(now, status.latest.at), ...reading } : null,
  };
}
