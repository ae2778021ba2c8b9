// P1 timestamps are local Dutch/Belgian/Luxembourg time, "YYMMDDhhmmssX", where X says which offset applies:
// S = summer time (CEST, +02:00), W = winter time (CET, +01:00). DSMR 2.2/3 gas readings carry no X at all.

export interface DecodedTimestamp {
  /** As sent, e.g. "161113205757W". */
  raw: string;
  /** ISO 8601 with the offset the meter said ("2016-11-13T20:57:57+01:00"); without offset when the meter gave no S/W; null when it is not a real date (such as the "632525252525S" no-value marker). */
  iso: string | null;
  /** true for S, false for W, null when absent. */
  dst: boolean | null;
}

// Some Landis+Gyr meters send the flag in lower case ("150701190000s").
const TIMESTAMP = /^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})([SWsw])?$/;

export function isTimestampText(text: string): boolean {
  return /^\d{12}[SWsw]$/.test(text);
}

/** null when the text does not have the shape of a timestamp at all. */
export function parseTimestamp(text: string): DecodedTimestamp | null {
  const m = TIMESTAMP.exec(text);
  if (!m) return null;
  const [yy, month, day, hour, minute, second] = m.slice(1, 7).map(Number);
  const dst = m[7] === undefined ? null : m[7].toUpperCase() === 'S';
  // Two-digit years pivot like POSIX strptime: meters send "700101010000W" (1970) as an unset date, never 2070.
  const year = yy < 69 ? 2000 + yy : 1900 + yy;
  const valid =
    month >= 1 && month <= 12 && day >= 1 && day <= daysInMonth(year, month) && hour <= 23 && minute <= 59 && second <= 59;
  if (!valid) return { raw: text, iso: null, dst };
  const local = `${year}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6]}`;
  return { raw: text, iso: dst === null ? local : `${local}${dst ? '+02:00' : '+01:00'}`, dst };
}

/** The meters' marker for "no value yet" (seen on empty Luxembourg M-Bus channels and Belgian peak history). */
export function isNoValueMarker(text: string): boolean {
  return /^632525252525[SWsw]?$/.test(text);
}

function daysInMonth(year: number, month: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate();
}
