import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_MAX_TELEGRAM_BYTES, TelegramFramer } from '../../src/transforms/framer.ts';
import { checkCrc } from '../../src/transforms/crc-check.ts';
import { prng } from '../helpers/input-chain.ts';

const corpus = join(__dirname, '..', 'fixtures', 'telegrams');
interface Entry { file: string; kind: string; telegrams: number; has_crc?: boolean; crc_valid?: boolean | null; complete?: boolean; crc_valid_count?: number; crc_invalid_count?: number; no_crc_count?: number }
const manifest: Entry[] = JSON.parse(readFileSync(join(corpus, 'manifest.json'), 'utf8'));
const read = (file: string) => readFileSync(join(corpus, file));

function frameAll(bytes: Buffer, chunkSizes?: () => number): Buffer[] {
  const framer = new TelegramFramer();
  const out: Buffer[] = [];
  if (!chunkSizes) out.push(...framer.push(bytes));
  else for (let i = 0; i < bytes.length; ) {
    const n = Math.max(1, chunkSizes());
    out.push(...framer.push(bytes.subarray(i, i + n)));
    i += n;
  }
  out.push(...framer.end());
  return out;
}


const hex = (b: Buffer) => b.toString('latin1');

// Filed as one bad telegram by its authors, but it is a telegram cut short followed by a whole, valid one, which the
// framer recovers; the manifest's CRC verdict is about the concatenation.
const CUT_SHORT_THEN_FULL = new Set(['nielsbasjes-dsmr-tools/TestDsmrParserOnBadTelegram__L35.txt']);

describe('TelegramFramer on the corpus', () => {
  const singles = manifest.filter((e) => e.kind === 'telegram');
  it.each(singles.map((e) => [e.file, e] as const))('%s', (_file, entry) => {
    const bytes = read(entry.file);
    const telegrams = frameAll(bytes);
    const hasBang = bytes.includes(0x21);
    if (!hasBang) {
      // No '!' at all (truncated, or an MT382 variant without terminator): never a telegram.
      expect(telegrams).toHaveLength(0);
      return;
    }
    expect(telegrams).toHaveLength(1);
    const t = telegrams[0];
    const cutThenFull = CUT_SHORT_THEN_FULL.has(entry.file);
    // Exactly the meter's bytes: from the telegram's '/' through the end of the CRC line.
    const start = cutThenFull ? bytes.lastIndexOf('\n/') + 1 : bytes.indexOf(0x2f);
    expect(hex(bytes.subarray(start, start + t.length))).toBe(hex(t));
    const crc = checkCrc(t);
    if (cutThenFull) expect(crc.status).toBe('valid');
    else if (entry.has_crc) expect(crc.status).toBe(entry.crc_valid ? 'valid' : 'invalid');
    else expect(crc.status).toBe('absent');
  });

  const streams = manifest.filter((e) => e.kind === 'stream');
  it.each(streams.map((e) => [e.file, e] as const))('stream %s', (_file, entry) => {
    const telegrams = frameAll(read(entry.file));
    const counts = { valid: 0, invalid: 0, absent: 0 };
    for (const t of telegrams) counts[checkCrc(t).status]++;
    expect(counts).toEqual({ valid: entry.crc_valid_count, invalid: entry.crc_invalid_count, absent: entry.no_crc_count });
  });

  it('gives the same telegrams however the stream is split into chunks', () => {
    const stream = read('hansij66-dsmr2mqtt/stream__dsmr.raw');
    const whole = frameAll(stream).map(hex);
    for (const seed of [1, 2, 3, 4, 5]) {
      const rnd = prng(seed);
      expect(frameAll(stream, () => Math.floor(rnd() * 40)).map(hex)).toEqual(whole);
    }
    expect(frameAll(stream, () => 1).map(hex)).toEqual(whole);
  });
});

describe('TelegramFramer rules', () => {
  const valid = read('dsmr_parser/TELEGRAM_V4_2.txt');

  it('ignores noise and NUL bytes between telegrams', () => {
    const noise = Buffer.from([0, 0, 0xff, 0x41, 0x0d, 0x0a, 0, 0x21, 0x31]);
    const out = frameAll(Buffer.concat([noise, valid, noise, valid, noise]));
    expect(out.map(hex)).toEqual([hex(valid), hex(valid)]);
  });

  it('drops a partial telegram cut short by a new one, even mid-line', () => {
    const cut = valid.subarray(0, 300);
    const framer = new TelegramFramer();
    const out = [...framer.push(Buffer.concat([cut, valid])), ...framer.end()];
    expect(out.map(hex)).toEqual([hex(valid)]);
    expect(framer.stats.truncated).toBe(1);
  });

  it('keeps a slash inside a text message as data', () => {
    const body = Buffer.from('/ISk5\\2MT382-1003\r\n\r\n0-0:96.13.0(test-/-test)\r\n!\r\n', 'latin1');
    expect(frameAll(body).map(hex)).toEqual([hex(body)]);
  });

  it('bounds the size of a frame that never ends', () => {
    const framer = new TelegramFramer(1024);
    const garbage = Buffer.concat([Buffer.from('/XYZ5'), Buffer.alloc(5000, 0x41)]);
    expect(framer.push(garbage)).toEqual([]);
    expect(framer.stats.oversized).toBe(1);
    expect(framer.push(valid.subarray(0, 0))).toEqual([]);
  });

  // Regression: the byte that overflowed the bound was thrown away, and with it the '/' of the next telegram; a
  // telegram that had begun inside the full buffer was lost with the unterminated frame before it.
  it.each([
    ['is the overflowing byte', 0],
    ['starts inside the full buffer', 700],
    ['has 1 byte before the bound', 1],
    ['has 3 bytes before the bound', 3],
    ['has 4 bytes before the bound', 4],
  ])('keeps a valid telegram after an unterminated frame when its start %s', (_name, inside) => {
    const max = DEFAULT_MAX_TELEGRAM_BYTES;
    const unterminated = Buffer.concat([Buffer.from('/XYZ5 no end\r\n'), Buffer.alloc(max - 14 - inside, 0x41)]);
    expect(unterminated.length + inside).toBe(max);
    const stream = Buffer.concat([unterminated, valid, valid]);
    for (const size of [1, 97, stream.length]) {
      const framer = new TelegramFramer();
      const out: Buffer[] = [];
      for (let i = 0; i < stream.length; i += size) out.push(...framer.push(stream.subarray(i, i + size)));
      out.push(...framer.end());
      expect(out.map(hex), `chunks of ${size}`).toEqual([hex(valid), hex(valid)]);
      expect(framer.stats.oversized).toBe(1);
    }
  });

  it('gives up a frame of slashes at the bound and still finds the telegram behind it', () => {
    const framer = new TelegramFramer(1024);
    const out = [...framer.push(Buffer.alloc(6500, 0x2f)), ...framer.push(valid), ...framer.end()];
    expect(out.map(hex)).toEqual([hex(valid)]);
  });

  it('does not join bytes across a discontinuity', () => {
    const framer = new TelegramFramer();
    framer.push(valid.subarray(0, 200));
    expect(framer.discontinuity()).toEqual([]);
    const out = framer.push(Buffer.concat([valid.subarray(200), valid]));
    expect(out.map(hex)).toEqual([hex(valid)]);
  });

  it('ends a telegram at the line end after the CRC, bare LF or none', () => {
    const lf = Buffer.from('/ABC5\r\n\r\n1-0:1.8.1(1)\r\n!1234\n', 'latin1');
    const none = Buffer.from('/ABC5\r\n\r\n1-0:1.8.1(1)\r\n!1234', 'latin1');
    expect(frameAll(Buffer.concat([lf, Buffer.from('junk')])).map(hex)).toEqual([hex(lf)]);
    expect(frameAll(Buffer.concat([none, valid])).map(hex)).toEqual([hex(none), hex(valid)]);
    expect(frameAll(none).map(hex)).toEqual([hex(none)]);
  });

  it("treats '!' followed by neither CRC nor line end as a cut-short telegram", () => {
    const cut = Buffer.from('/ABC5\r\n\r\n1-0:1.8.1(1)\r\n!', 'latin1');
    expect(frameAll(Buffer.concat([cut, valid])).map(hex)).toEqual([hex(valid)]);
  });

  it('handles a 3-digit CRC and lowercase hex', () => {
    const t = read('dsmr_parser/TELEGRAM_UNPADDED_CRC.txt');
    expect(checkCrc(frameAll(t)[0]).status).toBe('valid');
  });
});
