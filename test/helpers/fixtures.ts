// The telegram corpus in test/fixtures/telegrams, with its manifest typed for table-driven tests.
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const telegramsDir = join(repoRoot, 'test/fixtures/telegrams');

interface EntryBase {
  /** Path relative to test/fixtures/telegrams. */
  file: string;
  bytes: number;
  /** First 16 hex digits of the file's SHA-256. */
  sha256: string;
  /** repo@commit:path it was taken from. */
  source: string;
  transform: string;
  notes: string;
}

interface MeterInfo {
  /** Number of complete telegrams in the file. */
  telegrams: number;
  /** First line of the (first) telegram as text; escape artefacts show as `\\2`. */
  header: string;
  make: string;
  version: string;
  country: string;
}

/** A file holding one telegram (possibly broken: wrong CRC, truncated, garbage around it). */
export interface TelegramEntry extends EntryBase, MeterInfo {
  kind: 'telegram';
  has_crc: boolean;
  /** null when the telegram has no CRC (DSMR 2.2/3.0, truncated, ...). */
  crc_valid: boolean | null;
  /** The hex digits after `!`, as written. */
  crc_given: string | null;
  /** CRC16/ARC over `/` .. `!` as 4 upper-case hex digits; null when there is no `!`. */
  crc_calc: string | null;
  complete: boolean;
  ends_crlf: boolean;
  /** Non-printable bytes inside the telegram, e.g. ['0xAB']. */
  nonprint: string[];
}

/** A file holding a byte stream with several telegrams, as a serial port would deliver them. */
export interface StreamEntry extends EntryBase, MeterInfo {
  kind: 'stream';
  crc_valid_count: number;
  crc_invalid_count: number;
  no_crc_count: number;
}

/** An encrypted (Luxembourg/Sagemcom DLMS-framed AES-GCM) frame; see ENCRYPTION.md and `notes` for the key. */
export interface EncryptedEntry extends EntryBase {
  kind: 'encrypted';
}

export type Entry = TelegramEntry | StreamEntry | EncryptedEntry;

export function fixture(relPath: string): Buffer {
  return readFileSync(join(telegramsDir, relPath));
}

let cached: Entry[] | undefined;

export function manifest(): Entry[] {
  cached ??= JSON.parse(readFileSync(join(telegramsDir, 'manifest.json'), 'utf8')) as Entry[];
  return cached;
}

export function telegramEntries(): TelegramEntry[] {
  return manifest().filter((entry): entry is TelegramEntry => entry.kind === 'telegram');
}

export function streamEntries(): StreamEntry[] {
  return manifest().filter((entry): entry is StreamEntry => entry.kind === 'stream');
}
