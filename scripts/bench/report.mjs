// The one table: every figure for the subject, the peer beside it with subject/peer, and the target with a
// verdict for the subject. Pure: results in, text out.
import { formatNumber, formatRatio, ratio, renderTable } from './stats.mjs';

const MIB = 1048576;

/**
 * @typedef {{ max?: number, min?: number, maxRatio?: number, text: string }} Target
 * @typedef {{ label: string, digits: number, value: (r: any) => number | undefined, target?: Target }} Figure
 */

/** @type {Figure[]} */
export const FIGURES = [
  { label: 'CPU s per 1000 telegrams, fast feed', digits: 3, value: (r) => r.steady?.cpuFastPer1000, target: { maxRatio: 0.25, text: '<= 0.25x peer' } },
  { label: '  of which system (kernel)', digits: 3, value: (r) => r.steady?.cpuFastSplitPer1000?.system },
  { label: 'CPU s per 1000 telegrams, paced', digits: 3, value: (r) => r.steady?.cpuPacedPer1000 },
  { label: '  of which system (kernel)', digits: 3, value: (r) => r.steady?.cpuPacedSplitPer1000?.system },
  { label: 'throughput, fast feed (telegrams/s)', digits: 0, value: (r) => r.steady?.fast?.telegramsPerSecond },
  { label: 'resident memory, idle (MiB)', digits: 1, value: (r) => mib(r.steady?.idleRssBytes), target: { max: 55, text: '<= 55' } },
  { label: '  of which anonymous (MiB)', digits: 1, value: (r) => mib(r.steady?.idleAnonBytes) },
  { label: '  of which file-backed (MiB)', digits: 1, value: (r) => mib(r.steady?.idleFileBytes) },
  { label: 'resident memory, peak forwarding (MiB)', digits: 1, value: (r) => mib(r.steady?.hwmBytes), target: { max: 60, text: '<= 60' } },
  { label: '  anonymous, peak sampled (MiB)', digits: 1, value: (r) => mib(r.steady?.forwardingPeakAnonBytes) },
  { label: 'latency p50 (ms)', digits: 2, value: (r) => r.steady?.latencyMs?.p50 },
  { label: 'latency p99 (ms)', digits: 2, value: (r) => r.steady?.latencyMs?.p99, target: { max: 5, text: '<= 5' } },
  { label: 'start-up until port open, median (ms)', digits: 0, value: (r) => r.startup?.warmMedianMs, target: { max: 300, text: '<= 300' } },
  { label: 'start-up, first run on empty data dir (ms)', digits: 0, value: (r) => r.startup?.firstRunMs },
  { label: 'backlog replay (telegrams/s)', digits: 0, value: (r) => r.replay?.telegramsPerSecond, target: { min: 1000, text: '>= 1000' } },
  { label: 'resident memory, peak replaying (MiB)', digits: 1, value: (r) => mib(r.replay?.hwmBytes), target: { max: 60, text: '<= 60' } },
  { label: '  anonymous, peak sampled (MiB)', digits: 1, value: (r) => mib(r.replay?.peakAnonBytes) },
  { label: 'disk writes per hour, healthy (bytes)', digits: 0, value: (r) => r.steady?.healthy?.writeBytesPerHour, target: { max: 0, text: '0' } },
  { label: 'disk writes, fast feed (bytes)', digits: 0, value: (r) => r.steady?.fast?.writeBytes },
  { label: 'data dir growth per hour, healthy (bytes)', digits: 0, value: (r) => r.steady?.healthy?.dataDirGrowthPerHour, target: { max: 0, text: '0' } },
  { label: 'TCP connections per 1000 telegrams', digits: 0, value: (r) => r.steady?.connectionsPer1000 },
  { label: 'SIGTERM until exit (ms)', digits: 0, value: (r) => r.steady?.stop?.ms, target: { max: 10_000, text: '<= 10000' } },
  { label: 'program file (MiB)', digits: 3, value: (r) => mib(r.programBytes) },
  { label: 'files mapped while running (MiB)', digits: 1, value: (r) => mib(r.steady?.mappedFilesBytes) },
];

/** @param {number | undefined} bytes */
function mib(bytes) {
  return bytes === undefined ? undefined : bytes / MIB;
}

/**
 * 'ok', 'MISS', or '' when the figure has no target, or 'n/a' when it cannot be judged (no value, or no peer for
 * a target relative to the peer).
 * @param {Target | undefined} target
 * @param {number | undefined} value
 * @param {number | undefined} peerValue
 */
export function verdict(target, value, peerValue) {
  if (!target) return '';
  if (value === undefined || Number.isNaN(value)) return 'n/a';
  if (target.maxRatio !== undefined) {
    const r = ratio(value, peerValue);
    return Number.isNaN(r) ? 'n/a' : r <= target.maxRatio ? 'ok' : 'MISS';
  }
  if (target.max !== undefined && value > target.max) return 'MISS';
  if (target.min !== undefined && value < target.min) return 'MISS';
  return 'ok';
}

/**
 * @param {{ subject: any, peer?: any, artifacts: { name: string, bytes: number }[] }} results
 * @returns {{ text: string, rows: any[], missed: string[] }}
 */
export function buildReport({ subject, peer, artifacts }) {
  const header = peer ? ['figure', 'subject', 'peer', 'subject/peer', 'target', 'verdict'] : ['figure', 'subject', 'target', 'verdict'];
  const rows = [];
  const json = [];
  const missed = [];
  for (const figure of FIGURES) {
    const value = figure.value(subject);
    const peerValue = peer ? figure.value(peer) : undefined;
    const judged = verdict(figure.target, value, peerValue);
    if (judged === 'MISS') missed.push(figure.label);
    const cells = [figure.label, formatNumber(value, figure.digits)];
    if (peer) cells.push(formatNumber(peerValue, figure.digits), formatRatio(ratio(value, peerValue)));
    cells.push(figure.target?.text ?? '', judged);
    rows.push(cells);
    json.push({ figure: figure.label, subject: value ?? null, peer: peer ? (peerValue ?? null) : undefined, target: figure.target?.text, verdict: judged });
  }
  for (const artifact of artifacts) {
    const label = `size of ${artifact.name} (MiB)`;
    const cells = [label, formatNumber(artifact.bytes / MIB, 2)];
    if (peer) cells.push('', '');
    cells.push('', '');
    rows.push(cells);
    json.push({ figure: label, subject: artifact.bytes / MIB });
  }
  return { text: renderTable(header, rows), rows: json, missed };
}
