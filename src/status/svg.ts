// A small line chart as inline SVG: no script, no external asset, readable on a phone.
import type { Point } from './history.ts';
import { escapeHtml } from './html.ts';

export interface ChartOptions {
  /** The time span shown, epoch ms. */
  from: number;
  to: number;
  /** Label of a value on the axis, e.g. "1.2 kW". */
  format(value: number): string;
  /** What the chart shows, for screen readers. */
  title: string;
  /** Values below zero are drawn in this colour (power fed into the grid). */
  negativeColor?: string;
}

const W = 320;
const H = 96;
const LEFT = 4;
const RIGHT = 316;
const TOP = 14;
const BOTTOM = 80;

export function lineChart(points: Point[], opts: ChartOptions): string {
  const head = `<svg class="chart" viewBox="0 0 ${W} ${H}" role="img" aria-label="${escapeHtml(opts.title)}" xmlns="http://www.w3.org/2000/svg">`;
  const frame = `<line x1="${LEFT}" y1="${BOTTOM}" x2="${RIGHT}" y2="${BOTTOM}" class="axis"/>`;
  const span = `<text x="${LEFT}" y="${H - 2}" class="label">−${Math.round((opts.to - opts.from) / 60000)} min</text><text x="${RIGHT}" y="${H - 2}" class="label" text-anchor="end">now</text>`;
  if (points.length === 0) return `${head}${frame}${span}<text x="${W / 2}" y="${(TOP + BOTTOM) / 2}" class="label" text-anchor="middle">no data yet</text></svg>`;

  const values = points.map((p) => p.value);
  // Zero is always in view, so that a level reads as an amount, not as a wiggle.
  const low = Math.min(0, ...values);
  const top = Math.max(0, ...values);
  const high = top > low ? top : low + 1;
  const x = (at: number) => LEFT + ((Math.min(Math.max(at, opts.from), opts.to) - opts.from) / (opts.to - opts.from)) * (RIGHT - LEFT);
  const y = (v: number) => BOTTOM - ((v - low) / (high - low)) * (BOTTOM - TOP);
  const coords = points.map((p) => `${x(p.at).toFixed(1)},${y(p.value).toFixed(1)}`);
  // A single sample is a short level line, not an invisible dot.
  if (points.length === 1) coords.unshift(`${Math.max(LEFT, x(points[0].at) - 6).toFixed(1)},${y(points[0].value).toFixed(1)}`);
  const zero = y(0).toFixed(1);
  const area = `<polygon class="area" points="${coords[0].split(',')[0]},${zero} ${coords.join(' ')} ${coords[coords.length - 1].split(',')[0]},${zero}"/>`;
  const line = `<polyline class="line" points="${coords.join(' ')}"/>`;
  const zeroLine = low < 0 ? `<line x1="${LEFT}" y1="${zero}" x2="${RIGHT}" y2="${zero}" class="zero"/>` : '';
  const below = low < 0 && opts.negativeColor ? belowZeroClip(zero, coords, opts.negativeColor) : '';
  const highLabel = `<text x="${LEFT}" y="10" class="label">${escapeHtml(opts.format(top))}</text>`;
  const bottom = low < 0 ? `<text x="${RIGHT}" y="10" class="label" text-anchor="end">min ${escapeHtml(opts.format(low))}</text>` : '';
  return `${head}${area}${line}${below}${zeroLine}${frame}${highLabel}${bottom}${span}</svg>`;
}

function belowZeroClip(zero: string, coords: string[], color: string): string {
  return `<clipPath id="below"><rect x="0" y="${zero}" width="${W}" height="${H}"/></clipPath><polyline points="${coords.join(' ')}" fill="none" stroke="${color}" stroke-width="2" clip-path="url(#below)"/>`;
}
