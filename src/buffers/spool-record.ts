// On-disk record format of the spool: a fixed header, then the telegram bytes.
//
//   offset 0  magic   4 bytes  FE 53 50 4C  ("\xFESPL"; 0xFE never occurs in an ASCII telegram, so a resync
//                              after corruption rarely stops on a false start)
//   offset 4  length  u32 LE   payload length in bytes
//   offset 8  crc32   u32 LE   CRC-32 (IEEE) over the 4 length bytes and the payload, so a corrupted length is
//                              caught as surely as a corrupted payload
//   offset 12 payload
//
// Own CRC-32 because node:zlib's crc32 only exists from Node 20.15/22 and the bundle must run on Node 18 and Deno.

export const RECORD_MAGIC = Buffer.from([0xfe, 0x53, 0x50, 0x4c]);
export const RECORD_HEADER_BYTES = 12;
// Telegrams are a few kB at most; anything larger in a header is corruption, not data.
export const MAX_RECORD_PAYLOAD_BYTES = 256 * 1024;

const CRC32_TABLE = (() => {
  const table = new Int32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0xedb88320 : c >>> 1;
    table[n] = c;
  }
  return table;
})();

/** CRC-32 (IEEE 802.3, as zlib/PNG), optionally continuing from a previous value. */
export function crc32(bytes: Uint8Array, start = 0, end = bytes.length, previous = 0): number {
  let crc = ~previous;
  for (let i = start; i < end; i++) crc = (crc >>> 8) ^ CRC32_TABLE[(crc ^ bytes[i]) & 0xff];
  return ~crc >>> 0;
}

/** Header and payload in one buffer, ready for write(2). */
export function encodeRecord(payload: Uint8Array): Buffer {
  if (payload.length > MAX_RECORD_PAYLOAD_BYTES) {
    throw new RangeError(`spool record of ${payload.length} bytes exceeds ${MAX_RECORD_PAYLOAD_BYTES}`);
  }
  const record = Buffer.allocUnsafe(RECORD_HEADER_BYTES + payload.length);
  RECORD_MAGIC.copy(record, 0);
  record.writeUInt32LE(payload.length, 4);
  record.set(payload, RECORD_HEADER_BYTES);
  record.writeUInt32LE(recordCrc(record, 0, payload.length), 8);
  return record;
}

// CRC over the length field followed by the payload, computed in one pass without copying.
function recordCrc(buf: Uint8Array, at: number, length: number): number {
  const afterLength = crc32(buf, at + 4, at + 8);
  return crc32(buf, at + RECORD_HEADER_BYTES, at + RECORD_HEADER_BYTES + length, afterLength);
}

export function hasMagicAt(buf: Uint8Array, at: number): boolean {
  return (
    buf[at] === RECORD_MAGIC[0] && buf[at + 1] === RECORD_MAGIC[1] && buf[at + 2] === RECORD_MAGIC[2] && buf[at + 3] === RECORD_MAGIC[3]
  );
}

/** Payload length announced by the header at `at`, or -1 when the header cannot start a record. */
export function announcedLength(buf: Buffer, at: number): number {
  if (!hasMagicAt(buf, at)) return -1;
  const length = buf.readUInt32LE(at + 4);
  return length <= MAX_RECORD_PAYLOAD_BYTES ? length : -1;
}

/** True when the complete record (header and `length` payload bytes) at `at` carries a matching CRC. */
export function recordIntact(buf: Buffer, at: number, length: number): boolean {
  return buf.readUInt32LE(at + 8) === recordCrc(buf, at, length);
}
