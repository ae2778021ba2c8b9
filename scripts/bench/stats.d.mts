// Types for stats.mjs, so test/unit/bench-stats.test.ts type-checks under strict.
export function percentile(samples: number[], p: number): number;
export function median(samples: number[]): number;
export function cpuSecondsPer1000(ticks: number, ticksPerSecond: number, telegrams: number): number;
export function perHour(bytes: number, seconds: number): number;
export function ratePerSecond(count: number, firstMs: number, lastMs: number): number;
export function ratio(subject: number | undefined, peer: number | undefined): number;
export function formatNumber(value: number | undefined, digits?: number): string;
export function formatRatio(value: number): string;
export function renderTable(header: string[], rows: string[][]): string;
export function splitTelegrams(bytes: Buffer): Buffer[];
export function withoutLineEnd(bytes: Buffer): Buffer;
export function formField(body: Buffer, name: string): Buffer | undefined;
