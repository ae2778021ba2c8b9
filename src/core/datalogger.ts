// The datalogger's core: a source, the reading stage, the telegram check, and every output, with the lifecycle rules
// (start, stop within supervisor's patience, drain-then-stop for a file). It is handed its ports and does no I/O of
// its own, so all of it is tested in-process with a fake clock, a scripted source and scripted sinks.
import type { Logger } from '../log/logger.ts';
import type { Source } from '../sources/source.ts';
import type { Output } from '../outputs/output.ts';
import type { Clock, Timer } from './clock.ts';
import type { DataloggerStatus, InputStatus } from './status.ts';
import { ReadingStage } from './reading-stage.ts';
import { TelegramCheck } from '../transforms/telegram-check.ts';
import { formatCrc } from '../transforms/crc-check.ts';
import type { AadSetting } from '../transforms/decrypt.ts';
import { formatStats } from '../log/stats.ts';

/** SIGTERM must end us well within supervisor's stopwaitsecs (10 s); a request in flight gets this long to finish. */
export const STOP_GRACE_MS = 5000;
export const STOP_DEADLINE_MS = 9500;

export interface DataloggerOptions {
  source: Source;
  outputs: Output[];
  clock: Clock;
  log: Logger;
  version: string;
  crcCheck: boolean;
  decryption?: { key?: Uint8Array; aad?: AadSetting };
  /** 0: no stats line. */
  statsIntervalMs: number;
}

export class Datalogger {
  /** Resolves with the exit status once the datalogger has stopped. */
  readonly done: Promise<number>;
  private finish!: (code: number) => void;
  private readonly stage: ReadingStage;
  private readonly check: TelegramCheck;
  private readonly startedAt: number;
  private read = 0;
  private accepted = 0;
  private latest: { at: number; telegram: Buffer } | undefined;
  /** Each kind of drop is worth one warning; the rest are counted in the stats line. */
  private readonly dropsAnnounced = new Set<string>();
  private stopping = false;
  /** Ends the wait for the outputs to drain once a stop is asked for (a signal while the input has ended). */
  private stopAsked!: () => void;
  private readonly stopRequested = new Promise<void>((resolve) => (this.stopAsked = resolve));
  private statsTimer: Timer | undefined;

  constructor(private readonly options: DataloggerOptions) {
    this.done = new Promise((resolve) => (this.finish = resolve));
    this.startedAt = options.clock.now();
    this.check = new TelegramCheck({ crcCheck: options.crcCheck });
    this.stage = new ReadingStage({
      clock: options.clock,
      log: options.log,
      decryption: options.decryption,
      telegram: (telegram) => this.take(telegram),
      encryptedFrame: () => options.source.confirmed?.(),
    });
  }

  start(): void {
    for (const output of this.options.outputs) output.start();
    this.options.source.start({
      data: (chunk) => this.stage.push(chunk),
      discontinuity: () => this.stage.discontinuity(),
      end: () => {
        this.stage.end();
        void this.drainThenStop();
      },
      failed: (err) => {
        this.options.log.error(err.message);
        void this.stop('input failed', 1);
      },
    });
    this.scheduleStats();
  }

  /** Stops reading, hands what waits to the backlogs and resolves `done` with code, at the latest after STOP_DEADLINE_MS. */
  async stop(why: string, code = 0): Promise<number> {
    if (this.stopping) return this.done;
    this.stopping = true;
    this.stopAsked();
    const { clock, log, outputs, source } = this.options;
    log.info(`${why}: stopping`);
    // Whatever happens below, exit before supervisor would reach for SIGKILL.
    clock.setTimeout(() => this.finish(code), STOP_DEADLINE_MS).unref?.();
    clock.clearTimeout(this.statsTimer);
    await source.stop();
    this.stage.stop();
    await Promise.all(outputs.map((o) => o.stop(STOP_GRACE_MS)));
    await Promise.all(outputs.map((o) => o.close()));
    const waiting = this.waiting();
    log.info(`stopped${waiting ? `; ${waiting} telegram(s) kept for the next start` : ''}`);
    this.finish(code);
    return this.done;
  }

  status(): DataloggerStatus {
    const { clock, source, outputs, version } = this.options;
    const framer = this.stage.framerStats;
    const sourceStatus = source.status();
    const input: InputStatus = {
      kind: sourceStatus.kind,
      target: sourceStatus.target,
      line: sourceStatus.line,
      state: sourceStatus.state,
      since: sourceStatus.since,
      lastTelegramAt: this.latest?.at,
      read: this.read,
      accepted: this.accepted,
      crcFailures: this.check.stats.crcFailures,
      notTelegrams: this.check.stats.crcMissing + this.check.stats.notTelegrams,
      oversized: framer.oversized,
      cutOff: framer.truncated,
      decryptionFailures: this.stage.decryptionStats.failed,
      stalls: sourceStatus.stalls,
    };
    return { version, startedAt: this.startedAt, now: clock.now(), input, outputs: outputs.map((o) => o.status()), latest: this.latest };
  }

  private waiting(): number {
    return this.options.outputs.reduce((n, o) => n + o.queued, 0);
  }

  private take(telegram: Buffer): void {
    const { log, clock, source, outputs } = this.options;
    this.read++;
    const verdict = this.check.judge(telegram);
    if (!verdict.accept) {
      if (!this.dropsAnnounced.has(verdict.reason)) {
        this.dropsAnnounced.add(verdict.reason);
        log.warn(`dropped a ${verdict.message}; further ones are counted in the stats line`);
      } else log.debug(`dropped a ${verdict.message}`);
      return;
    }
    if (verdict.provesLine) source.confirmed?.();
    const now = clock.now();
    // install.sh's set-up check waits for this line: proof that the meter, the port and its settings work.
    if (this.accepted++ === 0) log.info(`first telegram read from ${source.description}`);
    this.latest = { at: now, telegram };
    if (log.enabled('debug')) log.debug(`telegram of ${telegram.length} bytes, CRC ${verdict.crc.status === 'valid' ? formatCrc(verdict.crc.crc) : verdict.crc.status}: forwarding`);
    for (const output of outputs) output.offer(telegram, now);
  }

  private async drainThenStop(): Promise<void> {
    const { log, outputs } = this.options;
    if (this.waiting() > 0) log.info(`input ended; waiting until ${this.waiting()} telegram(s) are delivered`);
    await Promise.race([Promise.all(outputs.map((o) => o.whenDrained())), this.stopRequested]);
    await this.stop('input ended, everything delivered', 0);
  }

  private scheduleStats(): void {
    const { statsIntervalMs, clock, log } = this.options;
    if (statsIntervalMs <= 0 || this.stopping) return;
    this.statsTimer = clock.setTimeout(() => {
      log.info(formatStats(this.status()));
      this.scheduleStats();
    }, statsIntervalMs);
    this.statsTimer.unref?.();
  }
}
