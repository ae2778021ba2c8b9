// Reads a server's spool directory the way a person with a hex editor would, independently of src/buffers/spool/ (only its CRC-32 is shared):
// which telegrams are on disk and not yet acknowledged. Tests use it to know what a killed datalogger had made
// durable, and to damage segment files on purpose.
//
// Layout (see src/buffers/spool/): `<dir>/NNNNNNNNNN.seg` files of records, either format 2: magic FE 53 50 32 |
// length u32 LE | crc32 u32 LE over bytes 4..8, 12..20 and the payload | read time u48 LE | 2 zero bytes | payload,
// or format 1 (the previous release): magic FE 53 50 4C | length | crc32 over the length bytes and the payload |
// payload; `<dir>/cursor`: two 32-byte slots, the valid one with the higher generation says "everything before
// (segment, offset) is delivered"; `<dir>/FORMAT`: "dsmr-datalogger spool format 2".
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { crc32 } from '../../src/buffers/spool/record.ts';

const MAGIC_PREFIX = Buffer.from([0xfe, 0x53, 0x50]);
/** Header size by the magic's last byte: 'L' format 1, '2' format 2. */
const HEADERS: Record<number, number> = { 0x4c: 12, 0x32: 20 };
const SEGMENT_NAME = /^(\d{10,})\.seg$/;

export interface SpoolSegmentFile {
  id: number;
  path: string;
  size: number;
}

export interface SpoolContents {
  /** Intact, unacknowledged telegrams, oldest first. */
  pending: Buffer[];
  /** Damaged byte ranges found (torn tails, garbage). */
  damaged: { path: string; start: number; end: number }[];
  segments: SpoolSegmentFile[];
  cursor: { segment: number; offset: number } | undefined;
}

/** The one directory per server under <dataDir>/spool; undefined while none exists. */
export function spoolDirs(dataDir: string): string[] {
  const root = join(dataDir, 'spool');
  if (!existsSync(root)) return [];
  return readdirSync(root)
    .map((name) => join(root, name))
    .filter((path) => statSync(path).isDirectory());
}

export function segmentFiles(dir: string): SpoolSegmentFile[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .map((name) => ({ name, match: SEGMENT_NAME.exec(name) }))
    .filter((entry) => entry.match !== null)
    .map(({ name, match }) => ({ id: Number(match![1]), path: join(dir, name), size: statSync(join(dir, name)).size }))
    .sort((a, b) => a.id - b.id);
}

/** Every .seg file under <dataDir>/spool, all servers. */
export function allSegmentFiles(dataDir: string): SpoolSegmentFile[] {
  return spoolDirs(dataDir).flatMap((dir) => segmentFiles(dir));
}

export function readSpoolCursor(dir: string): { segment: number; offset: number } | undefined {
  const path = join(dir, 'cursor');
  if (!existsSync(path)) return undefined;
  const bytes = readFileSync(path);
  let best: { generation: number; segment: number; offset: number } | undefined;
  for (const at of [0, 32]) {
    if (bytes.length < at + 32) continue;
    if (bytes.readUInt32LE(at) !== 0x31525543) continue;
    if (bytes.readUInt32LE(at + 28) !== crc32(bytes, at, at + 28)) continue;
    const slot = { generation: bytes.readUIntLE(at + 4, 6), segment: bytes.readUIntLE(at + 10, 6), offset: bytes.readUIntLE(at + 16, 6) };
    if (!best || slot.generation > best.generation) best = slot;
  }
  return best && { segment: best.segment, offset: best.offset };
}

/** Records of one segment file: intact ones with their offsets, and the damaged ranges between them. */
export function parseSegment(bytes: Buffer): {
  records: { start: number; end: number; payload: Buffer; readAt: number | undefined }[];
  damaged: { start: number; end: number }[];
} {
  const records: { start: number; end: number; payload: Buffer; readAt: number | undefined }[] = [];
  const damaged: { start: number; end: number }[] = [];
  // Header size of the intact record at `at`, or -1.
  const intactAt = (at: number): number => {
    if (at + 12 > bytes.length || !bytes.subarray(at, at + 3).equals(MAGIC_PREFIX)) return -1;
    const header = HEADERS[bytes[at + 3]];
    if (header === undefined || at + header > bytes.length) return -1;
    const length = bytes.readUInt32LE(at + 4);
    if (at + header + length > bytes.length) return -1;
    const crc = crc32(bytes, at + header, at + header + length, crc32(bytes, at + 12, at + header, crc32(bytes, at + 4, at + 8)));
    return crc === bytes.readUInt32LE(at + 8) ? header : -1;
  };
  let at = 0;
  while (at < bytes.length) {
    const header = intactAt(at);
    if (header >= 0) {
      const end = at + header + bytes.readUInt32LE(at + 4);
      const readAt = header === 20 ? bytes.readUIntLE(at + 12, 6) : undefined;
      records.push({ start: at, end, payload: Buffer.from(bytes.subarray(at + header, end)), readAt });
      at = end;
      continue;
    }
    let next = bytes.indexOf(MAGIC_PREFIX, at + 1);
    while (next >= 0 && intactAt(next) < 0) next = bytes.indexOf(MAGIC_PREFIX, next + 1);
    const end = next < 0 ? bytes.length : next;
    damaged.push({ start: at, end });
    at = end;
  }
  return { records, damaged };
}

/** What a restart would replay from this spool directory, read straight from the files. */
export function inspectSpool(dir: string): SpoolContents {
  const segments = segmentFiles(dir);
  const cursor = readSpoolCursor(dir);
  const pending: Buffer[] = [];
  const damaged: SpoolContents['damaged'] = [];
  for (const segment of segments) {
    if (cursor && segment.id < cursor.segment) continue;
    const parsed = parseSegment(readFileSync(segment.path));
    const from = cursor && segment.id === cursor.segment ? cursor.offset : 0;
    for (const record of parsed.records) if (record.start >= from) pending.push(record.payload);
    for (const range of parsed.damaged) damaged.push({ path: segment.path, ...range });
  }
  return { pending, damaged, segments, cursor };
}
