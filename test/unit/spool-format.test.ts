// The spool's format version: a backlog the previous release wrote (format 1: no FORMAT file, records without a
// read time) is delivered after the upgrade, mixed with new records; a directory in a format from the future is
// refused with a clear message and left exactly as it was.
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Config, ServerConfig } from '../../src/config/config.ts';
import { ConfigError } from '../../src/config/config-error.ts';
import { createLogger } from '../../src/log/logger.ts';
import { openBacklog, storageId } from '../../src/buffers/server-storage.ts';
import { Spool, SpoolFormatError } from '../../src/buffers/spool/index.ts';
import { crc32 } from '../../src/buffers/spool/record.ts';
import { FakeClock } from '../helpers/fake-clock.ts';
import { FakeFs } from '../helpers/spool-fake-fs.ts';

const DIR = '/data/spool/server-1';

function telegram(n: number): Buffer {
  return Buffer.from(`/ISK5\\2M550T-1012\r\n\r\n1-0:1.8.1(000123.456*kWh)\r\n!ABCD\r\n#${String(n).padStart(7, '0')}`);
}
function numberOf(payload: Buffer): number {
  return Number(payload.subarray(payload.length - 7).toString());
}

// The previous release's files, built from their description (not with the spool's own code).
function formatOneSegment(numbers: number[]): { bytes: Buffer; ends: number[] } {
  const parts: Buffer[] = [];
  const ends: number[] = [];
  let at = 0;
  for (const n of numbers) {
    const payload = telegram(n);
    const header = Buffer.alloc(12);
    Buffer.from([0xfe, 0x53, 0x50, 0x4c]).copy(header);
    header.writeUInt32LE(payload.length, 4);
    header.writeUInt32LE(crc32(payload, 0, payload.length, crc32(header, 4, 8)), 8);
    parts.push(header, payload);
    at += 12 + payload.length;
    ends.push(at);
  }
  return { bytes: Buffer.concat(parts), ends };
}
function cursorFile(segment: number, offset: number): Buffer {
  const slot = Buffer.alloc(32);
  slot.writeUInt32LE(0x31525543, 0);
  slot.writeUIntLE(1, 4, 6);
  slot.writeUIntLE(segment, 10, 6);
  slot.writeUIntLE(offset, 16, 6);
  slot.writeUInt32LE(crc32(slot, 0, 28), 28);
  return Buffer.concat([Buffer.alloc(32), slot]);
}

function machine() {
  const clock = new FakeClock();
  const fs = new FakeFs(clock);
  const open = () => Spool.open({ dir: DIR, maxBytes: 1024 * 1024, fs, clock });
  const snapshot = () => new Map(fs.list(DIR).map((name) => [name, Buffer.from(fs.contents(join(DIR, name))!).toString('hex')]));
  return { clock, fs, open, snapshot };
}

describe('Spool format', () => {
  it('delivers a backlog of the previous release (format 1), then what the new one adds, in order', async () => {
    const { clock, fs, open } = machine();
    const writtenAt = clock.now() - 3_600_000;
    const old = formatOneSegment([0, 1, 2, 3, 4]);
    fs.place(join(DIR, '0000000002.seg'), formatOneSegment([90, 91]).bytes, writtenAt - 1000); // delivered; removal interrupted
    fs.place(join(DIR, '0000000003.seg'), old.bytes, writtenAt);
    fs.place(join(DIR, 'cursor'), cursorFile(3, old.ends[1]), writtenAt);

    let spool = await open();
    expect(spool.count).toBe(3);
    // Its records carry no read time: the file's modification time stands in.
    expect(spool.oldestReadAt).toBe(writtenAt);
    expect(fs.list(DIR)).toEqual(['0000000003.seg', 'cursor']);
    spool.append(telegram(5), clock.now());
    spool.append(telegram(6), clock.now());
    expect((await spool.readBatch(100)).map(numberOf)).toEqual([2, 3, 4, 5, 6]);
    expect(fs.contents(join(DIR, 'FORMAT'))!.toString()).toBe('dsmr-datalogger spool format 2\n');
    await spool.close();

    spool = await open();
    expect((await spool.readBatch(100)).map(numberOf)).toEqual([2, 3, 4, 5, 6]);
    await spool.ack(3);
    expect(spool.oldestReadAt).toBe(clock.now());
    expect(fs.list(DIR)).toEqual(['0000000004.seg', 'FORMAT', 'cursor']);
    expect(spool.stats.corruptSkipped).toBe(0);
  });

  it.each([
    ['a newer version', 'dsmr-datalogger spool format 3\n', 'format 3'],
    ['an unrecognised FORMAT file', 'spool v9000', 'format "spool v9000" (unrecognised FORMAT file)'],
  ])('refuses %s, naming the directory and both versions, and changes nothing', async (_, format, found) => {
    const { fs, open, snapshot } = machine();
    fs.place(join(DIR, 'FORMAT'), Buffer.from(format));
    fs.place(join(DIR, '0000000001.seg'), Buffer.from('records of a format this release has never seen'));
    fs.place(join(DIR, '0000000007.seg'), Buffer.from('more of them'));
    fs.place(join(DIR, 'cursor'), cursorFile(7, 0));
    const before = snapshot();
    const refused = await open().then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(refused).toBeInstanceOf(SpoolFormatError);
    expect((refused as Error).message).toBe(
      `the spool ${DIR} is in ${found}, this release reads formats 1 to 2; it was left untouched: run the release that wrote it, or move the directory away to start an empty spool`,
    );
    expect(snapshot()).toEqual(before);
    expect(fs.writeCalls).toBe(0);
  });

  it('is a configuration error at start-up, in one line naming the setting', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'spool-format-'));
    try {
      const server: ServerConfig = { host: 'http://dsmr.local', url: 'http://dsmr.local/api/v1/datalogger/dsmrreading', key: 'k' };
      const dir = join(dataDir, 'spool', storageId(server.url));
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, 'FORMAT'), 'dsmr-datalogger spool format 3\n');
      writeFileSync(join(dir, '0000000001.seg'), 'future records');
      const config = { dataDir } as Config;
      const opening = openBacklog(config, { name: server.host, url: server.url }, createLogger('error', () => undefined));
      await expect(opening).rejects.toThrow(ConfigError);
      await expect(opening).rejects.toThrow(new RegExp(`^DSMR_DATALOGGER_DATA_DIR: the spool ${dir} is in format 3, this release reads formats 1 to 2;`));
      expect(readdirSync(dir).sort()).toEqual(['0000000001.seg', 'FORMAT']);
      expect(readFileSync(join(dir, '0000000001.seg'), 'utf8')).toBe('future records');
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
