// The acknowledged position of a spool: every record in a segment with a lower id, and every record before
// `offset` in segment `segment`, has been delivered.
//
// Stored in place, in two 32-byte slots written alternately, each with a generation number and a CRC: a write
// torn by a crash damages at most the slot being written and the other one still holds the previous position.
// In-place writes (no write+rename) create no new inode per update and ride along with the spool's batched fsync.
import type { SpoolFile, SpoolFs } from './fs-port.ts';
import { crc32 } from './record.ts';

export interface CursorPosition {
  segment: number;
  offset: number;
}

export const CURSOR_SLOT_BYTES = 32;
const CURSOR_MAGIC = 0x31525543; // "CUR1" little-endian
// Layout of a slot: magic u32 | generation u48 | segment u48 | offset u48 | 6 spare bytes | crc32 u32 over bytes 0..27.
const CRC_AT = CURSOR_SLOT_BYTES - 4;

function encodeSlot(slot: Buffer, generation: number, position: CursorPosition): Buffer {
  slot.writeUInt32LE(CURSOR_MAGIC, 0);
  slot.writeUIntLE(generation, 4, 6);
  slot.writeUIntLE(position.segment, 10, 6);
  slot.writeUIntLE(position.offset, 16, 6);
  slot.writeUInt32LE(crc32(slot, 0, CRC_AT), CRC_AT);
  return slot;
}

function decodeSlot(bytes: Buffer, at: number): { generation: number; position: CursorPosition } | undefined {
  if (bytes.length < at + CURSOR_SLOT_BYTES) return undefined;
  if (bytes.readUInt32LE(at) !== CURSOR_MAGIC) return undefined;
  if (bytes.readUInt32LE(at + CRC_AT) !== crc32(bytes, at, at + CRC_AT)) return undefined;
  return {
    generation: bytes.readUIntLE(at + 4, 6),
    position: { segment: bytes.readUIntLE(at + 10, 6), offset: bytes.readUIntLE(at + 16, 6) },
  };
}

export type CursorReading = { state: 'absent' } | { state: 'invalid' } | { state: 'valid'; position: CursorPosition; generation: number };

export async function readCursor(fs: SpoolFs, path: string): Promise<CursorReading> {
  const bytes = await fs.readFile(path);
  if (bytes === undefined) return { state: 'absent' };
  const slots = [decodeSlot(bytes, 0), decodeSlot(bytes, CURSOR_SLOT_BYTES)].filter((s) => s !== undefined);
  if (slots.length === 0) return { state: 'invalid' };
  const newest = slots.reduce((a, b) => (b.generation > a.generation ? b : a));
  return { state: 'valid', position: newest.position, generation: newest.generation };
}

export class CursorFile {
  private file: SpoolFile | undefined;
  private unsynced = false;
  /** One slot's bytes, reused: writes go one at a time (the spool's sequence), and a replay makes one per telegram. */
  private readonly slot = Buffer.alloc(CURSOR_SLOT_BYTES);

  constructor(
    private readonly fs: SpoolFs,
    private readonly path: string,
    private generation: number,
    /** The file was created: its directory entry needs a sync to survive a power cut. */
    private readonly onCreated: () => void,
  ) {}

  async write(position: CursorPosition): Promise<void> {
    this.file ??= await this.openForUpdate();
    const generation = this.generation + 1;
    const written = await this.file.write(encodeSlot(this.slot, generation, position), 0, CURSOR_SLOT_BYTES, (generation % 2) * CURSOR_SLOT_BYTES);
    this.unsynced = true;
    if (written !== CURSOR_SLOT_BYTES) throw new Error(`short write of the spool cursor (${written} of ${CURSOR_SLOT_BYTES} bytes)`);
    // Only a complete slot moves on: after a failed one the next write goes to the same (damaged) slot again,
    // and the other keeps the last good position.
    this.generation = generation;
  }

  async sync(): Promise<void> {
    if (!this.file || !this.unsynced) return;
    await this.file.sync();
    this.unsynced = false;
  }

  async close(): Promise<void> {
    const file = this.file;
    this.file = undefined;
    await file?.close();
  }

  private async openForUpdate(): Promise<SpoolFile> {
    try {
      return await this.fs.open(this.path, 'r+');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      const file = await this.fs.open(this.path, 'w+');
      this.onCreated();
      return file;
    }
  }
}
