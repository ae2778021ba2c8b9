// Sits between a source and the telegram framer. Plain bytes pass straight through; once the stream turns out to
// carry encrypted frames (Luxembourg Smarty / Sagemcom T210-D: 0xDB, AES-128-GCM), every byte goes through the
// FrameDecryptor instead and each decrypted telegram is handed on as if the meter had sent it in plain text.
//
// Detection needs no setting: 0xDB never occurs in a plain ASCII telegram, and a whole frame header (0xDB 0x08, an
// 8-byte system title, an A-XDR length, a suite-0 security byte) is far too specific to turn up in noise. Whether a key
// is set does not decide it either, so a key left in the settings of a plain meter does no harm.
//
// Trouble is logged once per change of state, not once per frame: a meter sends one every second.

import type { Logger } from '../log/logger.ts';
import { DecryptionError, FrameDecryptor, type AadSetting } from './decrypt.ts';
import { ENCRYPTED_FRAME_TAG, readFrameHeader } from './encrypted-framer.ts';

export const DECRYPTION_KEY_SETTING = 'DSMR_DATALOGGER_DECRYPTION_KEY';
export const DECRYPTION_AAD_SETTING = 'DSMR_DATALOGGER_DECRYPTION_AAD';

export interface DecryptingInputOptions {
  /** The meter's 16-byte key (GUEK); without it encrypted frames are counted and dropped. */
  key?: Uint8Array;
  aad?: AadSetting;
  log: Logger;
}

export interface DecryptingInputOutput {
  /** Bytes for the telegram framer: plain input as it came, or one decrypted telegram. */
  bytes(chunk: Buffer): void;
  /** A telegram boundary: after a decrypted telegram (whose frame has ended), or when plain input turns encrypted. */
  boundary(): void;
  /** A whole encrypted frame arrived, decryptable or not: proof that the serial line settings are right. */
  frame?(): void;
}

export interface DecryptionStats {
  /** Encrypted frames received. */
  frames: number;
  decrypted: number;
  /** Frames dropped: no key, wrong key, damaged or unsupported. */
  failed: number;
}

export type DecryptionState =
  /** No encrypted frame seen (yet): plain telegrams. */
  | 'plain'
  | 'decrypting'
  | 'no-key'
  | 'failing';

export class DecryptingInput {
  readonly stats: DecryptionStats = { frames: 0, decrypted: 0, failed: 0 };
  private decryptor: FrameDecryptor | undefined;
  private currentState: DecryptionState = 'plain';
  /** Plain mode: the bytes from a 0xDB whose header has not fully arrived, kept until it tells what it is. */
  private held: Buffer | undefined;
  private lastFailure = '';

  constructor(
    private readonly options: DecryptingInputOptions,
    private readonly output: DecryptingInputOutput,
  ) {}

  get state(): DecryptionState {
    return this.currentState;
  }

  get encrypted(): boolean {
    return this.decryptor !== undefined;
  }

  push(chunk: Buffer): void {
    if (this.decryptor) return this.decrypt(chunk);
    const data = this.held ? Buffer.concat([this.held, chunk]) : chunk;
    this.held = undefined;
    let from = 0;
    for (;;) {
      const at = data.indexOf(ENCRYPTED_FRAME_TAG, from);
      if (at < 0) break;
      const header = readFrameHeader(data.subarray(at));
      if (header === 'invalid') {
        from = at + 1;
        continue;
      }
      if (at > 0) this.output.bytes(data.subarray(0, at));
      if (header === 'more') {
        this.held = Buffer.from(data.subarray(at));
        return;
      }
      this.startDecrypting();
      return this.decrypt(data.subarray(at));
    }
    if (data.length > 0) this.output.bytes(data);
  }

  /** The byte stream was interrupted: a partial frame must not be joined to what follows. */
  discontinuity(): void {
    this.held = undefined;
    this.decryptor?.discontinuity();
  }

  private startDecrypting(): void {
    const { key, aad, log } = this.options;
    // Whatever plain bytes came before belong to no telegram.
    this.output.boundary();
    this.decryptor = new FrameDecryptor(key ?? new Uint8Array(16), aad);
    if (key) {
      log.info('the meter sends encrypted telegrams (0xDB frames, Luxembourg Smarty): decrypting them');
      this.currentState = 'decrypting';
    } else {
      log.error(`the meter sends encrypted telegrams (0xDB frames, Luxembourg Smarty): encrypted telegrams need ${DECRYPTION_KEY_SETTING}, the 32 hex digits of the key from your grid operator; nothing is forwarded until it is set`);
      this.currentState = 'no-key';
    }
  }

  private decrypt(chunk: Buffer): void {
    const decryptor = this.decryptor!;
    if (!this.options.key) {
      // Framed all the same: the frames still prove the line settings, and the stats show the meter is there.
      for (let n = decryptor.framer.push(chunk).length; n > 0; n--) {
        this.stats.frames++;
        this.stats.failed++;
        this.output.frame?.();
        this.options.log.debug(`encrypted frame ${this.stats.frames} dropped: no decryption key`);
      }
      return;
    }
    for (const outcome of decryptor.push(chunk)) {
      this.stats.frames++;
      this.output.frame?.();
      if (outcome.ok) {
        this.stats.decrypted++;
        if (this.currentState === 'failing') this.options.log.info(`decryption works again (${this.stats.failed} frame(s) dropped so far)`);
        this.currentState = 'decrypting';
        this.lastFailure = '';
        this.options.log.debug(`encrypted frame ${this.stats.frames} (frame counter ${outcome.frame.frameCounter}) decrypted: ${outcome.frame.plaintext.length} bytes`);
        this.output.bytes(outcome.frame.plaintext);
        this.output.boundary();
      } else {
        this.stats.failed++;
        this.options.log.debug(`encrypted frame ${this.stats.frames} not decrypted: ${outcome.error.message}`);
        this.reportFailure(outcome.error);
      }
    }
  }

  private reportFailure(error: DecryptionError): void {
    const message =
      error.reason === 'authentication'
        ? `cannot decrypt the meter's telegrams: the GCM tag does not verify, so ${DECRYPTION_KEY_SETTING} (or ${DECRYPTION_AAD_SETTING}) does not match this meter, or the frame was damaged`
        : `cannot decrypt the meter's telegrams: ${error.message}`;
    // Said again only when something changes: the same failure every second is no news.
    if (this.currentState !== 'failing' || message !== this.lastFailure) {
      this.options.log.error(`${message}; telegrams are dropped until decryption succeeds`);
    }
    this.currentState = 'failing';
    this.lastFailure = message;
  }
}
