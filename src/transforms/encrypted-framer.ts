// Cuts the byte stream of a Luxembourg Smarty / Sagemcom T210-D meter into its encrypted frames (DLMS
// general-glo-ciphering, tag 0xDB). Layout, see test/fixtures/telegrams/ENCRYPTION.md:
//   DB | 08 | system title (8) | length L (A-XDR, normally 82 hi lo) | SC (1) | frame counter (4) | ciphertext | tag (12)
// The frame has no CRC and no line end, so the length field is the only way to know where it ends.

import { Buffer } from 'node:buffer';

export const ENCRYPTED_FRAME_TAG = 0xdb;
const SYSTEM_TITLE_LENGTH = 8;
/** Security control byte + frame counter + GCM tag: the part of L that is not ciphertext. */
export const FRAME_OVERHEAD = 1 + 4 + 12;
/** A full Luxembourg readout is about 1.5 kB; leave room for longer messages without letting noise grow forever. */
export const DEFAULT_MAX_ENCRYPTED_FRAME_BYTES = 8 * 1024;

/** 0xDB never occurs in a plain ASCII telegram, so the first byte tells encrypted from plain input. */
export function isEncryptedStart(byte: number): boolean {
  return byte === ENCRYPTED_FRAME_TAG;
}

export interface EncryptedFrame {
  /** The whole frame as received. */
  bytes: Buffer;
  systemTitle: Buffer;
  securityControl: number;
  frameCounter: number;
  ciphertext: Buffer;
  tag: Buffer;
}

export interface EncryptedFramerStats {
  /** Bytes thrown away while looking for a frame start (noise, or a frame start that turned out not to be one). */
  skippedBytes: number;
  /** Partial frames given up because the stream was interrupted or ended. */
  truncated: number;
}

export interface FrameHeader {
  /** Bytes before the security control byte: 13 with the usual "82 hi lo" length. */
  headerLength: number;
  /** Whole frame length. */
  total: number;
}

/**
 * Reads the header at the start of `data`: the frame's layout, 'more' when more bytes are needed to tell, or
 * 'invalid' when these bytes cannot be the start of a frame.
 */
export function readFrameHeader(data: Uint8Array, maxBytes = DEFAULT_MAX_ENCRYPTED_FRAME_BYTES): FrameHeader | 'more' | 'invalid' {
  if (data.length < 1) return 'more';
  if (data[0] !== ENCRYPTED_FRAME_TAG) return 'invalid';
  if (data.length < 2) return 'more';
  if (data[1] !== SYSTEM_TITLE_LENGTH) return 'invalid';
  const at = 2 + SYSTEM_TITLE_LENGTH;
  if (data.length < at + 1) return 'more';
  // A-XDR length: below 0x80 the byte is the length; 0x81/0x82 say one or two length bytes follow.
  const first = data[at];
  let length: number;
  let headerLength: number;
  if (first < 0x80) {
    length = first;
    headerLength = at + 1;
  } else if (first === 0x81) {
    if (data.length < at + 2) return 'more';
    length = data[at + 1];
    headerLength = at + 2;
  } else if (first === 0x82) {
    if (data.length < at + 3) return 'more';
    length = (data[at + 1] << 8) | data[at + 2];
    headerLength = at + 3;
  } else {
    return 'invalid';
  }
  const total = headerLength + length;
  if (length <= FRAME_OVERHEAD || total > maxBytes) return 'invalid';
  if (data.length < headerLength + 1) return 'more';
  if (!isSecurityControl(data[headerLength])) return 'invalid';
  return { headerLength, total };
}

// Security suite 0 (low nibble), authenticated and/or encrypted (0x10, 0x20), neither compressed (0x80) nor with a
// broadcast key (0x40): 0x30 on every meter known, 0x10/0x20 reach the decryptor to be reported as unsupported. Any
// other value means this 0xDB was noise.
function isSecurityControl(sc: number): boolean {
  return (sc & 0xcf) === 0 && (sc & 0x30) !== 0;
}

/** Splits a complete frame into its fields; null when the bytes are not exactly one whole frame. */
export function parseEncryptedFrame(bytes: Uint8Array): EncryptedFrame | null {
  const header = readFrameHeader(bytes, Number.MAX_SAFE_INTEGER);
  if (typeof header === 'string' || header.total !== bytes.length) return null;
  const frame = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
  const body = frame.subarray(header.headerLength);
  return {
    bytes: frame,
    systemTitle: frame.subarray(2, 2 + SYSTEM_TITLE_LENGTH),
    securityControl: body[0],
    frameCounter: body.readUInt32BE(1),
    ciphertext: body.subarray(5, body.length - 12),
    tag: body.subarray(body.length - 12),
  };
}

/** Push bytes in, get whole frames out; survives noise, bad starts and chunks split anywhere. */
export class EncryptedFramer {
  readonly stats: EncryptedFramerStats = { skippedBytes: 0, truncated: 0 };
  private pending: Buffer = Buffer.alloc(0);

  constructor(private readonly maxBytes = DEFAULT_MAX_ENCRYPTED_FRAME_BYTES) {}

  push(chunk: Uint8Array): Buffer[] {
    this.pending = this.pending.length === 0 ? Buffer.from(chunk) : Buffer.concat([this.pending, chunk]);
    const frames: Buffer[] = [];
    let at = 0;
    while (at < this.pending.length) {
      if (this.pending[at] !== ENCRYPTED_FRAME_TAG) {
        const next = this.pending.indexOf(ENCRYPTED_FRAME_TAG, at);
        const skipTo = next < 0 ? this.pending.length : next;
        this.stats.skippedBytes += skipTo - at;
        at = skipTo;
        continue;
      }
      const header = readFrameHeader(this.pending.subarray(at), this.maxBytes);
      if (header === 'invalid') {
        // Not a real frame start (a 0xDB inside noise): look for the next one.
        this.stats.skippedBytes++;
        at++;
      } else if (header === 'more' || at + header.total > this.pending.length) {
        break;
      } else {
        frames.push(Buffer.from(this.pending.subarray(at, at + header.total)));
        at += header.total;
      }
    }
    this.pending = this.pending.subarray(at);
    return frames;
  }

  /** The stream was interrupted: a partial frame must not be joined to what comes next. */
  discontinuity(): void {
    if (this.pending.length > 0) this.stats.truncated++;
    this.pending = Buffer.alloc(0);
  }

  /** Bytes held back waiting for the rest of a frame. */
  get pendingBytes(): number {
    return this.pending.length;
  }
}
