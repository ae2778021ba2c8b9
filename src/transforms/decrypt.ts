// Decrypts the AES-128-GCM frames of Luxembourg Smarty / Sagemcom T210-D meters back into the plain DSMR telegram
// the meter encrypted (test/fixtures/telegrams/ENCRYPTION.md):
//   IV  = system title (8) || frame counter (4)
//   AAD = security control byte (0x30) || authentication key (AK); Luxmetering publishes one fixed AK for all meters.
// A wrong key fails the GCM tag check on every frame; it surfaces as one DecryptionError type so the caller can log
// it once when the state changes instead of once per second.

import { Buffer } from 'node:buffer';
import { nodeCrypto } from '../core/lazy-crypto.ts';
import { EncryptedFramer, parseEncryptedFrame, type EncryptedFrame } from './encrypted-framer.ts';

export type { EncryptedFrame } from './encrypted-framer.ts';

/** The public authentication key of the Luxembourg P1 specification ("AAD = 30h || 00112233445566778899AABBCCDDEEFFh"). */
export const LUXEMBOURG_AUTHENTICATION_KEY = Buffer.from('00112233445566778899AABBCCDDEEFF', 'hex');
const SECURITY_AUTHENTICATED_ENCRYPTED = 0x30;
const TAG_LENGTH = 12;

export type DecryptionFailure =
  /** The GCM tag did not verify: wrong key, wrong AAD/authentication key, or a damaged frame. */
  | 'authentication'
  /** Not a frame this decoder can read (other security mode, wrong size). */
  | 'unsupported';

export class DecryptionError extends Error {
  override readonly name = 'DecryptionError';
  constructor(
    readonly reason: DecryptionFailure,
    message: string,
  ) {
    super(message);
  }
}

/**
 * How the AAD is formed:
 * - undefined: security control byte || the Luxembourg public AK (what Smarty meters use);
 * - { authenticationKey }: security control byte || that AK;
 * - { aad }: exactly these bytes;
 * - null: no AAD at all (some test generators and meters without authentication key).
 */
export type AadSetting = { authenticationKey: Uint8Array } | { aad: Uint8Array } | null | undefined;

export interface DecryptedFrame {
  plaintext: Buffer;
  systemTitle: Buffer;
  frameCounter: number;
}

/** Decrypts one whole frame (as cut by EncryptedFramer). Throws DecryptionError, never anything else. */
export function decryptFrame(frameBytes: Uint8Array, key: Uint8Array, aadSetting?: AadSetting): DecryptedFrame {
  if (key.length !== 16) throw new DecryptionError('unsupported', `the decryption key must be 16 bytes (32 hex digits), got ${key.length}`);
  const frame = parseEncryptedFrame(frameBytes);
  if (!frame) throw new DecryptionError('unsupported', `not a complete 0xDB encrypted frame (${frameBytes.length} bytes)`);
  if (frame.securityControl !== SECURITY_AUTHENTICATED_ENCRYPTED) {
    throw new DecryptionError(
      'unsupported',
      `security control byte 0x${hex2(frame.securityControl)} is not supported (only 0x30: authenticated and encrypted)`,
    );
  }
  const iv = Buffer.alloc(12);
  frame.systemTitle.copy(iv, 0);
  iv.writeUInt32BE(frame.frameCounter, 8);
  const aad = buildAad(frame, aadSetting);
  try {
    const decipher = nodeCrypto().createDecipheriv('aes-128-gcm', key, iv, { authTagLength: TAG_LENGTH });
    if (aad) decipher.setAAD(aad);
    decipher.setAuthTag(frame.tag);
    const plaintext = Buffer.concat([decipher.update(frame.ciphertext), decipher.final()]);
    return { plaintext, systemTitle: Buffer.from(frame.systemTitle), frameCounter: frame.frameCounter };
  } catch {
    throw new DecryptionError(
      'authentication',
      'decryption failed: the GCM tag does not verify, so the decryption key (or the authentication key/AAD) does not match this meter',
    );
  }
}

function buildAad(frame: EncryptedFrame, setting: AadSetting): Buffer | null {
  if (setting === null) return null;
  if (setting === undefined) return Buffer.concat([Buffer.of(frame.securityControl), LUXEMBOURG_AUTHENTICATION_KEY]);
  if ('aad' in setting) return Buffer.from(setting.aad);
  return Buffer.concat([Buffer.of(frame.securityControl), setting.authenticationKey]);
}

/** Parses a 16-byte key written as 32 hex digits (spaces and a "0x" prefix tolerated); null when it is not one. */
export function parseHexKey(text: string): Buffer | null {
  const digits = text.trim().replace(/^0x/i, '').replace(/[\s:-]/g, '');
  return /^[0-9A-Fa-f]{32}$/.test(digits) ? Buffer.from(digits, 'hex') : null;
}

/**
 * Parses an AAD setting: "" → the Luxembourg default, "none" → no AAD, 32 hex digits → an authentication key,
 * 34 hex digits → the full AAD (as smarty_dsmr_proxy's --aad takes it). Returns an Error message string when invalid.
 */
export function parseAadSetting(text: string | undefined): AadSetting | string {
  const value = (text ?? '').trim();
  if (value === '') return undefined;
  if (value.toLowerCase() === 'none') return null;
  const digits = value.replace(/^0x/i, '').replace(/[\s:-]/g, '');
  if (/^[0-9A-Fa-f]{32}$/.test(digits)) return { authenticationKey: Buffer.from(digits, 'hex') };
  if (/^[0-9A-Fa-f]{34}$/.test(digits)) return { aad: Buffer.from(digits, 'hex') };
  return 'expected "none", an authentication key of 32 hex digits, or a full AAD of 34 hex digits';
}

export type DecryptOutcome = { ok: true; frame: DecryptedFrame } | { ok: false; error: DecryptionError };

/** decryptFrame, with the failure as a value. */
export function tryDecryptFrame(frameBytes: Uint8Array, key: Uint8Array, aadSetting?: AadSetting): DecryptOutcome {
  try {
    return { ok: true, frame: decryptFrame(frameBytes, key, aadSetting) };
  } catch (error) {
    return { ok: false, error: error instanceof DecryptionError ? error : new DecryptionError('unsupported', String(error)) };
  }
}

/** Framing and decryption together, for a source that delivers encrypted bytes: push bytes, get telegrams or errors. */
export class FrameDecryptor {
  readonly framer: EncryptedFramer;

  constructor(
    private readonly key: Uint8Array,
    private readonly aad?: AadSetting,
    maxFrameBytes?: number,
  ) {
    this.framer = new EncryptedFramer(maxFrameBytes);
  }

  push(chunk: Uint8Array): DecryptOutcome[] {
    return this.framer.push(chunk).map((bytes) => tryDecryptFrame(bytes, this.key, this.aad));
  }

  discontinuity(): void {
    this.framer.discontinuity();
  }
}

function hex2(n: number): string {
  return n.toString(16).toUpperCase().padStart(2, '0');
}
