// Dutch meters show local time (Europe/Amsterdam) with S (summer) or W (winter) appended, which tells the doubled
// hour in October apart. The EU rule is computed here rather than taken from Intl, so the result does not depend on
// the ICU data of the runtime (a pkg-built executable or Deno).

const HOUR_MS = 3_600_000;

/** 01:00 UTC on the last Sunday of the month: the moment EU summer time starts (March) or ends (October). */
function lastSundayOneAmUtc(year: number, month: number): number {
  const lastDay = new Date(Date.UTC(year, month + 1, 0));
  return Date.UTC(year, month, lastDay.getUTCDate() - lastDay.getUTCDay(), 1);
}

export function isEuropeanSummerTime(utcMs: number): boolean {
  const year = new Date(utcMs).getUTCFullYear();
  return utcMs >= lastSundayOneAmUtc(year, 2) && utcMs < lastSundayOneAmUtc(year, 9);
}

export interface AmsterdamTime {
  year: number;
  month: number; // 1-12
  day: number;
  hour: number;
  minute: number;
  second: number;
  /** 0 = Sunday ... 6 = Saturday */
  weekday: number;
  summer: boolean;
}

export function amsterdamTime(utcMs: number): AmsterdamTime {
  const summer = isEuropeanSummerTime(utcMs);
  const wall = new Date(utcMs + (summer ? 2 : 1) * HOUR_MS);
  return {
    year: wall.getUTCFullYear(),
    month: wall.getUTCMonth() + 1,
    day: wall.getUTCDate(),
    hour: wall.getUTCHours(),
    minute: wall.getUTCMinutes(),
    second: wall.getUTCSeconds(),
    weekday: wall.getUTCDay(),
    summer,
  };
}

const two = (n: number) => String(n).padStart(2, '0');

/** DSMR timestamp `YYMMDDhhmmssX`, X = S or W. */
export function dsmrTimestamp(utcMs: number): string {
  const t = amsterdamTime(utcMs);
  return `${two(t.year % 100)}${two(t.month)}${two(t.day)}${two(t.hour)}${two(t.minute)}${two(t.second)}${t.summer ? 'S' : 'W'}`;
}
