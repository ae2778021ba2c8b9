// The one table: every figure for the subject, memory also as a ratio to stock Node idling (measured in the same run),
// the peer beside it with subject/peer, and the target with a verdict for the subject. Pure: results in,
// text out.
import { formatNumber, formatRatio, ratio, renderTable } from './stats.mjs';

const MIB = 1048576;

/**
 * max/min: the figure itself; maxRatio: subject/peer; maxFloorRatio: the figure over stock Node's idle memory.
 * @typedef {{ max?: number, min?: number, maxRatio?: number, maxFloorRatio?: number, text: string }} Target
 * @typedef {{ label: string, digits: number, value: (r: any) => number | undefined, target?: Target,
 *   memory?: boolean, peer?: boolean }} Figure
 */

/** The output set-ups the bench runs, in order; `api` is the one the peer is measured in too. */
export const SETUPS = [
  { key: 'api', label: 'API only' },
  { key: 'nostatus', label: 'API only, status endpoint off' },
  { key: 'mqtt', label: 'API + MQTT' },
];

/** @param {number | undefined} bytes */
function mib(bytes) {
  return bytes === undefined ? undefined : bytes / MIB;
}

/** a - b, or undefined when either is missing. */
function minus(a, b) {
  return a === undefined || b === undefined ? undefined : a - b;
}

const steadyOf = (r, key) => r.setups?.[key]?.steady;
const startupOf = (r, key) => r.setups?.[key]?.startup;

/** @returns {Figure[]} the figures of one set-up's long run and start-up */
function setupFigures({ key, label }) {
  const api = key === 'api';
  const s = (r) => steadyOf(r, key);
  /** @type {Figure[]} */
  const figures = [
    { label: `${label}: resident memory, idle (MiB)`, digits: 1, memory: true, peer: api, value: (r) => mib(s(r)?.idleRssBytes), target: api ? { maxFloorRatio: 1.1, text: '<= 1.10x Node' } : undefined },
    { label: '  of which anonymous (MiB)', digits: 1, memory: true, peer: api, value: (r) => mib(s(r)?.idleAnonBytes) },
    { label: '  of which file-backed (MiB)', digits: 1, memory: true, peer: api, value: (r) => mib(s(r)?.idleFileBytes) },
    { label: `${label}: resident memory, peak forwarding (MiB)`, digits: 1, memory: true, peer: api, value: (r) => mib(s(r)?.hwmBytes), target: api ? { maxFloorRatio: 1.25, text: '<= 1.25x Node' } : undefined },
    { label: '  anonymous, peak sampled (MiB)', digits: 1, memory: true, peer: api, value: (r) => mib(s(r)?.forwardingPeakAnonBytes) },
    { label: `${label}: latency p50 (ms)`, digits: 2, peer: api, value: (r) => s(r)?.latencyMs?.p50 },
    { label: `${label}: latency p99 (ms)`, digits: 2, peer: api, value: (r) => s(r)?.latencyMs?.p99, target: { max: 3, text: '<= 3' } },
    { label: `${label}: CPU s per 1000 telegrams, paced`, digits: 3, peer: api, value: (r) => s(r)?.cpuPacedPer1000, target: api ? { maxRatio: 0.15, text: '<= 0.15x peer' } : undefined },
    { label: '  of which system (kernel)', digits: 3, peer: api, value: (r) => s(r)?.cpuPacedSplitPer1000?.system },
    { label: `${label}: CPU s per 1000 telegrams, fast feed`, digits: 3, peer: api, value: (r) => s(r)?.cpuFastPer1000, target: api ? { maxRatio: 0.05, text: '<= 0.05x peer' } : undefined },
    { label: '  of which system (kernel)', digits: 3, peer: api, value: (r) => s(r)?.cpuFastSplitPer1000?.system },
    { label: `${label}: throughput, fast feed (telegrams/s)`, digits: 0, peer: api, value: (r) => s(r)?.fast?.telegramsPerSecond },
    { label: `${label}: start-up until port open, median (ms)`, digits: 0, peer: api, value: (r) => startupOf(r, key)?.warmMedianMs, target: { max: 150, text: '<= 150' } },
    { label: `${label}: disk writes per hour, healthy (bytes)`, digits: 0, peer: api, value: (r) => s(r)?.healthy?.writeBytesPerHour, target: { max: 0, text: '0' } },
  ];
  if (api) {
    figures.push(
      { label: 'start-up, first run on empty data dir (ms)', digits: 0, peer: true, value: (r) => startupOf(r, key)?.firstRunMs },
      { label: 'data dir growth per hour, healthy (bytes)', digits: 0, peer: true, value: (r) => s(r)?.healthy?.dataDirGrowthPerHour, target: { max: 0, text: '0' } },
      { label: 'disk writes, fast feed (bytes)', digits: 0, peer: true, value: (r) => s(r)?.fast?.writeBytes },
      { label: 'TCP connections per 1000 telegrams', digits: 0, peer: true, value: (r) => s(r)?.connectionsPer1000 },
      { label: 'SIGTERM until exit (ms)', digits: 0, peer: true, value: (r) => s(r)?.stop?.ms, target: { max: 10_000, text: '<= 10000' } },
      { label: 'files mapped while running (MiB)', digits: 1, peer: true, value: (r) => mib(s(r)?.mappedFilesBytes) },
    );
  }
  return figures;
}

/** What one set-up costs over another, idle and at the forwarding peak. */
function addedFigures(label, key, baseKey, maxMib) {
  const target = { max: maxMib, text: `<= ${maxMib}` };
  return [
    { label: `${label} adds, idle (MiB)`, digits: 1, value: (r) => mib(minus(steadyOf(r, key)?.idleRssBytes, steadyOf(r, baseKey)?.idleRssBytes)), target },
    { label: `${label} adds, peak forwarding (MiB)`, digits: 1, value: (r) => mib(minus(steadyOf(r, key)?.hwmBytes, steadyOf(r, baseKey)?.hwmBytes)), target },
  ];
}

/** @type {Figure[]} */
export const FIGURES = [
  { label: 'stock Node idle, empty timer (MiB)', digits: 1, memory: true, value: (r) => mib(r.floor?.rssBytes) },
  { label: '  of which anonymous (MiB)', digits: 1, memory: true, value: (r) => mib(r.floor?.anonBytes) },
  { label: '  of which file-backed (MiB)', digits: 1, memory: true, value: (r) => mib(r.floor?.fileBytes) },
  { label: "stock Node after work, the subject's built-ins (MiB)", digits: 1, memory: true, value: (r) => mib(r.workingRuntime?.rssBytes) },
  { label: '  of which anonymous (MiB)', digits: 1, memory: true, value: (r) => mib(r.workingRuntime?.anonBytes) },
  { label: '  of which file-backed (MiB)', digits: 1, memory: true, value: (r) => mib(r.workingRuntime?.fileBytes) },
  ...SETUPS.flatMap(setupFigures),
  ...addedFigures('MQTT on', 'mqtt', 'api', 4),
  ...addedFigures('status endpoint on', 'api', 'nostatus', 2),
  { label: 'backlog replay (telegrams/s)', digits: 0, value: (r) => r.replay?.telegramsPerSecond, target: { min: 2000, text: '>= 2000' } },
  { label: 'resident memory, peak replaying (MiB)', digits: 1, memory: true, value: (r) => mib(r.replay?.hwmBytes), target: { maxFloorRatio: 1.35, text: '<= 1.35x Node' } },
  { label: '  anonymous, peak sampled (MiB)', digits: 1, memory: true, value: (r) => mib(r.replay?.peakAnonBytes) },
  { label: 'start-up with a full spool, until port open (ms)', digits: 0, value: (r) => r.replay?.readyMs },
  { label: 'disk bytes written per telegram byte, spooling', digits: 2, value: (r) => r.replay?.fill?.writeAmplification, target: { max: 1.1, text: '<= 1.1' } },
  { label: '  bytes handed to write() per telegram byte', digits: 2, value: (r) => r.replay?.fill?.wcharAmplification },
  { label: '  spool on disk per telegram byte', digits: 2, value: (r) => r.replay?.fill?.spoolAmplification },
  { label: 'program file (MiB)', digits: 3, peer: true, value: (r) => mib(r.programBytes) },
];

/**
 * 'ok', 'MISS', or '' when the figure has no target, or 'n/a' when it cannot be judged (no value, or no peer / no
 * floor for a target relative to one).
 * @param {Target | undefined} target
 * @param {number | undefined} value
 * @param {number | undefined} peerValue
 * @param {number} [floorMib] stock Node's idle resident memory, for maxFloorRatio
 */
export function verdict(target, value, peerValue, floorMib) {
  if (!target) return '';
  if (value === undefined || Number.isNaN(value)) return 'n/a';
  if (target.maxRatio !== undefined) {
    const r = ratio(value, peerValue);
    return Number.isNaN(r) ? 'n/a' : r <= target.maxRatio ? 'ok' : 'MISS';
  }
  if (target.maxFloorRatio !== undefined) {
    const r = ratio(value, floorMib);
    return Number.isNaN(r) ? 'n/a' : r <= target.maxFloorRatio ? 'ok' : 'MISS';
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
  const header = ['figure', 'subject', 'x Node', ...(peer ? ['peer', 'subject/peer'] : []), 'target', 'verdict'];
  const floorMib = mib(subject.floor?.rssBytes);
  const rows = [];
  const json = [];
  const missed = [];
  let parent = '';
  for (const figure of FIGURES) {
    const value = figure.value(subject);
    // Sub-rows ("  of which ...") have no figure without their parent; a set-up or phase that was not run has none.
    if (!figure.label.startsWith(' ')) parent = figure.label;
    if (value === undefined && !figure.target) continue;
    const peerValue = peer && figure.peer ? figure.value(peer) : undefined;
    const judged = verdict(figure.target, value, peerValue, floorMib);
    if (judged === 'MISS') missed.push(figure.label.startsWith(' ') ? `${parent} (${figure.label.trim()})` : figure.label);
    const vsFloor = figure.memory ? ratio(value, floorMib) : Number.NaN;
    const cells = [figure.label, formatNumber(value, figure.digits), formatRatio(vsFloor)];
    if (peer) cells.push(figure.peer ? formatNumber(peerValue, figure.digits) : '', figure.peer ? formatRatio(ratio(value, peerValue)) : '');
    cells.push(figure.target?.text ?? '', judged);
    rows.push(cells);
    json.push({ figure: figure.label, subject: value ?? null, timesNode: Number.isNaN(vsFloor) ? undefined : vsFloor, peer: peer && figure.peer ? (peerValue ?? null) : undefined, target: figure.target?.text, verdict: judged });
  }
  for (const artifact of artifacts) {
    const label = `size of ${artifact.name} (MiB)`;
    const cells = [label, formatNumber(artifact.bytes / MIB, 2), ''];
    if (peer) cells.push('', '');
    cells.push('', '');
    rows.push(cells);
    json.push({ figure: label, subject: artifact.bytes / MIB });
  }
  return { text: renderTable(header, rows), rows: json, missed };
}
