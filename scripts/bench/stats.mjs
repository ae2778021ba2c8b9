// Pure arithmetic and formatting for the benchmark: no I/O here, so test/unit/bench-stats.test.ts can pin it down.

import { decodeForm } from '../lib/form.mjs';

/**
 * Nearest-rank percentile (the value at rank ceil(p/100 * n) of the sorted samples): always one of the measured
 * values, never an interpolation between two, so "p99 = 4.1 ms" means a telegram really took 4.1 ms.
 * @param {number[]} samples
 * @param {number} p 0 < p <= 100
 * @returns {number}
 */
export function percentile(samples, p) {
  if (samples.length === 0) return Number.NaN;
  if (!(p > 0 && p <= 100)) throw new RangeError(`percentile must be in (0, 100], not ${p}`);
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1];
}

/** @param {number[]} samples */
export function median(samples) {
  return percentile(samples, 50);
}

/**
 * CPU seconds per 1000 telegrams from clock ticks of /proc/PID/stat.
 * @param {number} ticks utime+stime consumed
 * @param {number} ticksPerSecond sysconf(_SC_CLK_TCK), 100 on Linux
 * @param {number} telegrams how many were forwarded while the ticks were counted
 */
export function cpuSecondsPer1000(ticks, ticksPerSecond, telegrams) {
  if (telegrams <= 0) return Number.NaN;
  return (ticks / ticksPerSecond / telegrams) * 1000;
}

/**
 * Scales bytes seen over a run to bytes per hour.
 * @param {number} bytes
 * @param {number} seconds length of the run
 */
export function perHour(bytes, seconds) {
  if (!(seconds > 0)) return Number.NaN;
  return (bytes * 3600) / seconds;
}

/**
 * Telegrams per second from the arrival times of the first and last one: n telegrams span n-1 intervals.
 * @param {number} count
 * @param {number} firstMs
 * @param {number} lastMs
 */
export function ratePerSecond(count, firstMs, lastMs) {
  if (count < 2 || !(lastMs > firstMs)) return Number.NaN;
  return ((count - 1) * 1000) / (lastMs - firstMs);
}

/**
 * subject / peer, the way the table reads: below 1 means the subject needs less.
 * @param {number | undefined} subject
 * @param {number | undefined} peer
 */
export function ratio(subject, peer) {
  if (!Number.isFinite(subject) || !Number.isFinite(peer)) return Number.NaN;
  if (peer === 0) return subject === 0 ? 1 : Number.POSITIVE_INFINITY;
  return /** @type {number} */ (subject) / /** @type {number} */ (peer);
}

/**
 * A number for the table: `digits` decimals, thousands grouped by a plain space (no comma, which reads as a decimal
 * point in the Netherlands). NaN and undefined print as "n/a".
 * @param {number | undefined} value
 * @param {number} digits
 */
export function formatNumber(value, digits = 0) {
  if (value === undefined || Number.isNaN(value)) return 'n/a';
  if (!Number.isFinite(value)) return value > 0 ? 'inf' : '-inf';
  const fixed = Math.abs(value).toFixed(digits);
  const [whole, fraction] = fixed.split('.');
  const grouped = whole.replace(/\B(?=(\d{3})+(?!\d))/g, ' ');
  return `${value < 0 ? '-' : ''}${grouped}${fraction !== undefined ? `.${fraction}` : ''}`;
}

/** @param {number} value */
export function formatRatio(value) {
  if (Number.isNaN(value)) return '';
  if (!Number.isFinite(value)) return 'inf';
  return `${value < 0.1 ? value.toFixed(3) : value.toFixed(2)}x`;
}

/**
 * Left-aligns the first column and right-aligns the others, two spaces apart, with a rule under the header.
 * @param {string[]} header
 * @param {string[][]} rows
 * @returns {string}
 */
export function renderTable(header, rows) {
  const widths = header.map((cell, i) => Math.max(cell.length, ...rows.map((row) => (row[i] ?? '').length)));
  const line = (/** @type {string[]} */ cells) =>
    cells
      .map((cell, i) => (i === 0 ? (cell ?? '').padEnd(widths[i]) : (cell ?? '').padStart(widths[i])))
      .join('  ')
      .trimEnd();
  const rule = widths.map((w) => '-'.repeat(w)).join('  ');
  return [line(header), rule, ...rows.map(line)].join('\n');
}

/**
 * Splits a simulator's output into telegrams: each starts with "/" at the start of a line and ends with the line
 * that starts with "!" (CRC and line end included). Bytes outside a telegram are ignored.
 * @param {Buffer} bytes
 * @returns {Buffer[]}
 */
export function splitTelegrams(bytes) {
  const telegrams = [];
  let start = -1;
  let lineStart = 0;
  while (lineStart < bytes.length) {
    let lineEnd = bytes.indexOf(0x0a, lineStart);
    lineEnd = lineEnd === -1 ? bytes.length : lineEnd + 1;
    const first = bytes[lineStart];
    if (first === 0x2f /* / */) start = lineStart;
    else if (first === 0x21 /* ! */ && start !== -1) {
      telegrams.push(bytes.subarray(start, lineEnd));
      start = -1;
    }
    lineStart = lineEnd;
  }
  return telegrams;
}

/**
 * Strips trailing CR/LF: one datalogger forwards a telegram with the line end after its CRC, another without, and
 * both delivered the same telegram.
 * @param {Buffer} bytes
 */
export function withoutLineEnd(bytes) {
  let end = bytes.length;
  while (end > 0 && (bytes[end - 1] === 0x0a || bytes[end - 1] === 0x0d)) end--;
  return bytes.subarray(0, end);
}

/**
 * Decodes one field of an application/x-www-form-urlencoded body to raw bytes (never through a text decoding, so
 * any byte survives), or undefined when the field is absent.
 * @param {Buffer} body
 * @param {string} name
 * @returns {Buffer | undefined}
 */
export function formField(body, name) {
  return decodeForm(body).get(name);
}
