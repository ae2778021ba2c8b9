// The reading stage: raw bytes from a source become candidate telegrams. Decryption (Luxembourg meters), framing,
// and the line-end rule live here once, for the datalogger and for `detect`.
import type { Logger } from '../log/logger.ts';
import type { Clock, Timer } from './clock.ts';
import { TelegramFramer, type FramerStats } from '../transforms/framer.ts';
import { DecryptingInput, type DecryptionState, type DecryptionStats } from '../transforms/decrypting-input.ts';
import type { AadSetting } from '../transforms/decrypt.ts';

/**
 * A meter sends CR LF right after the CRC, so a telegram that stops after its CRC is complete: it must not wait
 * until the next telegram arrives seconds later. ESPHome's P1 reader uses the same 200 ms of silence.
 */
export const LINE_END_WAIT_MS = 200;

export interface ReadingStageOptions {
  clock: Clock;
  log: Logger;
  /** Key (and AAD) of an encrypted meter. Encrypted input is recognised with or without them. */
  decryption?: { key?: Uint8Array; aad?: AadSetting };
  /** A framed telegram, exactly as sent (or as decrypted), not yet checked. */
  telegram(telegram: Buffer): void;
  /** A whole encrypted frame arrived, decryptable or not: it proves the serial line settings. */
  encryptedFrame?(): void;
}

export class ReadingStage {
  readonly framer = new TelegramFramer();
  private readonly input: DecryptingInput;
  private lineEndTimer: Timer | undefined;

  constructor(private readonly options: ReadingStageOptions) {
    this.input = new DecryptingInput({ ...options.decryption, log: options.log }, {
      bytes: (bytes) => this.emit(this.framer.push(bytes)),
      boundary: () => this.emit(this.framer.discontinuity()),
      frame: () => options.encryptedFrame?.(),
    });
  }

  get framerStats(): FramerStats {
    return this.framer.stats;
  }

  get decryptionStats(): DecryptionStats {
    return this.input.stats;
  }

  /** Whether the meter turned out to encrypt its telegrams, and how decrypting them goes. */
  get decryption(): { encrypted: boolean; state: DecryptionState } {
    return { encrypted: this.input.encrypted, state: this.input.state };
  }

  push(chunk: Buffer): void {
    this.input.push(chunk);
    this.options.clock.clearTimeout(this.lineEndTimer);
    this.lineEndTimer = this.framer.awaitingLineEnd ? this.options.clock.setTimeout(() => this.lineEndOverdue(), LINE_END_WAIT_MS) : undefined;
  }

  /** The byte stream was interrupted: what was half read must not be joined to what follows. */
  discontinuity(): void {
    this.options.clock.clearTimeout(this.lineEndTimer);
    this.input.discontinuity();
    this.emit(this.framer.discontinuity());
  }

  /** No more input (end of a file): bytes held back by decryption go on as plain; a telegram cut off is given up. */
  end(): void {
    this.options.clock.clearTimeout(this.lineEndTimer);
    this.input.end();
    this.emit(this.framer.end());
  }

  /** Reading stops: what was held back goes on, and a telegram only waiting for its line end was read in full. */
  stop(): void {
    this.input.end();
    this.lineEndOverdue();
  }

  private lineEndOverdue(): void {
    this.options.clock.clearTimeout(this.lineEndTimer);
    this.lineEndTimer = undefined;
    this.emit(this.framer.lineEndOverdue());
  }

  private emit(telegrams: Buffer[]): void {
    for (const telegram of telegrams) this.options.telegram(telegram);
  }
}
