import { crc16 } from './crc16.ts';
import { BANG, isHexDigit } from './p1-bytes.ts';

// DSMR 4 and later append a CRC16 over the bytes from '/' through '!'; DSMR 2.2/3 meters send none.
export type CrcResult =
  | { status: 'valid'; crc: number }
  | { status: 'absent' }
  | { status: 'invalid'; given: number; computed: number };

/** The CRC line of a telegram that starts at its '/': what the meter sent after the '!' and what the bytes give. */
export interface CrcField {
  /** Offset of the '!'. */
  bang: number;
  /** The 1-4 hex digits after the '!' exactly as sent ("B9F", "1e1D"); '' when there are none. */
  digits: string;
  /** CRC16/ARC over '/' through '!'. */
  computed: number;
}

/** null when the telegram has no '!'. */
export function readCrcField(telegram: Uint8Array): CrcField | null {
  const bang = telegram.indexOf(BANG);
  if (bang < 0) return null;
  let end = bang + 1;
  while (end < telegram.length && end - bang <= 4 && isHexDigit(telegram[end])) end++;
  const digits = String.fromCharCode(...telegram.subarray(bang + 1, end));
  return { bang, digits, computed: crc16(telegram, 0, bang + 1) };
}

export function checkCrc(telegram: Uint8Array): CrcResult {
  const field = readCrcField(telegram);
  if (!field || field.digits === '') return { status: 'absent' };
  // Some meters drop leading zeros ("!B9F"), so compare numbers, not text.
  const given = parseInt(field.digits, 16);
  return given === field.computed ? { status: 'valid', crc: given } : { status: 'invalid', given, computed: field.computed };
}

export function formatCrc(value: number): string {
  return value.toString(16).toUpperCase().padStart(4, '0');
}

export function describeBadCrc(crc: { given: number; computed: number }): string {
  return `bad CRC (${formatCrc(crc.given)} given, ${formatCrc(crc.computed)} computed)`;
}
