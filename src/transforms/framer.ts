// Cuts a meter's byte stream into telegrams: from '/' through the line end after '!' and up to 4 hex CRC digits.
// The bytes of a telegram are kept exactly as they arrived; nothing is decoded or normalised, because the CRC and
// DSMR-reader both work on the raw bytes.

import { BANG, CR, isHexDigit, isIdentificationStart, isLetter, LF, SLASH } from './p1-bytes.ts';

export const DEFAULT_MAX_TELEGRAM_BYTES = 16 * 1024;

export interface FramerStats {
  /** Partial telegrams given up: cut short by a new telegram, a lost connection or the end of the input. */
  truncated: number;
  /** Frames that grew past the size bound without an end (noise, wrong serial settings). */
  oversized: number;
}

const enum State {
  /** Between telegrams: everything but '/' is noise. */
  Idle,
  /** Inside a telegram, before its '!'. */
  Body,
  /** After '!': up to 4 hex digits of CRC. */
  Crc,
  /** After the CR that follows the CRC: an LF may follow. */
  Cr,
}

export class TelegramFramer {
  readonly stats: FramerStats = { truncated: 0, oversized: 0 };
  private readonly buffer: Buffer;
  private length = 0;
  private state = State.Idle;
  private crcDigits = 0;
  /** Offsets of '/' met inside the current frame: where a cut-short telegram may have been followed by a new one. */
  private innerSlashes: number[] = [];

  constructor(private readonly maxBytes = DEFAULT_MAX_TELEGRAM_BYTES) {
    this.buffer = Buffer.alloc(maxBytes);
  }

  /** Feeds bytes in; returns the telegrams they completed, in order. */
  push(chunk: Uint8Array): Buffer[] {
    const out: Buffer[] = [];
    for (let i = 0; i < chunk.length; i++) {
      const b = chunk[i];
      switch (this.state) {
        case State.Idle: {
          const slash = b === SLASH ? i : chunk.indexOf(SLASH, i);
          if (slash < 0) i = chunk.length;
          else {
            i = slash;
            this.begin(SLASH);
          }
          break;
        }
        case State.Body: {
          const taken = this.appendBody(chunk, i);
          if (taken > 0) i += taken - 1;
          else {
            // The frame is full: it is given up (see overflow) and this byte looked at again in the state that left.
            this.overflow();
            i--;
          }
          break;
        }
        case State.Crc:
          if (isHexDigit(b) && this.crcDigits < 4) {
            if (this.append(b)) this.crcDigits++;
            else i--;
          } else if (b === CR) {
            if (this.append(b)) this.state = State.Cr;
            else i--;
          } else if (b === LF) {
            if (this.append(b)) out.push(this.complete());
            else i--;
          } else if (this.crcDigits > 0) {
            // No line end after the CRC: the telegram ends here and this byte belongs to what follows.
            out.push(this.complete());
            i--;
          } else {
            // '!' followed by neither a CRC nor a line end: cut short, not a CRC-less telegram.
            this.stats.truncated++;
            this.reset();
            i--;
          }
          break;
        case State.Cr:
          if (b === LF) {
            if (this.append(b)) out.push(this.complete());
            else i--;
          } else {
            out.push(this.complete());
            i--;
          }
          break;
      }
    }
    return out;
  }

  /** The input ended: a telegram that has its '!' is complete; anything before that is cut short. */
  end(): Buffer[] {
    return this.discontinuity();
  }

  /** A telegram has its '!' (and CRC) but its line end has not come (yet). */
  get awaitingLineEnd(): boolean {
    return this.state === State.Crc || this.state === State.Cr;
  }

  /** The line end after the CRC is overdue: the telegram is complete without it. */
  lineEndOverdue(): Buffer[] {
    return this.awaitingLineEnd ? [this.complete()] : [];
  }

  /** The byte stream was interrupted: never join what came before to what comes after. */
  discontinuity(): Buffer[] {
    if (this.state === State.Crc || this.state === State.Cr) return [this.complete()];
    if (this.state === State.Body) this.stats.truncated++;
    this.reset();
    return [];
  }

  private begin(b: number): void {
    this.state = State.Body;
    this.length = 0;
    this.innerSlashes = [];
    this.append(b);
  }

  /**
   * Appends chunk[from..] through the next '!' at once, as far as the frame has room, noting the '/' among them
   * (native searches: without the optimizing JIT a byte loop costs tens of microseconds a telegram). The bytes taken;
   * 0 when the frame is full.
   */
  private appendBody(chunk: Uint8Array, from: number): number {
    const room = this.maxBytes - this.length;
    const segment = chunk.subarray(from, Math.min(chunk.length, from + room));
    const bang = segment.indexOf(BANG);
    const taken = bang < 0 ? segment.length : bang + 1;
    for (let s = segment.indexOf(SLASH); s >= 0 && s < taken; s = segment.indexOf(SLASH, s + 1)) this.innerSlashes.push(this.length + s);
    this.buffer.set(bang < 0 ? segment : segment.subarray(0, taken), this.length);
    this.length += taken;
    if (bang >= 0) {
      this.state = State.Crc;
      this.crcDigits = 0;
    }
    return taken;
  }

  /**
   * Adds a byte to the frame; false when the frame is full: it has then been given up (see overflow) and the byte
   * must be looked at again, in the state that left.
   */
  private append(b: number): boolean {
    if (this.length === this.maxBytes) {
      this.overflow();
      return false;
    }
    this.buffer[this.length++] = b;
    return true;
  }

  // The frame grew past the bound without an end. A telegram that began inside it is kept: the frame is given up
  // up to its last identification line (the bytes before it are the unterminated part), else entirely.
  private overflow(): void {
    this.stats.oversized++;
    const at = Math.max(this.lastIdentificationStart(), this.identificationStartAtEnd());
    if (at <= 0) {
      this.reset();
      return;
    }
    this.buffer.copyWithin(0, at, this.length);
    this.length -= at;
    this.innerSlashes = this.innerSlashes.filter((offset) => offset > at).map((offset) => offset - at);
  }

  private complete(): Buffer {
    const start = this.restartOffset();
    const telegram = Buffer.from(this.buffer.subarray(start, this.length));
    this.reset();
    return telegram;
  }

  // A '/' inside a frame that starts an identification line starts a new telegram: the one before it was cut short.
  private restartOffset(): number {
    const at = this.lastIdentificationStart();
    if (at < 0) return 0;
    this.stats.truncated++;
    return at;
  }

  /** Offset of the last '/' after the frame's first that starts an identification line; -1 when there is none. */
  private lastIdentificationStart(): number {
    for (let k = this.innerSlashes.length - 1; k >= 0; k--) {
      const at = this.innerSlashes[k];
      if (isIdentificationStart(this.buffer, at, this.length)) return at;
    }
    return -1;
  }

  /** Offset of a '/' in the last 3 bytes that may yet start an identification line (the letters so far); else -1. */
  private identificationStartAtEnd(): number {
    const last = this.innerSlashes[this.innerSlashes.length - 1];
    if (last === undefined || last + 3 < this.length) return -1;
    for (let k = last + 1; k < this.length; k++) if (!isLetter(this.buffer[k])) return -1;
    return last;
  }

  private reset(): void {
    this.state = State.Idle;
    this.length = 0;
    this.crcDigits = 0;
    this.innerSlashes = [];
  }
}
