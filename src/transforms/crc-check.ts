import { crc16 } from './crc16.ts';

// DSMR 4 and later append a CRC16 over the bytes from '/' through '!'; DSMR 2.2/3 meters send none.
export type CrcResult =
  | { status: 'valid'; crc: number }
  | { status: 'absent' }
  | { status: 'invalid'; given: number; computed: number };

const BANG = 0x21;

export function checkCrc(telegram: Uint8Array): CrcResult {
  const bang = telegram.indexOf(BANG);
  if (bang < 0) return { status: 'absent' };
  let given = 0;
  let digits = 0;
  for (let i = bang + 1; i < telegram.length && digits < 4; i++, digits++) {
    const value = hexValue(telegram[i]);
    if (value < 0) break;
    given = (given << 4) | value;
  }
  if (digits === 0) return { status: 'absent' };
  // Some meters drop leading zeros ("!B9F"), so compare numbers, not text.
  const computed = crc16(telegram, 0, bang + 1);
  return computed === given ? { status: 'valid', crc: given } : { status: 'invalid', given, computed };
}

function hexValue(b: number): number {
  if (b >= 0x30 && b <= 0x39) return b - 0x30;
  if (b >= 0x41 && b <= 0x46) return b - 0x41 + 10;
  if (b >= 0x61 && b <= 0x66) return b - 0x61 + 10;
  return -1;
}

export function formatCrc(value: number): string {
  return value.toString(16).toUpperCase().padStart(4, '0');
}
