// Sits between a source and the telegram framer. It hands plain bytes on as they come, and takes the encrypted frames
// of a Luxembourg Smarty / Sagemcom T210-D meter (0xDB, AES-128-GCM) out of the stream: each one that decrypts is handed
// on as the telegram the meter would have sent in plain text.
//
// Detection needs no setting: 0xDB never occurs in a plain ASCII telegram. But a frame header is only 14 bytes, and
// line noise forms one now and then (about once per 13 MB of random bytes), so a header decides nothing by itself.
// Its bytes are held back until the whole frame is there. A frame that decrypts is one. Without a key (or with a wrong
// one) a frame counts only once the stream has shown to be encrypted: the next frame starting right where this one
// ends confirms that its length was real. Anything else goes on as plain bytes, so noise can delay a plain telegram by
// at most one frame's length, never lose it. Whether a key is set does not decide it either, so a key left in the
// settings of a plain meter does no harm.
//
// Trouble is logged once per change of state, not once per frame: a meter sends one every second.

import type { Logger } from '../log/logger.ts';
import { tryDecryptFrame, type AadSetting, type DecryptedFrame, type DecryptionError, type DecryptOutcome } from './decrypt.ts';
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
  /** Bytes for the telegram framer: plain input as it came (but for the frames in it), or one decrypted telegram. */
  bytes(chunk: Buffer): void;
  /** A telegram boundary: before and after a frame, so plain bytes around it are never joined to its telegram. */
  boundary(): void;
  /** A whole encrypted frame was taken, decryptable or not: proof that the serial line settings are right. */
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
  /** No whole encrypted frame seen (yet): plain telegrams. */
  | 'plain'
  | 'decrypting'
  | 'no-key'
  | 'failing';

export class DecryptingInput {
  readonly stats: DecryptionStats = { frames: 0, decrypted: 0, failed: 0 };
  private currentState: DecryptionState = 'plain';
  /** The bytes from the earliest frame candidate that is not decided yet; the first `heldTaken` were taken as a frame. */
  private held = Buffer.alloc(0);
  private heldLength = 0;
  private heldTaken = 0;
  /** Stream offset of the first byte of `held` (or of the chunk being scanned). */
  private offset = 0;
  /** A candidate waiting for the frame after it was already tried: do not decrypt it again. */
  private tried: { at: number; outcome: DecryptOutcome | null } | undefined;
  /** Whether the framer has had a boundary since the last bytes it was given. */
  private cut = false;
  private lastFailure = '';

  constructor(
    private readonly options: DecryptingInputOptions,
    private readonly output: DecryptingInputOutput,
  ) {}

  get state(): DecryptionState {
    return this.currentState;
  }

  /** A whole frame has shown that the meter encrypts. */
  get encrypted(): boolean {
    return this.currentState !== 'plain';
  }

  /** Bytes held back while a frame candidate is undecided: at most one frame and the header after it. */
  get pendingBytes(): number {
    return this.heldLength;
  }

  push(chunk: Buffer): void {
    if (this.heldLength === 0) return this.scan(chunk, 0, false);
    this.hold(chunk);
    this.scan(this.held.subarray(0, this.heldLength), this.heldTaken, false);
  }

  /** The byte stream was interrupted: a partial frame must not be joined to what follows. */
  discontinuity(): void {
    this.end();
  }

  /** The input ended (or broke off): what is held can no longer become a frame and goes on as plain bytes. */
  end(): void {
    if (this.heldLength > 0) this.scan(this.held.subarray(0, this.heldLength), this.heldTaken, true);
  }

  /**
   * Hands on `data` but for the frames in it, from `taken` on (the bytes before it are a frame already taken). Keeps
   * what cannot be decided yet. `final`: no more bytes will follow these.
   */
  private scan(data: Buffer, taken: number, final: boolean): void {
    let handed = taken;
    let at = 0;
    for (;;) {
      const start = data.indexOf(ENCRYPTED_FRAME_TAG, at);
      if (start < 0) break;
      at = start + 1;
      const header = readFrameHeader(data.subarray(start));
      if (header === 'invalid') continue;
      const end = header === 'more' ? Infinity : start + header.total;
      if (end > data.length) {
        if (final) continue;
        return this.keep(data, handed, start);
      }
      const frame = data.subarray(start, end);
      const outcome = this.decrypt(frame, this.offset + start);
      if (outcome?.ok) {
        this.plain(data.subarray(handed, start));
        this.establish();
        this.decrypted(outcome.frame);
        handed = Math.max(handed, end);
        at = end;
        continue;
      }
      // Inside a frame already taken only a frame that decrypts counts (the one taken was noise, or damaged).
      if (start < handed) continue;
      if (!this.encrypted) {
        // Nothing shows yet that the meter encrypts: the next frame must start where this one ends.
        const next = end < data.length ? readFrameHeader(data.subarray(end)) : final ? 'ended' : 'more';
        if (next === 'more') {
          if (final) continue;
          return this.keep(data, handed, start);
        }
        if (next === 'invalid') continue;
        this.establish();
      }
      this.plain(data.subarray(handed, start));
      this.undecrypted(outcome);
      // Looked through for a frame that decrypts after all, in case this one was noise in front of it.
      handed = end;
    }
    this.plain(data.subarray(handed));
    this.keep(data, data.length, data.length);
  }

  /** Keeps data[from..] for the next push (data[from..handed] was taken as a frame already). */
  private keep(data: Buffer, handed: number, from: number): void {
    this.plain(data.subarray(Math.min(handed, from), from));
    const rest = data.subarray(from);
    this.offset += from;
    this.heldTaken = Math.max(0, handed - from);
    if (data.buffer === this.held.buffer && data.byteOffset === this.held.byteOffset) {
      this.held.copyWithin(0, from, data.length);
      this.heldLength = rest.length;
    } else {
      this.heldLength = 0;
      this.hold(rest);
    }
    if (this.tried && this.tried.at < this.offset) this.tried = undefined;
  }

  private hold(bytes: Uint8Array): void {
    const needed = this.heldLength + bytes.length;
    if (needed > this.held.length) {
      const grown = Buffer.alloc(Math.max(needed, 2 * this.held.length, 1024));
      this.held.copy(grown, 0, 0, this.heldLength);
      this.held = grown;
    }
    this.held.set(bytes, this.heldLength);
    this.heldLength = needed;
  }

  private plain(bytes: Buffer): void {
    if (bytes.length === 0) return;
    this.cut = false;
    this.output.bytes(bytes);
  }

  private boundary(): void {
    if (this.cut) return;
    this.cut = true;
    this.output.boundary();
  }

  /** null without a key. */
  private decrypt(frame: Buffer, at: number): DecryptOutcome | null {
    if (this.tried?.at === at) return this.tried.outcome;
    const { key, aad } = this.options;
    const outcome = key ? tryDecryptFrame(frame, key, aad) : null;
    this.tried = { at, outcome };
    return outcome;
  }

  private establish(): void {
    if (this.encrypted) return;
    const { key, log } = this.options;
    if (key) {
      log.info('the meter sends encrypted telegrams (0xDB frames, Luxembourg Smarty): decrypting them');
      this.currentState = 'decrypting';
    } else {
      log.error(`the meter sends encrypted telegrams (0xDB frames, Luxembourg Smarty): encrypted telegrams need ${DECRYPTION_KEY_SETTING}, the 32 hex digits of the key from your grid operator; nothing is forwarded until it is set`);
      this.currentState = 'no-key';
    }
  }

  private decrypted(frame: DecryptedFrame): void {
    this.stats.frames++;
    this.stats.decrypted++;
    this.output.frame?.();
    if (this.currentState === 'failing') this.options.log.info(`decryption works again (${this.stats.failed} frame(s) dropped so far)`);
    this.currentState = 'decrypting';
    this.lastFailure = '';
    this.options.log.debug(`encrypted frame ${this.stats.frames} (frame counter ${frame.frameCounter}) decrypted: ${frame.plaintext.length} bytes`);
    // Whatever plain bytes came before belong to no telegram.
    this.boundary();
    this.plain(frame.plaintext);
    this.boundary();
  }

  private undecrypted(outcome: DecryptOutcome | null): void {
    this.stats.frames++;
    this.stats.failed++;
    // Dropped all the same: the frames still prove the line settings, and the stats show the meter is there.
    this.output.frame?.();
    this.boundary();
    if (!outcome) {
      this.options.log.debug(`encrypted frame ${this.stats.frames} dropped: no decryption key`);
    } else if (!outcome.ok) {
      this.options.log.debug(`encrypted frame ${this.stats.frames} not decrypted: ${outcome.error.message}`);
      this.reportFailure(outcome.error);
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
