// The spool's record format and its own CRC-32 (node:zlib's crc32 is missing on Node 18, which the bundle supports).
import * as zlib from 'node:zlib';
import { describe, expect, it } from 'vitest';
import {
  MAX_RECORD_PAYLOAD_BYTES,
  RECORD_HEADER_BYTES,
  announcedLength,
  crc32,
  encodeRecord,
  recordIntact,
} from '../../src/buffers/spool-record.ts';

describe('crc32', () => {
  it('matches the CRC-32/ISO-HDLC check value', () => {
    expect(crc32(Buffer.from('123456789'))).toBe(0xcbf43926);
    expect(crc32(Buffer.alloc(0))).toBe(0);
  });

  it('agrees with zlib on random data, also when continued over pieces', () => {
    const zlibCrc32 = (zlib as unknown as { crc32?: (data: Uint8Array, value?: number) => number }).crc32;
    let seed = 7;
    for (let length = 0; length < 3000; length += 97) {
      const data = Buffer.alloc(length);
      for (let i = 0; i < length; i++) data[i] = (seed = (seed * 1103515245 + 12345) % 2147483648) >>> 16;
      const whole = crc32(data);
      const split = Math.floor(length / 3);
      expect(crc32(data, split, length, crc32(data, 0, split))).toBe(whole);
      if (zlibCrc32) expect(whole).toBe(zlibCrc32(data));
    }
  });
});

describe('spool record', () => {
  it('is magic, length, CRC over length and payload, then the payload', () => {
    const payload = Buffer.from('/ISK5\\2M550T-1012\r\n\r\n!ABCD\r\n');
    const record = encodeRecord(payload);
    expect(record.length).toBe(RECORD_HEADER_BYTES + payload.length);
    expect([...record.subarray(0, 4)]).toEqual([0xfe, 0x53, 0x50, 0x4c]);
    expect(record.readUInt32LE(4)).toBe(payload.length);
    expect(record.readUInt32LE(8)).toBe(crc32(Buffer.concat([record.subarray(4, 8), payload])));
    expect(record.subarray(RECORD_HEADER_BYTES)).toEqual(payload);
    expect(announcedLength(record, 0)).toBe(payload.length);
    expect(recordIntact(record, 0, payload.length)).toBe(true);
  });

  it('notices any single damaged byte', () => {
    const record = encodeRecord(Buffer.from('1-0:1.8.1(000123.456*kWh)\r\n'));
    for (let at = 0; at < record.length; at++) {
      const damaged = Buffer.from(record);
      damaged[at] ^= 0x01;
      const length = announcedLength(damaged, 0);
      const intact = length >= 0 && length === record.length - RECORD_HEADER_BYTES && recordIntact(damaged, 0, length);
      expect(intact, `byte ${at}`).toBe(false);
    }
  });

  it('refuses payloads larger than any telegram', () => {
    expect(() => encodeRecord(Buffer.alloc(MAX_RECORD_PAYLOAD_BYTES + 1))).toThrow(RangeError);
  });
});
