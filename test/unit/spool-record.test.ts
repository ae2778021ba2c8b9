// The spool's record formats and its own CRC-32 (node:zlib's crc32 is missing on Node 18, which the bundle supports).
import * as zlib from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { MAX_RECORD_PAYLOAD_BYTES, RECORD_HEADER_BYTES, V1_HEADER_BYTES, crc32, encodeRecord, probeRecord, zlibCrc32 } from '../../src/buffers/spool/record.ts';

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

  it('records are checked with node:zlib where the runtime has it (this Node does), in the same format', () => {
    expect(zlibCrc32()).not.toBeNull();
    const payload = Buffer.from('/ISK5\\2M550T-1012\r\n\r\n1-3:0.2.8(50)\r\n!ABCD\r\n');
    const record = encodeRecord(payload, 1_700_000_000_000);
    const header = Buffer.from(record.subarray(0, RECORD_HEADER_BYTES));
    header.writeUInt32LE(0, 8);
    const byLoop = crc32(payload, 0, payload.length, crc32(header, 12, RECORD_HEADER_BYTES, crc32(header, 4, 8)));
    expect(record.readUInt32LE(8)).toBe(byLoop);
  });
});

/** A record as the previous release wrote it (format 1), built here from its description, not from our encoder. */
function formatOneRecord(payload: Buffer): Buffer {
  const header = Buffer.alloc(V1_HEADER_BYTES);
  Buffer.from([0xfe, 0x53, 0x50, 0x4c]).copy(header);
  header.writeUInt32LE(payload.length, 4);
  header.writeUInt32LE(crc32(payload, 0, payload.length, crc32(header, 4, 8)), 8);
  return Buffer.concat([header, payload]);
}

describe('spool record', () => {
  const payload = Buffer.from('/ISK5\\2M550T-1012\r\n\r\n!ABCD\r\n');
  const readAt = Date.UTC(2024, 5, 1, 12, 0, 0, 123);

  it('is magic, length, CRC, read time, then the payload (format 2)', () => {
    const record = encodeRecord(payload, readAt);
    expect(record.length).toBe(RECORD_HEADER_BYTES + payload.length);
    expect([...record.subarray(0, 4)]).toEqual([0xfe, 0x53, 0x50, 0x32]);
    expect(record.readUInt32LE(4)).toBe(payload.length);
    expect(record.readUIntLE(12, 6)).toBe(readAt);
    expect(record.readUInt32LE(8)).toBe(crc32(Buffer.concat([record.subarray(4, 8), record.subarray(12, 20), payload])));
    expect(record.subarray(RECORD_HEADER_BYTES)).toEqual(payload);
    expect(probeRecord(record, 0, record.length)).toEqual({ kind: 'record', headerBytes: RECORD_HEADER_BYTES, bytes: record.length, readAt });
  });

  it('reads a record of the previous release (format 1), without a read time', () => {
    const record = formatOneRecord(payload);
    expect(probeRecord(record, 0, record.length)).toEqual({ kind: 'record', headerBytes: V1_HEADER_BYTES, bytes: record.length, readAt: undefined });
  });

  it('tells a record cut by the end of the buffer from damage', () => {
    const record = encodeRecord(payload, readAt);
    expect(probeRecord(record, 0, 2)).toMatchObject({ kind: 'short' });
    expect(probeRecord(record, 0, 10)).toMatchObject({ kind: 'short' });
    expect(probeRecord(record, 0, record.length - 1)).toEqual({ kind: 'short', bytes: record.length });
    expect(probeRecord(Buffer.from('garbage!garbage!garbage!'), 0, 24)).toEqual({ kind: 'bad' });
  });

  it('notices any single damaged byte, in either format', () => {
    for (const record of [encodeRecord(Buffer.from('1-0:1.8.1(000123.456*kWh)\r\n'), readAt), formatOneRecord(Buffer.from('1-0:1.8.1(000123.456*kWh)\r\n'))]) {
      for (let at = 0; at < record.length; at++) {
        const damaged = Buffer.from(record);
        damaged[at] ^= 0x01;
        const probe = probeRecord(damaged, 0, damaged.length);
        expect(probe.kind === 'record' && probe.bytes === record.length, `byte ${at}`).toBe(false);
      }
    }
  });

  it('refuses payloads larger than any telegram', () => {
    expect(() => encodeRecord(Buffer.alloc(MAX_RECORD_PAYLOAD_BYTES + 1), readAt)).toThrow(RangeError);
  });
});
