import { describe, expect, it } from 'vitest';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { decodeTelegram, type DecodedTelegram } from '../../src/decode/decode.ts';
import { splitTelegrams } from '../../src/decode/stream.ts';
import { parseTimestamp } from '../../src/decode/timestamp.ts';
import { hexToText, splitLine } from '../../src/decode/values.ts';
import { lookupObis, parseObis } from '../../src/decode/obis.ts';

const corpus = join(__dirname, '..', 'fixtures', 'telegrams');
const expectedDir = join(__dirname, '..', 'fixtures', 'expected');

interface Entry {
  file: string;
  kind: 'telegram' | 'stream' | 'encrypted';
  header?: string;
  crc_valid?: boolean | null;
  crc_given?: string | null;
  crc_calc?: string | null;
  telegrams?: number;
  crc_valid_count?: number;
  crc_invalid_count?: number;
  no_crc_count?: number;
}

const manifest: Entry[] = JSON.parse(readFileSync(join(corpus, 'manifest.json'), 'utf8'));
const read = (file: string) => readFileSync(join(corpus, file));
const telegramFiles = manifest.filter((e) => e.kind === 'telegram');
const streamFiles = manifest.filter((e) => e.kind === 'stream');

describe('decodeTelegram on every single-telegram file of the corpus', () => {
  it('covers the whole corpus', () => {
    expect(telegramFiles.length).toBe(116);
  });

  it.each(telegramFiles.map((e) => [e.file, e] as const))('%s', (_file, entry) => {
    const decoded = decodeTelegram(read(entry.file));
    expect(decoded.header?.raw).toBe(entry.header);
    expect(decoded.crc.valid).toBe(entry.crc_valid);
    expect(decoded.crc.given).toBe(entry.crc_given ?? null);
    // The manifest's CRC was computed independently (verify_crc.py) over the same raw bytes.
    expect(decoded.crc.computed).toBe(entry.crc_calc ?? null);
    // inspect prints it as JSON: the result must survive a round trip unchanged.
    expect(JSON.parse(JSON.stringify(decoded))).toEqual(decoded);
  });
});

describe('splitTelegrams + decodeTelegram on every stream file of the corpus', () => {
  it.each(streamFiles.map((e) => [e.file, e] as const))('%s', (_file, entry) => {
    const complete = splitTelegrams(read(entry.file)).filter((s) => s.complete);
    const decoded = complete.map((s) => decodeTelegram(s.bytes));
    expect(decoded.length).toBe(entry.telegrams);
    expect(decoded.filter((d) => d.crc.valid === true).length).toBe(entry.crc_valid_count);
    expect(decoded.filter((d) => d.crc.valid === false).length).toBe(entry.crc_invalid_count);
    expect(decoded.filter((d) => d.crc.valid === null).length).toBe(entry.no_crc_count);
    expect(decoded[0].header?.raw).toBe(entry.header);
  });

  it('decodes all 566 telegrams of the real Iskra AM550 capture cleanly, in time order', () => {
    const segments = splitTelegrams(read('nielsbasjes-dsmr-tools/stream__ttyUSB0-raw.txt'));
    const decoded = segments.filter((s) => s.complete).map((s) => decodeTelegram(s.bytes));
    expect(decoded.length).toBe(566);
    let previous = '';
    for (const d of decoded) {
      expect(d.errors).toEqual([]);
      expect(d.version?.dsmr).toBe('5.0');
      const iso = d.timestamp?.iso ?? '';
      expect(new Date(iso).getTime()).toBeGreaterThan(previous ? new Date(previous).getTime() : 0);
      previous = iso;
      const power = d.objects.find((o) => o.obis === '1-0:1.7.0')?.values[0];
      expect(power).toMatchObject({ type: 'number', unit: 'kW' });
    }
    // The capture starts mid-telegram: that fragment has no "/" and is not reported at all.
    expect(segments[0].offset).toBeGreaterThan(0);
  });

  it('reports the truncated tail of the Sagemcom capture as an incomplete segment', () => {
    const segments = splitTelegrams(read('hansij66-dsmr2mqtt/stream__dsmr.raw'));
    const last = segments[segments.length - 1];
    expect(last.complete).toBe(false);
    const decoded = decodeTelegram(last.bytes);
    expect(decoded.crc.valid).toBeNull();
    expect(decoded.errors.map((e) => e.message).join('\n')).toContain('no "!" end line');
  });
});

interface Expected {
  file: string;
  about: string;
  objectCount?: number;
  values?: Record<string, unknown[]>;
  names?: Record<string, string>;
  errors?: string[];
  [section: string]: unknown;
}

const SECTIONS = ['header', 'crc', 'version', 'variant', 'timestamp', 'equipmentId', 'mbus', 'powerFailureLog', 'messages', 'peaks'] as const;

const expectations = readdirSync(expectedDir)
  .filter((f) => f.endsWith('.json'))
  .map((f) => [f, JSON.parse(readFileSync(join(expectedDir, f), 'utf8')) as Expected] as const);

describe('field-by-field expectations written from reading the telegrams (test/fixtures/expected)', () => {
  it('has an expectation for each kind of telegram', () => {
    expect(expectations.length).toBeGreaterThanOrEqual(15);
    for (const [, e] of expectations) expect(telegramFiles.map((t) => t.file)).toContain(e.file);
  });

  it.each(expectations)('%s', (_name, exp) => {
    const decoded: DecodedTelegram = decodeTelegram(read(exp.file));
    for (const section of SECTIONS) {
      if (section in exp) expect(decoded[section], section).toEqual(exp[section]);
    }
    if (exp.objectCount !== undefined) expect(decoded.objects.length, 'objectCount').toBe(exp.objectCount);
    for (const [obis, values] of Object.entries(exp.values ?? {})) {
      const object = decoded.objects.find((o) => o.obis === obis);
      expect(object, obis).toBeDefined();
      expect(object!.values, obis).toMatchObject(values);
    }
    for (const [obis, name] of Object.entries(exp.names ?? {})) {
      expect(decoded.objects.find((o) => o.obis === obis)?.name, obis).toBe(name);
    }
    if (exp.errors) {
      expect(decoded.errors.map((e) => e.message), 'errors').toHaveLength(exp.errors.length);
      exp.errors.forEach((fragment, i) => expect(decoded.errors[i].message).toContain(fragment));
    }
  });
});

describe('decodeTelegram details', () => {
  const telegram = (lines: string[], crc = true): Buffer => {
    const body = `${lines.join('\r\n')}\r\n!`;
    if (!crc) return Buffer.from(`${body}\r\n`, 'latin1');
    // Computed here with the reference algorithm, independently of src/transforms/crc16.ts.
    let c = 0;
    for (const b of Buffer.from(body, 'latin1')) {
      c ^= b;
      for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0xa001 : c >>> 1;
    }
    return Buffer.from(`${body}${c.toString(16).toUpperCase().padStart(4, '0')}\r\n`, 'latin1');
  };

  it('never throws, whatever it is given', () => {
    const inputs = [Buffer.alloc(0), Buffer.from('/'), Buffer.from('!'), Buffer.from('!1234/'), Buffer.from('/X\r\n!'), Buffer.from('/ABC5\r\n(((\r\n1-0:1.8.1(\r\n!zz')];
    let seed = 7;
    for (let n = 0; n < 200; n++) {
      const bytes = Buffer.alloc(1 + (n % 97));
      for (let i = 0; i < bytes.length; i++) bytes[i] = (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) >>> 24;
      if (n % 2 === 0) bytes[0] = 0x2f;
      inputs.push(bytes);
    }
    for (const input of inputs) {
      const decoded = decodeTelegram(input);
      expect(Array.isArray(decoded.errors)).toBe(true);
    }
    expect(decodeTelegram(Buffer.alloc(0)).errors[0].message).toContain('no "/"');
  });

  it('computes the CRC over the raw bytes: removing the capture artefact blank line makes it valid', () => {
    const raw = read('hansij66-dsmr2mqtt/dsmr.raw__telegram1.txt');
    expect(decodeTelegram(raw).crc.valid).toBe(false);
    const collapsed = Buffer.from(raw.toString('latin1').replace('\r\n\r\n\r\n', '\r\n\r\n'), 'latin1');
    expect(decodeTelegram(collapsed).crc.valid).toBe(true);
  });

  it('ignores bytes before "/" and after the CRC line', () => {
    const plain = telegram(['/KFM5KAIFA-METER', '', '1-0:1.8.1(000001.000*kWh)']);
    const noisy = Buffer.concat([Buffer.from('garbage\r\n'), plain, Buffer.from([0xff, 0xff, 0x2f])]);
    const a = decodeTelegram(plain);
    expect(a.crc.valid).toBe(true);
    expect(decodeTelegram(noisy)).toEqual(a);
  });

  it('keeps unknown OBIS codes with name null and recognises their values by shape', () => {
    const d = decodeTelegram(telegram(['/ABC5X', '', '7-9:99.98.97(230101120000W)(1-0:1.8.0)(12.5*kWh)(hello)']));
    expect(d.errors).toEqual([]);
    expect(d.objects[0]).toMatchObject({ obis: '7-9:99.98.97', name: null, line: 3 });
    expect(d.objects[0].values.map((v) => v.type)).toEqual(['timestamp', 'obis', 'number', 'text']);
  });

  it('reports broken lines in errors and goes on with the next line', () => {
    const d = decodeTelegram(telegram(['/ABC5X', '', 'A-0:96.1.1(12)', '1-0:1.8.1(000001.000*kWh', '(stray)', '1-0:1.8.2(000002.000*kWh)']));
    expect(d.errors.map((e) => e.line)).toEqual([3, 4, 4, 5]);
    expect(d.objects.map((o) => o.obis)).toEqual(['1-0:1.8.1', '1-0:1.8.2']);
    expect(d.objects[1].values[0]).toMatchObject({ value: 2, unit: 'kWh' });
  });

  it('flags a power-failure log whose count does not match its entries', () => {
    const d = decodeTelegram(telegram(['/ABC5X', '', '1-0:99.97.0(2)(0-0:96.7.19)(101208152415W)(0000000240*s)']));
    expect(d.powerFailureLog).toEqual({ count: 2, entries: [{ end: { raw: '101208152415W', iso: '2010-12-08T15:24:15+01:00', dst: false }, durationSeconds: 240 }] });
    expect(d.errors[0].message).toContain('announces 2 entries but holds 1');
  });

  it('reports a timestamp that is no date, but not the documented no-value marker', () => {
    const d = decodeTelegram(telegram(['/ABC5X', '', '0-0:1.0.0(231332250000W)', '0-1:24.2.1(632525252525W)(00000.000)']));
    expect(d.timestamp).toEqual({ raw: '231332250000W', iso: null, dst: false });
    expect(d.errors.map((e) => e.line)).toEqual([3]);
  });

  it('decodes a telegram cut short by the next header up to the cut', () => {
    const d = decodeTelegram(Buffer.from('/ISK5\\2M550T-1011\r\n\r\n1-0:1.8.1(000012.345*kWh)\r\n1-0:1.7.0(00.321*k\n/ISK5\\2M550T-1011\r\n', 'latin1'));
    expect(d.objects[0].values[0]).toMatchObject({ value: 12.345 });
    expect(d.errors.map((e) => e.message).join('\n')).toContain('cut short');
  });
});

describe('decode helpers', () => {
  it('parses timestamps with their DST flag', () => {
    expect(parseTimestamp('200426223325S')).toEqual({ raw: '200426223325S', iso: '2020-04-26T22:33:25+02:00', dst: true });
    expect(parseTimestamp('101209113020W')).toEqual({ raw: '101209113020W', iso: '2010-12-09T11:30:20+01:00', dst: false });
    expect(parseTimestamp('090212160000')).toEqual({ raw: '090212160000', iso: '2009-02-12T16:00:00', dst: null });
    expect(parseTimestamp('240229000000W')?.iso).toBe('2024-02-29T00:00:00+01:00');
    expect(parseTimestamp('230229000000W')?.iso).toBeNull();
    expect(parseTimestamp('700101010000W')?.iso).toBe('1970-01-01T01:00:00+01:00');
    expect(parseTimestamp('2004262233S')).toBeNull();
  });

  it('decodes hex text only when it is readable', () => {
    expect(hexToText('4B384547')).toBe('K8EG');
    expect(hexToText('')).toBe('');
    expect(hexToText('3960221976')).toBeNull();
    expect(hexToText('ABC')).toBeNull();
    expect(hexToText('test-/-test')).toBeNull();
  });

  it('splits lines without failing on odd parentheses', () => {
    expect(splitLine('1-0:0.2.0((ER11))')).toEqual({ id: '1-0:0.2.0', groups: ['(ER11'], rest: ')' });
    expect(splitLine('0-1:24.2.1(200426223001S)(00246.138*m3)')).toEqual({ id: '0-1:24.2.1', groups: ['200426223001S', '00246.138*m3'], rest: '' });
    expect(splitLine('garbage')).toEqual({ id: 'garbage', groups: [], rest: '' });
  });

  it('names M-Bus codes per channel and falls back to channel 0 for electricity', () => {
    expect(lookupObis(parseObis('0-3:24.2.1')!)?.name).toBe('M-Bus last reading, temperature corrected for gas (channel 3)');
    expect(lookupObis(parseObis('1-1:1.8.1')!)?.name).toBe(lookupObis(parseObis('1-0:1.8.1')!)?.name);
    expect(lookupObis(parseObis('0-9:24.2.1')!)).toBeNull();
    expect(parseObis('1-0:1.8.0*255')?.code).toBe('1-0:1.8.0');
    expect(parseObis('1-0:72:32.0')).toBeNull();
  });

  it('splits streams at headers, not at slashes inside data', () => {
    const t = '/ISk5\\2MT382-1003\r\n\r\n0-0:96.13.0(test-/-test)\r\n!\r\n';
    const segments = splitTelegrams(Buffer.from(`noise/${t}xx${t}/KFM5 cut\r\n`, 'latin1'));
    expect(segments.map((s) => [s.complete, Buffer.from(s.bytes).toString('latin1')])).toEqual([
      [true, t],
      [true, t],
      [false, '/KFM5 cut\r\n'],
    ]);
    expect(segments[0].offset).toBe(6);
  });
});
