// The acknowledged position of a spool: every record in a segment with a lower id, and every record before
// `offset` in segment `segment`, has been delivered.
//
// Stored in place, in two 32-byte slots written alternately, each with a generation number and a CRC: a write
// torn by a crash damages at most the slot being written and the other one still holds the previous position.
// In-place writes (no write+rename) create no new inode per update and ride along with the spool's batched fsync.
import * as fs from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { crc32 } from './spool-record.ts';

export interface CursorPosition {
  segment: number;
  offset: number;
}

const SLOT_BYTES = 32;
const CURSOR_MAGIC = 0x31525543; // "CUR1" little-endian
// Layout of a slot: magic u32 | generation u48 | segment u48 | offset u48 | 6 spare bytes | crc32 u32 over bytes 0..27.
const CRC_AT = SLOT_BYTES - 4;

function encodeSlot(generation: number, position: CursorPosition): Buffer {
  const slot = Buffer.alloc(SLOT_BYTES);
  slot.writeUInt32LE(CURSOR_MAGIC, 0);
  slot.writeUIntLE(generation, 4, 6);
  slot.writeUIntLE(position.segment, 10, 6);
  slot.writeUIntLE(position.offset, 16, 6);
  slot.writeUInt32LE(crc32(slot, 0, CRC_AT), CRC_AT);
  return slot;
}

function decodeSlot(bytes: Buffer, at: number): { generation: number; position: CursorPosition } | undefined {
  if (bytes.length < at + SLOT_BYTES) return undefined;
  if (bytes.readUInt32LE(at) !== CURSOR_MAGIC) return undefined;
  if (bytes.readUInt32LE(at + CRC_AT) !== crc32(bytes, at, at + CRC_AT)) return undefined;
  return {
    generation: bytes.readUIntLE(at + 4, 6),
    position: { segment: bytes.readUIntLE(at + 10, 6), offset: bytes.readUIntLE(at + 16, 6) },
  };
}

export type CursorReading = { state: 'absent' } | { state: 'invalid' } | { state: 'valid'; position: CursorPosition; generation: number };

export async function readCursor(path: string): Promise<CursorReading> {
  let bytes: Buffer;
  try {
    bytes = await fs.readFile(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { state: 'absent' };
    throw error;
  }
  const slots = [decodeSlot(bytes, 0), decodeSlot(bytes, SLOT_BYTES)].filter((s) => s !== undefined);
  if (slots.length === 0) return { state: 'invalid' };
  const newest = slots.reduce((a, b) => (b.generation > a.generation ? b : a));
  return { state: 'valid', position: newest.position, generation: newest.generation };
}

export class CursorFile {
  private file: FileHandle | undefined;
  private unsynced = false;

  constructor(
    private readonly path: string,
    private generation: number,
  ) {}

  async write(position: CursorPosition): Promise<void> {
    if (!this.file) this.file = await openForUpdate(this.path);
    this.generation += 1;
    const slot = encodeSlot(this.generation, position);
    const { bytesWritten } = await this.file.write(slot, 0, SLOT_BYTES, (this.generation % 2) * SLOT_BYTES);
    if (bytesWritten !== SLOT_BYTES) throw new Error(`short write of the spool cursor (${bytesWritten} of ${SLOT_BYTES} bytes)`);
    this.unsynced = true;
  }

  async sync(): Promise<void> {
    if (!this.file || !this.unsynced) return;
    this.unsynced = false;
    await this.file.sync();
  }

  async close(): Promise<void> {
    const file = this.file;
    this.file = undefined;
    await file?.close();
  }
}

async function openForUpdate(path: string): Promise<FileHandle> {
  try {
    return await fs.open(path, 'r+');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    return fs.open(path, 'w+');
  }
}
