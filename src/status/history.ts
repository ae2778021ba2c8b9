// The last hour of power and backlog, for the page's charts: a fixed ring of samples, never more, never on disk.

export const HISTORY_SPAN_MS = 60 * 60 * 1000;
export const SAMPLE_INTERVAL_MS = 15_000;

export interface Point {
  at: number;
  value: number;
}

export class History {
  readonly capacity: number;
  private readonly at: Float64Array;
  /** Net power in watts (delivered minus returned); NaN while there is no reading. */
  private readonly power: Float32Array;
  /** Per output: telegrams waiting. Float32 holds whole numbers exactly up to 16 million. */
  private readonly backlogs = new Map<string, Float32Array>();
  /** Index the next sample goes to. */
  private next = 0;
  private size = 0;

  constructor(spanMs = HISTORY_SPAN_MS, intervalMs = SAMPLE_INTERVAL_MS) {
    this.capacity = Math.ceil(spanMs / intervalMs) + 1;
    this.at = new Float64Array(this.capacity);
    this.power = new Float32Array(this.capacity);
  }

  add(at: number, powerW: number | undefined, backlog: Map<string, number>): void {
    const i = this.next;
    this.at[i] = at;
    this.power[i] = powerW ?? NaN;
    for (const [name, waiting] of backlog) {
      let series = this.backlogs.get(name);
      if (!series) {
        series = new Float32Array(this.capacity).fill(NaN);
        this.backlogs.set(name, series);
      }
      series[i] = waiting;
    }
    this.next = (i + 1) % this.capacity;
    this.size = Math.min(this.size + 1, this.capacity);
  }

  get length(): number {
    return this.size;
  }

  /** Net power samples since `from`, oldest first; gaps without a reading left out. */
  powerSince(from: number): Point[] {
    return this.points(this.power, from);
  }

  backlogSince(name: string, from: number): Point[] {
    const series = this.backlogs.get(name);
    return series ? this.points(series, from) : [];
  }

  /** Bytes held by the samples: fixed once every output has been seen. */
  get memoryBytes(): number {
    let bytes = this.at.byteLength + this.power.byteLength;
    for (const series of this.backlogs.values()) bytes += series.byteLength;
    return bytes;
  }

  private points(series: Float32Array, from: number): Point[] {
    const out: Point[] = [];
    for (let k = 0; k < this.size; k++) {
      const i = (this.next - this.size + k + this.capacity) % this.capacity;
      const value = series[i];
      if (this.at[i] >= from && !Number.isNaN(value)) out.push({ at: this.at[i], value });
    }
    return out;
  }
}
