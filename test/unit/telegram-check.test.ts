import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { TelegramFramer } from '../../src/transforms/framer.ts';
import { TelegramCheck, telegramShapeFault, type CheckVerdict } from '../../src/transforms/telegram-check.ts';

const corpus = join(__dirname, '..', 'fixtures', 'telegrams');
interface Entry { file: string; kind: string; version: string; has_crc?: boolean; crc_valid?: boolean | null; complete?: boolean }
const manifest: Entry[] = JSON.parse(readFileSync(join(corpus, 'manifest.json'), 'utf8'));
const read = (file: string) => readFileSync(join(corpus, file));

/** What the framer cuts from a file: the telegrams the check is given in the datalogger. */
function frames(bytes: Buffer): Buffer[] {
  const framer = new TelegramFramer();
  return [...framer.push(bytes), ...framer.end()];
}
const only = (file: string) => {
  const out = frames(read(file));
  expect(out).toHaveLength(1);
  return out[0];
};
const latin1 = (text: string) => Buffer.from(text, 'latin1');
const reason = (v: CheckVerdict) => (v.accept ? 'accept' : v.reason);

const DSMR5 = only('nielsbasjes-dsmr-tools/ttyUSB0-raw__telegram1.txt');
const DSMR22 = only('nielsbasjes-dsmr-tools/TestDsmrParserOnRealDSMR2__L43.txt');
/** The same meter's telegram with its lines from `from` on lost and the end line arriving without its CRC. */
function cutAtLine(telegram: Buffer, lines: number): Buffer {
  const text = telegram.toString('latin1').split('\r\n');
  return latin1(`${text.slice(0, lines).join('\r\n')}\r\n!\r\n`);
}

// Filed as one bad telegram, but the framer recovers the valid telegram behind a cut-short one (see framer.test.ts).
const CUT_SHORT_THEN_FULL = 'nielsbasjes-dsmr-tools/TestDsmrParserOnBadTelegram__L35.txt';
// Mangled by its authors beyond any meter's output ("A-0:96.1.1"), and with an invented CRC.
const NOT_A_TELEGRAM = 'nielsbasjes-dsmr-tools/TestDsmrParser__L268.txt';

describe('TelegramCheck on the corpus', () => {
  const singles = manifest.filter((e) => e.kind === 'telegram' && frames(read(e.file)).length === 1);

  it.each(singles.map((e) => [e.file, e] as const))('%s', (_file, entry) => {
    const telegram = only(entry.file);
    const on = new TelegramCheck({ crcCheck: true }).judge(telegram);
    const off = new TelegramCheck({ crcCheck: false }).judge(telegram);
    if (entry.file === NOT_A_TELEGRAM) {
      expect(reason(on)).toBe('crc');
      expect(off).toMatchObject({ accept: false, reason: 'not-a-telegram', message: expect.stringContaining('line 5 is not an OBIS data line') });
      return;
    }
    // Every other telegram of the corpus has the shape of one, whatever its CRC; but for the parser test of esphome
    // (nested parentheses), which announces DSMR 4 and lacks its CRC, so its shape is never looked at.
    if (entry.file !== 'esphome-libs-dsmr_parser/parser_test__L11.txt') expect(telegramShapeFault(telegram)).toBeNull();
    if ((entry.has_crc && entry.crc_valid) || entry.file === CUT_SHORT_THEN_FULL) {
      expect(on).toMatchObject({ accept: true, provesLine: true });
      expect(off).toMatchObject({ accept: true, provesLine: true });
    } else if (entry.has_crc) {
      expect(on).toMatchObject({ accept: false, reason: 'crc', message: expect.stringMatching(/^telegram with a bad CRC \(\w{4} given, \w{4} computed\)$/) });
      expect(off).toMatchObject({ accept: true, provesLine: false });
    } else if (/DSMR [45]/.test(entry.version)) {
      // A DSMR 4+ telegram without its CRC has lost its end.
      expect(reason(on)).toBe('crc-missing');
      expect(reason(off)).toBe('crc-missing');
    } else {
      expect(on).toMatchObject({ accept: true, provesLine: true });
      expect(off).toMatchObject({ accept: true, provesLine: true });
    }
  });

  it('keeps every telegram of the raw captures that has a valid CRC, and drops the rest', () => {
    for (const file of ['nielsbasjes-dsmr-tools/stream__ttyUSB0-raw.txt', 'hansij66-dsmr2mqtt/stream__dsmr.raw']) {
      const check = new TelegramCheck({ crcCheck: true });
      const verdicts = frames(read(file)).map((t) => check.judge(t));
      expect(verdicts.filter((v) => v.accept).every((v) => v.crc.status === 'valid'), file).toBe(true);
      expect(verdicts.filter((v) => v.crc.status === 'valid').every((v) => v.accept), file).toBe(true);
    }
  });
});

// Regression: every '/'...'!' frame with a line end after the '!' used to pass as a DSMR 2.2/3 telegram.
describe('a frame without a CRC', () => {
  it('is dropped when a one-bit error turned a ")" of a DSMR 5 telegram into the "!"', () => {
    const at = DSMR5.indexOf(')\r\n1-0:2.8.1');
    const damaged = Buffer.from(DSMR5);
    damaged[at] = 0x21; // ')' 0x29 with bit 3 lost
    const [cut] = frames(damaged);
    expect(cut.toString('latin1')).toMatch(/kWh!\r\n$/);
    const check = new TelegramCheck({ crcCheck: true });
    const verdict = check.judge(cut);
    expect(verdict).toMatchObject({ accept: false, reason: 'crc-missing', message: expect.stringContaining('DSMR 5.0') });
    expect(check.stats).toEqual({ crcFailures: 0, crcMissing: 1, notTelegrams: 0 });
  });

  it('is dropped when it announces DSMR 4 or later, even cut at a line end and with the CRC check off', () => {
    const cut = cutAtLine(DSMR5, 8);
    expect(cut.toString('latin1')).toContain('1-3:0.2.8(50)');
    expect(telegramShapeFault(cut)).toBeNull();
    for (const crcCheck of [true, false]) expect(reason(new TelegramCheck({ crcCheck }).judge(cut))).toBe('crc-missing');
    const belgian = cutAtLine(only('dsmr-reader/test_fluvius__TestDatalogger.txt'), 5);
    expect(new TelegramCheck({ crcCheck: true }).judge(belgian)).toMatchObject({ accept: false, reason: 'crc-missing', message: expect.stringContaining('e-MUCS') });
  });

  it('is dropped from a meter that has been seen sending CRCs, however it looks', () => {
    // A telegram without a version line: only the meter's own history tells that its CRC is missing.
    const minimal = latin1('/ABC5 minimal meter\r\n\r\n1-0:1.8.1(000123.456*kWh)\r\n1-0:1.8.2(000654.321*kWh)\r\n1-0:1.7.0(00.500*kW)\r\n!');
    const withCrc = latin1(`${minimal.toString('latin1')}${crcOf(minimal)}\r\n`);
    const cut = cutAtLine(withCrc, 3);
    const check = new TelegramCheck({ crcCheck: true });
    expect(reason(check.judge(cut))).toBe('accept'); // not seen sending CRCs yet: a DSMR 2.2/3 telegram
    expect(reason(check.judge(withCrc))).toBe('accept');
    expect(check.judge(cut)).toMatchObject({ accept: false, reason: 'crc-missing', message: expect.stringContaining('this meter sends CRCs') });
    // Another meter (another identification line) on the same input is judged on its own.
    expect(reason(check.judge(DSMR22))).toBe('accept');
    expect(check.stats).toEqual({ crcFailures: 0, crcMissing: 1, notTelegrams: 0 });
  });

  it.each([
    ['random bytes after a "/"', latin1('/\u00d3\u0012x\u00ff\u0001garbage(\r\n!\r\n'), /no identification line/],
    ['a header and no data lines', latin1('/ABC5 header only\r\n\r\n!\r\n'), /no OBIS data line/],
    ['a header followed by noise', latin1('/ABC5xyz\r\n\u0000\u0000\u00ffq1-0:1.8.1(1)\r\n!\r\n'), /line 2 is not an OBIS data line/],
    ['a "!" inside a line', latin1('/ABC5xyz\r\n\r\n1-0:1.8.1(000123.456*kWh!\r\n'), /"!" inside a line/],
    ['a value left open', latin1('/ABC5xyz\r\n\r\n1-0:1.8.1(000123.456*kWh\r\n!\r\n'), /not closed/],
  ])('is dropped and counted when it does not look like a telegram: %s', (_name, frame, why) => {
    const check = new TelegramCheck({ crcCheck: true });
    const verdict = check.judge(frame);
    expect(verdict).toMatchObject({ accept: false, reason: 'not-a-telegram', crc: { status: 'absent' } });
    expect(!verdict.accept && verdict.message).toMatch(why);
    expect(check.stats).toEqual({ crcFailures: 0, crcMissing: 0, notTelegrams: 1 });
  });

  it('is forwarded when it is shaped like a DSMR 2.2/3 telegram: legacy gas line, wrapped text, EasyMeter codes', () => {
    const shapes = [
      '/ISk5\\2MT382-1003\r\n\r\n0-1:24.3.0(090212160000)(00)(60)(1)(0-1:24.2.1)(m3)\r\n(00001.001)\r\n!\r\n',
      '/KMP5 KA6U001585575011\r\n\r\n0-0:96.13.0(3031323334\r\n3536373839\r\n3A3B3C)\r\n1-0:1.8.1(1)\r\n!\r\n',
      '/ESY5Q3DB1024 V3.04\r\n\r\n1-0:1.8.0*255(00052185.7825309*kWh)\r\n!\r\n',
    ];
    for (const shape of shapes) expect(new TelegramCheck({ crcCheck: true }).judge(latin1(shape)), shape).toMatchObject({ accept: true, provesLine: true });
  });
});

describe('a frame with a bad CRC', () => {
  const bad = only('nielsbasjes-dsmr-tools/TestCRCValidator__L116.txt');

  it('is dropped and counted with the CRC check on', () => {
    const check = new TelegramCheck({ crcCheck: true });
    expect(reason(check.judge(bad))).toBe('crc');
    expect(check.stats).toEqual({ crcFailures: 1, crcMissing: 0, notTelegrams: 0 });
  });

  it('is forwarded with the CRC check off, but proves nothing, and junk with a CRC-like tail still is not', () => {
    const check = new TelegramCheck({ crcCheck: false });
    expect(check.judge(bad)).toMatchObject({ accept: true, provesLine: false, crc: { status: 'invalid' } });
    expect(reason(check.judge(latin1('/xx\u00ff\u00fe junk\r\n!12AB\r\n')))).toBe('not-a-telegram');
    expect(check.stats).toEqual({ crcFailures: 1, crcMissing: 0, notTelegrams: 1 });
  });
});

function crcOf(bytes: Buffer): string {
  let crc = 0;
  for (const b of bytes) {
    crc ^= b;
    for (let k = 0; k < 8; k++) crc = crc & 1 ? (crc >>> 1) ^ 0xa001 : crc >>> 1;
  }
  return crc.toString(16).toUpperCase().padStart(4, '0');
}
