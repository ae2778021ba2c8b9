// GET /: one page for a person with a phone in the meter cupboard. Is the meter talking, is each server getting its
// telegrams, how large is the backlog, what is the power now, and the last hour of both. Server-rendered, no script,
// no external asset; it reloads itself.
import type { StatusDocument, OutputDocument } from './document.ts';
import type { Health } from './health.ts';
import type { History, Point } from './history.ts';
import { HISTORY_SPAN_MS, SAMPLE_INTERVAL_MS } from './history.ts';
import { escapeHtml as h } from './html.ts';
import { formatBytes, formatCount, formatDuration, formatKwh, formatPower, plural } from './format.ts';
import { lineChart } from './svg.ts';
import { netPowerW } from './reading.ts';

export const PAGE_REFRESH_S = SAMPLE_INTERVAL_MS / 1000;

export interface PageInput {
  doc: StatusDocument;
  health: Health;
  history: History;
  now: number;
}

const STYLE = `
*{box-sizing:border-box}
body{margin:0;font:16px/1.4 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;background:#f3f4f6;color:#111827}
main{max-width:34rem;margin:0 auto;padding:.75rem}
h1{font-size:1.1rem;margin:.25rem 0 .75rem}
h2{font-size:.95rem;margin:0 0 .25rem;color:#374151;overflow-wrap:anywhere}
section{background:#fff;border-radius:.6rem;padding:.75rem;margin:0 0 .75rem;border-left:.4rem solid #9ca3af}
section.ok{border-left-color:#16a34a}
section.bad{border-left-color:#dc2626}
.big{font-size:1.5rem;font-weight:600;margin:.1rem 0}
.ok .big{color:#15803d}
.bad .big{color:#b91c1c}
.banner{font-weight:600}
.banner ul{margin:.25rem 0 0;padding-left:1.2rem;font-weight:400}
.muted{color:#6b7280;font-size:.85rem;margin:.2rem 0}
dl{display:grid;grid-template-columns:auto 1fr;gap:.1rem .75rem;margin:.4rem 0 0;font-size:.9rem}
dt{color:#6b7280}
dd{margin:0;font-variant-numeric:tabular-nums;overflow-wrap:anywhere}
.chart{width:100%;height:auto;display:block;margin-top:.4rem}
.chart .line{fill:none;stroke:#2563eb;stroke-width:2}
.chart .area{fill:#2563eb;fill-opacity:.12}
.chart .axis{stroke:#9ca3af;stroke-width:1}
.chart .zero{stroke:#6b7280;stroke-width:1;stroke-dasharray:3 3}
.chart .label{font-size:10px;fill:#6b7280}
footer{color:#6b7280;font-size:.8rem;text-align:center;padding:.25rem 0 1rem}
`;

export function renderPage({ doc, health, history, now }: PageInput): string {
  const from = now - HISTORY_SPAN_MS;
  const subjects = new Set(health.problems.map((p) => p.subject));
  const body = [
    banner(doc),
    meterCard(doc, !subjects.has('input'), now),
    powerCard(doc, history.powerSince(from), from, now),
    ...doc.outputs.map((o) => outputCard(o, !subjects.has(o.name), history.backlogSince(o.name, from), from, now)),
  ].join('\n');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1">
<meta http-equiv="refresh" content="${PAGE_REFRESH_S}">
<title>${doc.healthy ? 'OK' : 'Attention'} · dsmr-datalogger</title>
<style>${STYLE}</style>
</head>
<body>
<main>
<h1>dsmr-datalogger</h1>
${body}
<footer>version ${h(doc.version)} · up ${formatDuration(doc.uptimeSeconds * 1000)} · as of ${h(doc.now.slice(11, 19))} UTC · reloads every ${PAGE_REFRESH_S} s</footer>
</main>
</body>
</html>
`;
}

function banner(doc: StatusDocument): string {
  if (doc.healthy) return `<section class="ok banner" id="health">All is well</section>`;
  const items = doc.problems.map((p) => `<li>${h(p)}</li>`).join('');
  return `<section class="bad banner" id="health">Needs attention<ul>${items}</ul></section>`;
}

function meterCard(doc: StatusDocument, ok: boolean, now: number): string {
  const input = doc.input;
  const age = input.lastTelegramAgeSeconds;
  const headline = ok ? 'Talking' : age === null ? 'Not heard yet' : 'Silent';
  const last = age === null ? 'no telegram yet' : `last telegram ${formatDuration(age * 1000)} ago`;
  return `<section class="${ok ? 'ok' : 'bad'}" id="meter">
<h2>Meter</h2>
<p class="big">${headline}</p>
<p class="muted">${h(last)} · ${h(input.kind)} ${h(input.target)}${input.line ? ` ${h(input.line)}` : ''} · ${h(input.state)} for ${formatDuration(now - Date.parse(input.since))}</p>
<dl>
<dt>telegrams</dt><dd id="telegrams">${formatCount(input.telegramsAccepted)}</dd>
<dt>CRC failures</dt><dd>${formatCount(input.crcFailures)}</dd>
<dt>cut off / oversized</dt><dd>${formatCount(input.cutOffFrames)} / ${formatCount(input.oversizedFrames)}</dd>
${input.decryptionFailures ? `<dt>not decrypted</dt><dd>${formatCount(input.decryptionFailures)}</dd>` : ''}
${input.stalls ? `<dt>stalls</dt><dd>${formatCount(input.stalls)}</dd>` : ''}
</dl>
</section>`;
}

function powerCard(doc: StatusDocument, points: Point[], from: number, now: number): string {
  const latest = doc.latest;
  const net = latest ? netPowerW(latest) : undefined;
  if (!latest || net === undefined) {
    return `<section id="power"><h2>Power now</h2><p class="big">—</p><p class="muted">no reading yet</p>${lineChart(points, chartOptions(from, now))}</section>`;
  }
  // The chart ends at the reading shown above it, not at the last sample up to 15 s before.
  const live = [...points, { at: Date.parse(latest.receivedAt), value: net }];
  const direction = net >= 0 ? 'from the grid' : 'into the grid';
  const totals = [
    latest.delivered.totalKwh !== null ? `<dt>taken, total</dt><dd id="delivered-total">${formatKwh(latest.delivered.totalKwh)}</dd>` : '',
    ...Object.entries(latest.delivered.tariffs).map(([t, kwh]) => `<dt>taken, tariff ${h(t)}</dt><dd>${formatKwh(kwh)}</dd>`),
    latest.returned.totalKwh ? `<dt>fed in, total</dt><dd>${formatKwh(latest.returned.totalKwh)}</dd>` : '',
    latest.gasM3 !== null ? `<dt>gas</dt><dd>${latest.gasM3.toFixed(3)} m³</dd>` : '',
  ].join('');
  return `<section id="power">
<h2>Power now</h2>
<p class="big" id="power-now">${formatPower(net)} <small>${direction}</small></p>
<p class="muted">meter time ${h(latest.meterTime?.slice(0, 19).replace('T', ' ') ?? 'unknown')} · received ${formatDuration(latest.ageSeconds * 1000)} ago</p>
${lineChart(live, chartOptions(from, now))}
<dl>${totals}</dl>
</section>`;
}

function chartOptions(from: number, now: number) {
  return { from, to: now, title: 'net power over the last hour', format: (w: number) => `${w < 0 ? '−' : ''}${formatPower(w)}`, negativeColor: '#16a34a' };
}

function outputCard(o: OutputDocument, ok: boolean, points: Point[], from: number, now: number): string {
  const waiting = o.queuedInMemory + o.spooledTelegrams;
  const since = formatDuration(now - Date.parse(o.since));
  const headline = o.state === 'up' ? (ok ? 'Getting its telegrams' : 'Falling behind') : o.state === 'refused' ? `Refusing, for ${since}` : `Unavailable, for ${since}`;
  const backlog = waiting === 0
    ? 'nothing waiting'
    : `${plural(waiting, 'telegram')} waiting${o.spooledBytes ? ` (${formatBytes(o.spooledBytes)} on disk)` : ''}${o.oldestWaitingAgeSeconds !== null ? `, oldest ${formatDuration(o.oldestWaitingAgeSeconds * 1000)}` : ''}`;
  const answer = o.lastAnswer ? `${o.lastAnswer}${o.lastAnswerAt ? `, ${formatDuration(now - Date.parse(o.lastAnswerAt))} ago` : ''}` : 'none yet';
  const live = [...points, { at: now, value: waiting }];
  return `<section class="${ok && o.state === 'up' ? 'ok' : 'bad'} output">
<h2>${h(o.target)}</h2>
<p class="big">${headline}</p>
<p class="muted">backlog: <span class="backlog">${h(backlog)}</span></p>
${lineChart(live, { from, to: now, title: `backlog of ${o.name} over the last hour`, format: (n: number) => formatCount(Math.round(n)) })}
<dl>
<dt>delivered</dt><dd class="delivered">${formatCount(o.delivered)}</dd>
<dt>last answer</dt><dd>${h(answer)}</dd>
${o.rejected ? `<dt>set aside</dt><dd>${formatCount(o.rejected)}</dd>` : ''}
${o.droppedSpoolFull ? `<dt>dropped, spool full</dt><dd>${formatCount(o.droppedSpoolFull)}</dd>` : ''}
</dl>
</section>`;
}
