// Decides whether a frame the framer cut is a telegram to forward. A valid CRC settles it. Without a CRC only the
// shape of the frame can tell a DSMR 2.2/3 telegram from junk, and a telegram that should carry a CRC (DSMR 4 and
// later, or any meter seen sending CRCs) but does not has lost its end: a one-bit error turns a ')' into the '!'.

import { checkCrc, describeBadCrc, type CrcResult } from './crc-check.ts';
import { isIdentificationStart, LF } from './p1-bytes.ts';

export type CheckVerdict =
  | { accept: true; crc: CrcResult; provesLine: boolean }
  | { accept: false; reason: 'crc' | 'crc-missing' | 'not-a-telegram'; crc: CrcResult; message: string };

export interface TelegramCheckStats {
  /** Frames that look like telegrams whose CRC does not match: dropped, or forwarded when the CRC check is off. */
  crcFailures: number;
  /** Telegrams dropped for lacking the CRC they should carry. */
  crcMissing: number;
  /** Frames without a verified CRC dropped because they do not look like a telegram. */
  notTelegrams: number;
}

/** One meter per input, a few more after a meter swap or in a test capture; noise never gets in (it needs a CRC). */
const REMEMBERED_METERS = 8;

export class TelegramCheck {
  readonly stats: TelegramCheckStats = { crcFailures: 0, crcMissing: 0, notTelegrams: 0 };
  /** Identification lines of meters seen sending CRCs. */
  private readonly sendsCrc = new Set<string>();

  constructor(private readonly options: { crcCheck: boolean }) {}

  judge(telegram: Buffer): CheckVerdict {
    const crc = checkCrc(telegram);
    if (crc.status === 'valid') {
      this.remember(telegram);
      return { accept: true, crc, provesLine: true };
    }
    if (crc.status === 'absent') {
      const missing = this.missingCrc(telegram);
      if (missing !== null) {
        this.stats.crcMissing++;
        return { accept: false, reason: 'crc-missing', crc, message: `telegram without a CRC, although ${missing}: its end was damaged or cut off` };
      }
    }
    // Nothing vouches for these bytes: forwarded, they must at least have the shape of a telegram.
    const shapeFault = telegramShapeFault(telegram);
    if (crc.status === 'invalid') {
      if (shapeFault === null) this.remember(telegram);
      if (this.options.crcCheck || shapeFault === null) {
        this.stats.crcFailures++;
        const message = `telegram with a ${describeBadCrc(crc)}`;
        return this.options.crcCheck ? { accept: false, reason: 'crc', crc, message } : { accept: true, crc, provesLine: false };
      }
    }
    if (shapeFault !== null) {
      this.stats.notTelegrams++;
      return { accept: false, reason: 'not-a-telegram', crc, message: `frame of ${telegram.length} bytes that is not a telegram (${shapeFault})` };
    }
    return { accept: true, crc, provesLine: true };
  }

  /** Why this CRC-less telegram should have had a CRC; null when it need not. */
  private missingCrc(telegram: Buffer): string | null {
    const text = telegram.toString('latin1');
    const version = VERSION_LINE.exec(text);
    if (version) return `it says it is ${version[1] === '0-0:96.1.4' ? 'a Belgian e-MUCS telegram' : `DSMR ${dsmrVersion(version[2])}`}`;
    if (this.sendsCrc.has(identificationLine(text))) return 'this meter sends CRCs';
    return null;
  }

  private remember(telegram: Buffer): void {
    if (!isIdentificationStart(telegram, 0)) return;
    const id = identificationLine(telegram.toString('latin1'));
    if (this.sendsCrc.has(id)) return;
    if (this.sendsCrc.size >= REMEMBERED_METERS) this.sendsCrc.delete(this.sendsCrc.values().next().value!);
    this.sendsCrc.add(id);
  }
}

// DSMR 4+ (and Luxembourg) version line 1-3:0.2.8, Belgian e-MUCS 0-0:96.1.4: neither exists before DSMR 4.
const VERSION_LINE = /\n(1-3:0\.2\.8|0-0:96\.1\.4)\(([^()]*)\)/;

function dsmrVersion(raw: string): string {
  return /^\d\d$/.test(raw) ? `${raw[0]}.${raw[1]}` : raw;
}

function identificationLine(text: string): string {
  const end = text.indexOf('\n');
  return (end < 0 ? text : text.slice(0, end)).replace(/\r$/, '');
}

/**
 * An OBIS data line: "1-0:1.8.1(000123.456*kWh)", "0-1:24.3.0(...)(m3)", EasyMeter's "1-0:1.8.0*255(...)", and the
 * slips of the DSMR 4 examples meters copied ("1-0:72:32.0", "1-0:21.7.0.255").
 */
const OBIS_LINE = /^\d{1,3}-\d{1,3}:\d{1,3}[.:]\d{1,3}[.:]\d{1,3}([.*]\d{1,3})?(\([^()]*\))*(\([^()]*)?$/;
/** A value alone on its line: the gas reading of a DSMR 2.2/3 meter after its 0-n:24.3.0 line. */
const VALUE_LINE = /^(\([^()]*\))+$/;
/** The rest of a value wrapped over several lines (long Kamstrup text messages). */
const WRAPPED_VALUE = /^[^()]*(\))?(\([^()]*\))*(\([^()]*)?$/;

/**
 * What keeps these bytes from being a telegram: an identification line, then OBIS data lines, then '!' at the start
 * of a line. null when they are one. The CRC digits and line end after the '!' are not looked at.
 */
export function telegramShapeFault(telegram: Uint8Array): string | null {
  if (!isIdentificationStart(telegram, 0)) return 'no identification line';
  const bang = telegram.indexOf(0x21);
  if (bang < 0) return 'no "!" end line';
  if (telegram[bang - 1] !== LF) return '"!" inside a line: the telegram was cut short there';
  const text = Buffer.from(telegram.buffer, telegram.byteOffset, bang).toString('latin1');
  const lines = text.split('\n');
  lines.pop(); // the empty piece before '!'
  if (lines.length < 2) return 'nothing after the identification line';
  let dataLines = 0;
  let openValue = false;
  for (let n = 1; n < lines.length; n++) {
    const line = lines[n].endsWith('\r') ? lines[n].slice(0, -1) : lines[n];
    if (openValue) {
      if (!WRAPPED_VALUE.test(line)) return `line ${n + 1} does not go on with the value left open`;
      openValue = /[()]/.test(line) ? endsOpen(line) : true;
      continue;
    }
    if (line === '' || VALUE_LINE.test(line)) continue;
    if (!OBIS_LINE.test(line)) return `line ${n + 1} is not an OBIS data line`;
    dataLines++;
    openValue = endsOpen(line);
  }
  if (openValue) return 'the last value is not closed';
  if (dataLines === 0) return 'no OBIS data line';
  return null;
}

function endsOpen(line: string): boolean {
  return line.lastIndexOf('(') > line.lastIndexOf(')');
}
