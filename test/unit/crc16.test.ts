import { describe, expect, it } from 'vitest';
import { crc16 } from '../../src/transforms/crc16.ts';

/** CRC16/ARC a bit at a time, as the DSMR standard describes it. */
function reference(bytes: Uint8Array, start: number, end: number): number {
  let crc = 0;
  for (let i = start; i < end; i++) {
    crc ^= bytes[i];
    for (let k = 0; k < 8; k++) crc = crc & 1 ? (crc >>> 1) ^ 0xa001 : crc >>> 1;
  }
  return crc;
}

describe('crc16', () => {
  it('gives the CRC16/ARC check value', () => {
    expect(crc16(Buffer.from('123456789'))).toBe(0xbb3d);
  });
  it('agrees with the bitwise definition for every length and offset up to 40 bytes', () => {
    const bytes = Uint8Array.from({ length: 64 }, (_, i) => (i * 167 + 13) & 0xff);
    for (let start = 0; start < 8; start++) for (let end = start; end <= start + 40; end++) expect(crc16(bytes, start, end)).toBe(reference(bytes, start, end));
  });
});
