// TEMPORARY: the DataloggerStatus snapshot pieced together from today's Pipeline, Outboxes and Spools, until the new
// core's Datalogger.status() produces it. Only this file knows those classes; everything else in src/status/ reads
// the snapshot.
import type { Clock } from '../core/clock.ts';
import type { DataloggerStatus, InputStatus, OutputStatus } from '../core/status.ts';
import type { Config } from '../config/config.ts';
import type { Outbox } from '../buffers/outbox.ts';
import type { Spool } from '../buffers/spool.ts';
import type { Pipeline } from '../pipeline.ts';
import { describeLine } from '../sources/serial-settings.ts';
import { buildInfo } from '../cli/build-info.ts';

export interface LegacyParts {
  config: Config;
  outboxes: Outbox[];
  backlogs: Spool[];
  clock: Clock;
}

export class LegacySnapshot {
  private pipeline: Pipeline | undefined;
  private readonly startedAt: number;
  private accepted = 0;
  private latest: { at: number; telegram: Buffer } | undefined;
  private inputClosedAt: number | undefined;

  constructor(private readonly parts: LegacyParts) {
    this.startedAt = parts.clock.now();
  }

  attach(pipeline: Pipeline): void {
    this.pipeline = pipeline;
  }

  /** Pipeline's onTelegram: O(1), keeps a reference to the telegram, copies nothing. */
  telegram(telegram: Buffer): void {
    this.accepted++;
    this.latest = { at: this.parts.clock.now(), telegram };
  }

  /** The input ended (a file or stdin). */
  inputClosed(): void {
    this.inputClosedAt ??= this.parts.clock.now();
  }

  snapshot(): DataloggerStatus {
    const { config, outboxes, backlogs, clock } = this.parts;
    const skippedByInterval = this.pipeline?.stats.skippedByInterval ?? 0;
    const outputs = config.servers.map((server, i): OutputStatus => {
      const outbox = outboxes[i];
      const spool = backlogs[i];
      const d = outbox.deliveryState;
      return {
        name: server.host,
        kind: 'dsmr-reader',
        target: server.host,
        state: d.state,
        since: d.since,
        lastAnswer: d.lastAnswer,
        lastAnswerAt: d.lastAnswerAt,
        lastDeliveredAt: d.lastDeliveredAt,
        queuedInMemory: d.inMemory,
        spooledTelegrams: spool.count,
        spooledBytes: spool.bytes,
        oldestWaitingAt: d.waitingSince,
        delivered: outbox.stats.delivered,
        rejected: outbox.stats.rejected,
        skippedByInterval,
        droppedSpoolFull: spool.stats.droppedOldest,
        spoolWriteErrors: spool.stats.writeErrors,
      };
    });
    return { version: buildInfo().version, startedAt: this.startedAt, now: clock.now(), input: this.input(), outputs, latest: this.latest };
  }

  private input(): InputStatus {
    const input = this.parts.config.input;
    const pipeline = this.pipeline;
    const counts = {
      read: pipeline?.stats.read ?? 0,
      accepted: this.accepted,
      crcFailures: pipeline?.stats.crcFailures ?? 0,
      // Today's pipeline does not count frames that are not telegrams, nor stalls (the watchdog brings those).
      notTelegrams: 0,
      oversized: pipeline?.framer.stats.oversized ?? 0,
      cutOff: pipeline?.framer.stats.truncated ?? 0,
      decryptionFailures: pipeline?.input.stats.failed ?? 0,
      stalls: 0,
      lastTelegramAt: this.latest?.at,
    };
    // Today's sources do not say whether they are connected: open from the start, closed when a file ends.
    const state = this.inputClosedAt === undefined ? { state: 'open' as const, since: this.startedAt } : { state: 'closed' as const, since: this.inputClosedAt };
    if (input.kind === 'serial') return { kind: 'serial', target: input.path, line: input.line === 'auto' ? 'auto' : describeLine(input.line), ...state, ...counts };
    if (input.kind === 'network') return { kind: 'network', target: `${input.host}:${input.port}`, ...state, ...counts };
    return { kind: 'file', target: input.path, ...state, ...counts };
  }
}
