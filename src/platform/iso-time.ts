// Timestamps in the form Date#toISOString gives ("2026-12-01T15:39:59.123Z"), composed from the UTC fields. V8's own
// toISOString maps in half a MiB of ICU's data the first time it runs, and a datalogger that stamps every log line
// would keep those pages resident for nothing (docs/BENCHMARK.md, "Where the memory goes").

const two = (n: number) => (n < 10 ? `0${n}` : `${n}`);
const three = (n: number) => (n < 10 ? `00${n}` : n < 100 ? `0${n}` : `${n}`);

/** `ms` (default: now) as ISO 8601 UTC with milliseconds, exactly as `new Date(ms).toISOString()`. */
export function isoTime(ms: number = Date.now()): string {
  const d = new Date(ms);
  const year = d.getUTCFullYear();
  // Outside four-digit years toISOString writes a signed six-digit year; an invalid date throws. Both are its to say.
  if (!(year >= 0 && year <= 9999)) return d.toISOString();
  const y = year < 1000 ? `${year}`.padStart(4, '0') : `${year}`;
  return `${y}-${two(d.getUTCMonth() + 1)}-${two(d.getUTCDate())}T${two(d.getUTCHours())}:${two(d.getUTCMinutes())}:${two(d.getUTCSeconds())}.${three(d.getUTCMilliseconds())}Z`;
}
