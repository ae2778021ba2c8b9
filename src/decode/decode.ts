// Decodes one P1 telegram into JSON-friendly data for `inspect`. Works on the raw bytes (latin-1, one char per byte)
// so the CRC is computed over exactly what the meter sent; nothing is trimmed or normalised before that.
// Never throws: anything odd is reported in `errors` and decoding carries on with the next line.

import { formatCrc, readCrcField } from '../transforms/crc-check.ts';
import { deviceTypeName, lookupObis, mbusChannel, parseObis } from './obis.ts';
import { isNoValueMarker, parseTimestamp, type DecodedTimestamp } from './timestamp.ts';
import { decodeValue, splitLine, type DecodedValue } from './values.ts';

export type { DecodedTimestamp } from './timestamp.ts';
export type { DecodedValue } from './values.ts';

export interface TelegramHeader {
  /** The identification line without its line end, e.g. "/ISk5\2MT382-1000". */
  raw: string;
  /** Three-letter manufacturer flag, e.g. "ISk", "KFM", "FLU". */
  manufacturer: string;
  /** The character after the flag: "5" on DSMR 4+/e-MUCS/Smarty meters. */
  baudRateId: string;
  /** Everything after that, e.g. "\2MT382-1000". */
  identification: string;
}

export interface TelegramCrc {
  /** The 1-4 hex digits after "!" as sent, or null when there are none (DSMR 2.2/3, EasyMeter, cut short). */
  given: string | null;
  /** CRC16/ARC over "/" through "!" as 4 upper-case hex digits; null when there is no "!". */
  computed: string | null;
  /** null when no CRC was sent. Compared as numbers: "!B9F" equals 0B9F. */
  valid: boolean | null;
}

export interface ProtocolVersion {
  /** "1-3:0.2.8" (DSMR 4+, Smarty) or "0-0:96.1.4" (Belgian e-MUCS). */
  obis: string;
  raw: string;
  /** "4.2" for a 1-3:0.2.8 value "42"; null for the e-MUCS code, whose digits are kept as sent. */
  dsmr: string | null;
}

export interface DecodedObject {
  /** Line number in the telegram, the "/" line being 1. */
  line: number;
  /** "A-B:C.D.E", without the "*255" some meters append. */
  obis: string;
  name: string | null;
  values: DecodedValue[];
  /** The line as received, without its line end; a DSMR 2.2/3 gas reading includes its value line after a "\n". */
  raw: string;
}

export interface MbusReading {
  obis: string;
  timestamp: DecodedTimestamp | null;
  value: number | null;
  unit: string | null;
}

export interface MbusChannel {
  channel: number;
  deviceType: { code: number; name: string | null } | null;
  /** Raw identifier and its hex-decoded text (null when it does not decode to text). */
  equipmentId: { raw: string; text: string | null } | null;
  readings: MbusReading[];
  valvePosition: number | null;
}

export interface PowerFailure {
  /** When the failure ended. */
  end: DecodedTimestamp | null;
  durationSeconds: number | null;
}

export interface PowerFailureLog {
  /** The count the meter announces; null when the log is empty "()". */
  count: number | null;
  entries: PowerFailure[];
}

export interface TextMessage {
  obis: string;
  raw: string;
  /** Hex-decoded when the meter hex-encodes it (as DSMR requires), else the raw text. */
  text: string;
}

export interface QuantityValue {
  value: number;
  unit: string | null;
}

export interface PeakDemand {
  /** Start of the month the peak belongs to (history entries only). */
  month: DecodedTimestamp | null;
  /** When the quarter-hour peak happened. */
  time: DecodedTimestamp | null;
  value: number | null;
  unit: string | null;
}

export interface BelgianPeaks {
  /** 1-0:1.4.0: average import power of the running quarter hour. */
  currentAverageDemand: QuantityValue | null;
  /** 1-0:1.6.0: highest quarter-hour average of the running month. */
  monthMaximum: PeakDemand | null;
  /** 0-0:98.1.0: highest quarter-hour average of each of the last months; null when absent or not in that layout. */
  history: PeakDemand[] | null;
}

export interface DecodeError {
  /** Line number (the "/" line is 1), or null for problems of the telegram as a whole. */
  line: number | null;
  message: string;
}

export interface DecodedTelegram {
  header: TelegramHeader | null;
  crc: TelegramCrc;
  version: ProtocolVersion | null;
  /** Country dialect recognised from the content: Belgian e-MUCS (0-0:96.1.4) or Luxembourg Smarty ("/Lux" header). */
  variant: 'be' | 'lu' | null;
  /** 0-0:1.0.0 */
  timestamp: DecodedTimestamp | null;
  /** 0-0:96.1.1 (or 0-0:42.0.0 on Smarty meters), hex-decoded when it decodes to text. */
  equipmentId: { raw: string; text: string | null } | null;
  objects: DecodedObject[];
  mbus: MbusChannel[];
  powerFailureLog: PowerFailureLog | null;
  messages: TextMessage[];
  peaks: BelgianPeaks | null;
  errors: DecodeError[];
}

const SLASH = 0x2f;
const BANG = 0x21;

export function decodeTelegram(raw: Uint8Array): DecodedTelegram {
  const result: DecodedTelegram = {
    header: null,
    crc: { given: null, computed: null, valid: null },
    version: null,
    variant: null,
    timestamp: null,
    equipmentId: null,
    objects: [],
    mbus: [],
    powerFailureLog: null,
    messages: [],
    peaks: null,
    errors: [],
  };
  const errors = result.errors;
  const start = raw.indexOf(SLASH);
  if (start < 0) {
    errors.push({ line: null, message: 'no "/" found: this is not a P1 telegram' });
    return result;
  }
  const bang = raw.indexOf(BANG, start);
  const bodyEnd = bang < 0 ? raw.length : bang;
  const text = latin1(raw, start, bodyEnd);

  if (bang >= 0) result.crc = readCrc(raw, start);
  else errors.push({ line: null, message: 'no "!" end line: the telegram is cut short or the meter sends no end marker' });
  if (result.crc.valid === false) {
    errors.push({ line: null, message: `CRC mismatch: the telegram says ${result.crc.given}, its bytes give ${result.crc.computed}` });
  }

  const lines = text.split('\n').map((l) => (l.endsWith('\r') ? l.slice(0, -1) : l));
  // A body ending in a line end leaves an empty last piece: that is where "!" sits, not a line of its own.
  if (lines.length > 1 && lines[lines.length - 1] === '') lines.pop();
  result.header = parseHeader(lines[0]);
  if (!result.header) errors.push({ line: 1, message: `identification line is too short: ${JSON.stringify(lines[0])}` });

  for (let i = 1; i < lines.length; i++) {
    const line = lines[i];
    const lineNo = i + 1;
    if (line.trim() === '') continue;
    if (line.startsWith('/')) {
      errors.push({ line: lineNo, message: 'a new identification line starts here: the telegram before it was cut short' });
      continue;
    }
    if (line.startsWith('(')) {
      errors.push({ line: lineNo, message: `value line without an OBIS code: ${JSON.stringify(line)}` });
      continue;
    }
    let split = splitLine(line);
    const obis = parseObis(split.id);
    // Kamstrup DSMR 2.2 meters wrap a long text message over several lines: "(3031...\r\n3031...\r\n...)".
    let lineText = line;
    while (obis && split.rest.startsWith('(') && !split.rest.includes(')') && i + 1 < lines.length && isContinuation(lines[i + 1])) {
      i++;
      lineText = `${lineText}\n${lines[i]}`;
      split = splitLine(lineText.replace(/\n/g, ''));
    }
    if (!obis) {
      errors.push({ line: lineNo, message: `not an OBIS data line: ${JSON.stringify(line)}` });
      continue;
    }
    const info = lookupObis(obis);
    const kind = info?.kind ?? 'auto';
    const object: DecodedObject = {
      line: lineNo,
      obis: obis.code,
      name: info?.name ?? null,
      values: split.groups.map((g) => decodeValue(g, kind)),
      raw: lineText,
    };
    if (split.groups.length === 0) errors.push({ line: lineNo, message: `${obis.code} has no value` });
    if (split.rest !== '') errors.push({ line: lineNo, message: `${obis.code}: unexpected text after the values: ${JSON.stringify(split.rest)}` });

    // DSMR 2.2/3 gas: "0-1:24.3.0(YYMMDDhhmmss)(00)(60)(1)(0-1:24.2.1)(m3)" and the value alone on the next line.
    if (obis.c === 24 && obis.d === 3 && obis.e === 0 && mbusChannel(obis) !== null) {
      decodeLegacyGas(object, split.groups, lines[i + 1], lineNo, errors);
      if (object.raw.includes('\n')) i++;
    }
    result.objects.push(object);
  }

  summarise(result);
  return result;
}

// A wrapped value goes on with bare text: no parentheses but the closing one, and not the next OBIS line.
function isContinuation(line: string): boolean {
  return /^[^()/!]*\)?$/.test(line) && parseObis(splitLine(line).id) === null;
}

function latin1(bytes: Uint8Array, start: number, end: number): string {
  let s = '';
  // Chunked so a large input cannot overflow the argument list.
  for (let i = start; i < end; i += 8192) s += String.fromCharCode(...bytes.subarray(i, Math.min(end, i + 8192)));
  return s;
}

function readCrc(raw: Uint8Array, start: number): TelegramCrc {
  const field = readCrcField(raw.subarray(start));
  if (!field) return { given: null, computed: null, valid: null };
  const computed = formatCrc(field.computed);
  if (field.digits === '') return { given: null, computed, valid: null };
  return { given: field.digits, computed, valid: parseInt(field.digits, 16) === field.computed };
}

function parseHeader(line: string): TelegramHeader | null {
  if (line.length < 5) return null;
  return { raw: line, manufacturer: line.slice(1, 4), baudRateId: line.slice(4, 5), identification: line.slice(5) };
}

function decodeLegacyGas(object: DecodedObject, groups: string[], next: string | undefined, lineNo: number, errors: DecodeError[]): void {
  // The capture time has no S/W: DSMR 2.2/3 did not say whether it is summer or winter time.
  const ts = groups.length > 0 ? parseTimestamp(groups[0]) : null;
  if (ts) object.values[0] = { type: 'timestamp', ...ts };
  const unit = groups.length >= 6 && groups[5] !== '' ? groups[5] : null;
  if (groups.length >= 7) {
    // Some writers put the value on the same line: "...(0-1:24.2.1)(m3)(07890.693)".
    const value = object.values[6];
    if (value.type === 'number' && value.unit === null) object.values[6] = { ...value, unit };
    return;
  }
  const continuation = next !== undefined && /^\([^()]*\)$/.test(next) ? next : null;
  if (continuation === null) {
    errors.push({ line: lineNo, message: `${object.obis}: the gas value line "(...)" that should follow is missing` });
    return;
  }
  const valueText = continuation.slice(1, -1);
  const value = decodeValue(valueText, 'auto');
  object.values.push(value.type === 'number' && value.unit === null ? { ...value, unit } : value);
  object.raw = `${object.raw}\n${continuation}`;
}

// Fills the convenience sections from the objects, so callers need not know which OBIS code holds what.
function summarise(t: DecodedTelegram): void {
  const channels = new Map<number, MbusChannel>();
  const channelOf = (n: number): MbusChannel => {
    let ch = channels.get(n);
    if (!ch) {
      ch = { channel: n, deviceType: null, equipmentId: null, readings: [], valvePosition: null };
      channels.set(n, ch);
    }
    return ch;
  };
  const peaks: BelgianPeaks = { currentAverageDemand: null, monthMaximum: null, history: null };
  let hasPeaks = false;

  for (const o of t.objects) {
    const obis = parseObis(o.obis);
    if (!obis) continue;
    const v = o.values;
    const channel = mbusChannel(obis);
    const cde = `${obis.c}.${obis.d}.${obis.e}`;

    if (o.obis === '1-3:0.2.8' && v.length > 0) {
      t.version = { obis: o.obis, raw: v[0].raw, dsmr: /^\d\d$/.test(v[0].raw) ? `${v[0].raw[0]}.${v[0].raw[1]}` : null };
    } else if (o.obis === '0-0:96.1.4' && v.length > 0) {
      if (!t.version) t.version = { obis: o.obis, raw: v[0].raw, dsmr: null };
      t.variant = 'be';
    } else if (o.obis === '0-0:1.0.0' && v.length > 0) {
      t.timestamp = asTimestamp(v[0]);
      checkTimestamp(t, o, v[0]);
    } else if (o.obis === '0-0:96.1.1' || (o.obis === '0-0:42.0.0' && !t.equipmentId)) {
      if (v.length > 0) t.equipmentId = { raw: v[0].raw, text: v[0].type === 'text' ? v[0].text : null };
    } else if (o.obis === '1-0:99.97.0') {
      t.powerFailureLog = decodePowerFailureLog(o, t.errors);
    } else if (obis.a === 0 && obis.b === 0 && obis.c === 96 && obis.d === 13) {
      const value = v[0];
      if (value) t.messages.push({ obis: o.obis, raw: value.raw, text: (value.type === 'text' ? value.text : null) ?? value.raw });
    } else if (o.obis === '1-0:1.4.0' && v[0]?.type === 'number') {
      peaks.currentAverageDemand = { value: v[0].value, unit: v[0].unit };
      hasPeaks = true;
    } else if (o.obis === '1-0:1.6.0') {
      peaks.monthMaximum = { month: null, time: asTimestamp(v[0]), ...quantity(v[1]) };
      hasPeaks = true;
    } else if (o.obis === '0-0:98.1.0') {
      const history = decodePeakHistory(o, t.errors);
      if (history) {
        peaks.history = history;
        hasPeaks = true;
      }
    } else if (channel !== null) {
      if (cde === '24.1.0' && v[0]?.type === 'number') {
        channelOf(channel).deviceType = { code: v[0].value, name: deviceTypeName(v[0].value) };
      } else if (cde === '96.1.0' || cde === '96.1.1') {
        const id = v[0];
        if (id) channelOf(channel).equipmentId = { raw: id.raw, text: id.type === 'text' ? id.text : null };
      } else if (cde === '24.2.1' || cde === '24.2.3') {
        channelOf(channel).readings.push({ obis: o.obis, timestamp: asTimestamp(v[0]), ...quantity(v[1]) });
        if (v[0]) checkTimestamp(t, o, v[0]);
      } else if (cde === '24.3.0') {
        // The value is the seventh, whether it came on the same line or on the next.
        const value = v[6];
        channelOf(channel).readings.push({ obis: o.obis, timestamp: asTimestamp(v[0]), ...quantity(value) });
      } else if (cde === '24.4.0' && v[0]?.type === 'number') {
        channelOf(channel).valvePosition = v[0].value;
      }
    }
  }
  if (!t.variant && t.header?.manufacturer === 'Lux') t.variant = 'lu';
  t.mbus = [...channels.values()].sort((x, y) => x.channel - y.channel);
  if (hasPeaks) t.peaks = peaks;
}

function asTimestamp(v: DecodedValue | undefined): DecodedTimestamp | null {
  return v?.type === 'timestamp' ? { raw: v.raw, iso: v.iso, dst: v.dst } : null;
}

function quantity(v: DecodedValue | undefined): { value: number | null; unit: string | null } {
  return v?.type === 'number' ? { value: v.value, unit: v.unit } : { value: null, unit: null };
}

// A timestamp that is no date is worth a line in `errors`, unless it is the meters' documented "no value" marker.
function checkTimestamp(t: DecodedTelegram, o: DecodedObject, v: DecodedValue): void {
  if (v.type !== 'timestamp') {
    t.errors.push({ line: o.line, message: `${o.obis}: expected a timestamp YYMMDDhhmmssS/W, got ${JSON.stringify(v.raw)}` });
  } else if (v.iso === null && !isNoValueMarker(v.raw)) {
    t.errors.push({ line: o.line, message: `${o.obis}: ${JSON.stringify(v.raw)} is not a valid date` });
  }
}

// "1-0:99.97.0(2)(0-0:96.7.19)(101208152415W)(0000000240*s)(101208151004W)(0000000301*s)"
function decodePowerFailureLog(o: DecodedObject, errors: DecodeError[]): PowerFailureLog {
  const v = o.values;
  const count = v[0]?.type === 'number' ? v[0].value : null;
  const entries: PowerFailure[] = [];
  const first = v[1]?.type === 'obis' ? 2 : 1;
  for (let i = first; i + 1 < v.length; i += 2) {
    const duration = v[i + 1];
    entries.push({ end: asTimestamp(v[i]), durationSeconds: duration.type === 'number' ? duration.value : null });
  }
  const leftover = v.length >= first ? (v.length - first) % 2 : 0;
  if (count === null && !(v.length === 1 && v[0].raw === '')) {
    errors.push({ line: o.line, message: `${o.obis}: the entry count is missing` });
  } else if (count !== null && (count !== entries.length || leftover !== 0)) {
    errors.push({ line: o.line, message: `${o.obis}: announces ${count} entries but holds ${entries.length}${leftover ? ' and a half' : ''}` });
  }
  return { count, entries };
}

// Belgian layout: "(count)(1-0:1.6.0)(1-0:1.6.0)" then per month "(month start)(peak time)(peak value)". Other
// countries use 98.1.0 for billing snapshots of a different shape; those are left as plain values.
function decodePeakHistory(o: DecodedObject, errors: DecodeError[]): PeakDemand[] | null {
  const v = o.values;
  if (v.length < 3 || v[0].type !== 'number' || v[1].type !== 'obis' || v[2].type !== 'obis') return null;
  const count = v[0].value;
  const rest = v.slice(3);
  // An empty history may still carry one empty "()" group.
  if (count === 0 && rest.every((x) => x.raw === '')) return [];
  const history: PeakDemand[] = [];
  for (let i = 0; i + 2 < rest.length; i += 3) {
    history.push({ month: asTimestamp(rest[i]), time: asTimestamp(rest[i + 1]), ...quantity(rest[i + 2]) });
  }
  if (history.length !== count || rest.length % 3 !== 0) {
    errors.push({ line: o.line, message: `${o.obis}: announces ${count} months but holds ${rest.length / 3}` });
  }
  return history;
}

