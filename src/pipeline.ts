import type { Logger } from './log/logger.ts';
import type { Source } from './sources/source.ts';
import type { Outbox } from './buffers/outbox.ts';
import { TelegramFramer } from './transforms/framer.ts';
import { checkCrc, formatCrc } from './transforms/crc-check.ts';
import { MinimumInterval } from './transforms/min-interval.ts';
import { isIdentificationStart } from './transforms/p1-bytes.ts';
import { DecryptingInput } from './transforms/decrypting-input.ts';
import type { AadSetting } from './transforms/decrypt.ts';

const LINE_END_WAIT_MS = 200;

export interface PipelineStats {
  read: number;
  crcFailures: number;
  skippedByInterval: number;
}

export interface PipelineOptions {
  source: Source;
  outboxes: Outbox[];
  crcCheck: boolean;
  minIntervalMs: number;
  log: Logger;
  /** A telegram passed the checks: with serial auto-detection, the line settings are right. */
  onValidTelegram?: () => void;
  /** A telegram passed the checks (before the minimum interval): for the status endpoint. */
  onTelegram?: (telegram: Buffer) => void;
  /** The input ended (file or stdin). */
  onEnd?: () => void;
  onFailure?: (err: Error) => void;
  now?: () => number;
  /** Key (and AAD) of an encrypted (Luxembourg) meter. Encrypted input is recognised with or without them. */
  decryption?: { key?: Uint8Array; aad?: AadSetting };
}

/** source → framer → CRC check → minimum interval → every server's outbox. */
export class Pipeline {
  readonly stats: PipelineStats = { read: 0, crcFailures: 0, skippedByInterval: 0 };
  readonly framer = new TelegramFramer();
  private readonly interval: MinimumInterval;
  private crcFailureAnnounced = false;
  private lineEndTimer: ReturnType<typeof setTimeout> | undefined;
  /** Passes plain bytes on, or decrypts an encrypted meter's frames into the telegrams the framer expects. */
  readonly input: DecryptingInput;

  constructor(private readonly options: PipelineOptions) {
    this.interval = new MinimumInterval(options.minIntervalMs);
    this.input = new DecryptingInput({ ...options.decryption, log: options.log }, {
      bytes: (bytes) => this.accept(this.framer.push(bytes)),
      boundary: () => this.accept(this.framer.discontinuity()),
      // A whole encrypted frame proves the line settings even when it cannot be decrypted.
      frame: () => this.options.onValidTelegram?.(),
    });
  }

  start(): void {
    this.options.source.start({
      data: (chunk) => {
        this.input.push(chunk);
        this.watchLineEnd();
      },
      discontinuity: () => {
        clearTimeout(this.lineEndTimer);
        this.input.discontinuity();
        this.accept(this.framer.discontinuity());
      },
      end: () => {
        clearTimeout(this.lineEndTimer);
        this.accept(this.framer.end());
        this.options.onEnd?.();
      },
      failed: (err) => this.options.onFailure?.(err),
    });
  }

  /** The input has stopped: a telegram only waiting for its line end was read in full and must not be lost. */
  stop(): void {
    clearTimeout(this.lineEndTimer);
    this.accept(this.framer.lineEndOverdue());
  }

  // A meter sends CR LF right after the CRC, so a telegram that stops after its CRC is complete: do not keep it
  // until the next telegram arrives seconds later. ESPHome's P1 reader uses the same 200 ms of silence.
  private watchLineEnd(): void {
    clearTimeout(this.lineEndTimer);
    if (this.framer.awaitingLineEnd) this.lineEndTimer = setTimeout(() => this.accept(this.framer.lineEndOverdue()), LINE_END_WAIT_MS);
  }

  private accept(telegrams: Buffer[]): void {
    for (const telegram of telegrams) this.forward(telegram);
  }

  private forward(telegram: Buffer): void {
    const { log } = this.options;
    this.stats.read++;
    const crc = checkCrc(telegram);
    if (crc.status === 'invalid') {
      this.stats.crcFailures++;
      const message = `telegram with a bad CRC (${formatCrc(crc.given)} given, ${formatCrc(crc.computed)} computed)`;
      if (this.options.crcCheck) {
        // The first one is worth knowing about; the rest are counted in the stats line.
        if (!this.crcFailureAnnounced) log.warn(`dropped a ${message}; further ones are counted in the stats line`);
        else log.debug(`dropped a ${message}`);
        this.crcFailureAnnounced = true;
        return;
      }
      log.debug(`forwarding a ${message}: the CRC check is off`);
    } else if (crc.status === 'valid' || isIdentificationStart(telegram, 0)) {
      // A CRC-less telegram proves the line settings only with a real identification line, not just any '/'.
      this.options.onValidTelegram?.();
    }
    this.options.onTelegram?.(telegram);
    const now = (this.options.now ?? Date.now)();
    if (!this.interval.admit(now)) {
      this.stats.skippedByInterval++;
      return;
    }
    if (log.enabled('debug')) log.debug(`telegram of ${telegram.length} bytes, CRC ${crc.status === 'valid' ? formatCrc(crc.crc) : crc.status}: forwarding`);
    for (const outbox of this.options.outboxes) outbox.enqueue(telegram);
  }
}
