// On-disk record formats of the spool: a fixed header, then the telegram bytes. Two generations, told apart by the
// last magic byte, so a directory written by the previous release (version 1) is read as it is, mixed with newer
// segments, and a resync after corruption finds either.
//
// Version 2, written now (20-byte header):
//   offset 0  magic   4 bytes  FE 53 50 32  ("\xFESP2")
//   offset 4  length  u32 LE   payload length in bytes
//   offset 8  crc32   u32 LE   CRC-32 (IEEE) over bytes 4..8, 12..20 and the payload: a corrupted length or read
//                              time is caught as surely as a corrupted payload
//   offset 12 readAt  u48 LE   epoch ms at which the telegram was read (for the age of the oldest waiting one)
//   offset 18 spare   2 bytes  zero
//   offset 20 payload
//
// Version 1, read only (12-byte header): magic FE 53 50 4C ("\xFESPL") | length u32 LE | crc32 u32 LE over the
// length bytes and the payload | payload. It carries no read time.
//
// 0xFE never occurs in an ASCII telegram, so a resync after corruption rarely stops on a false start.
// Records are checked with node:zlib's crc32 where it exists (Node 20.15/22 on), about ten times the speed of the
// table loop below without the optimizing JIT, and loaded at the first record, not at start; the loop is for Node 18
// and Deno, and for the cursor's 28-byte slots, which are read at every start.

export const RECORD_MAGIC_PREFIX = Buffer.from([0xfe, 0x53, 0x50]);
const MAGIC_V1 = 0x4c;
const MAGIC_V2 = 0x32;
export const RECORD_HEADER_BYTES = 20;
export const V1_HEADER_BYTES = 12;
const LONGEST_HEADER = RECORD_HEADER_BYTES;
// Telegrams are a few kB at most; anything larger in a header is corruption, not data.
export const MAX_RECORD_PAYLOAD_BYTES = 256 * 1024;
export const MAX_RECORD_BYTES = LONGEST_HEADER + MAX_RECORD_PAYLOAD_BYTES;

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

/** Header and payload in one buffer, ready for write(2), in the current format. */
export function encodeRecord(payload: Uint8Array, readAt: number): Buffer {
  if (payload.length > MAX_RECORD_PAYLOAD_BYTES) {
    throw new RangeError(`spool record of ${payload.length} bytes exceeds ${MAX_RECORD_PAYLOAD_BYTES}`);
  }
  const record = Buffer.allocUnsafe(RECORD_HEADER_BYTES + payload.length);
  RECORD_MAGIC_PREFIX.copy(record, 0);
  record[3] = MAGIC_V2;
  record.writeUInt32LE(payload.length, 4);
  record.writeUIntLE(Math.max(0, Math.min(Math.round(readAt), 2 ** 48 - 1)), 12, 6);
  record.writeUInt16LE(0, 18);
  record.set(payload, RECORD_HEADER_BYTES);
  record.writeUInt32LE(recordCrc(record, 0, RECORD_HEADER_BYTES, payload.length), 8);
  return record;
}

type Crc32 = (data: Uint8Array, value?: number) => number;
let nativeCrc32: Crc32 | null | undefined;

/** node:zlib's crc32, or null where this runtime has none. */
export function zlibCrc32(): Crc32 | null {
  if (nativeCrc32 === undefined) {
    const load = (process as { getBuiltinModule?: (id: string) => unknown }).getBuiltinModule;
    const zlib = load?.('node:zlib') as { crc32?: Crc32 } | undefined;
    nativeCrc32 = typeof zlib?.crc32 === 'function' ? zlib.crc32 : null;
  }
  return nativeCrc32;
}

let rangeCrc: typeof crc32 | undefined;

/** crc32() over bytes[start..end), by node:zlib where there is one. */
function crcOfRange(): typeof crc32 {
  if (!rangeCrc) {
    const native = zlibCrc32();
    rangeCrc = native ? (bytes, start, end, previous) => native(bytes.subarray(start, end), previous) : crc32;
  }
  return rangeCrc;
}

// CRC over the length field, the rest of the header and the payload, in one pass without copying.
function recordCrc(buf: Uint8Array, at: number, headerBytes: number, length: number): number {
  const over = crcOfRange();
  let crc = over(buf, at + 4, at + 8);
  if (headerBytes > 12) crc = over(buf, at + 12, at + headerBytes, crc);
  return over(buf, at + headerBytes, at + headerBytes + length, crc);
}

/** Header size of the record format whose magic starts at `at`, or -1 when no record can start there. */
export function headerBytesAt(buf: Uint8Array, at: number): number {
  if (buf[at] !== 0xfe || buf[at + 1] !== 0x53 || buf[at + 2] !== 0x50) return -1;
  if (buf[at + 3] === MAGIC_V2) return RECORD_HEADER_BYTES;
  if (buf[at + 3] === MAGIC_V1) return V1_HEADER_BYTES;
  return -1;
}

export type Probe =
  /** An intact record: its header size, total size and (version 2) read time. */
  | { kind: 'record'; headerBytes: number; bytes: number; readAt: number | undefined }
  /** Looks like the start of a record of `bytes` in all, but the buffer holds less of it: read more to decide. */
  | { kind: 'short'; bytes: number }
  | { kind: 'bad' };

const SHORT_HEADER: Probe = { kind: 'short', bytes: LONGEST_HEADER };
const BAD: Probe = { kind: 'bad' };

/** What the bytes buf[at..available) hold at `at`. Never trusts a header alone: a record counts only when its CRC matches. */
export function probeRecord(buf: Buffer, at: number, available: number): Probe {
  if (available - at < 4) return at + 4 > available && isMagicPrefix(buf, at, available) ? SHORT_HEADER : BAD;
  const headerBytes = headerBytesAt(buf, at);
  if (headerBytes < 0) return BAD;
  if (available - at < headerBytes) return SHORT_HEADER;
  const length = buf.readUInt32LE(at + 4);
  if (length > MAX_RECORD_PAYLOAD_BYTES) return BAD;
  const bytes = headerBytes + length;
  if (available - at < bytes) return { kind: 'short', bytes };
  if (buf.readUInt32LE(at + 8) !== recordCrc(buf, at, headerBytes, length)) return BAD;
  return { kind: 'record', headerBytes, bytes, readAt: headerBytes === RECORD_HEADER_BYTES ? buf.readUIntLE(at + 12, 6) : undefined };
}

// The last bytes of a buffer may be the beginning of a magic number cut by the buffer's end.
function isMagicPrefix(buf: Uint8Array, at: number, available: number): boolean {
  for (let i = at; i < available; i++) if (buf[i] !== RECORD_MAGIC_PREFIX[i - at]) return false;
  return true;
}
