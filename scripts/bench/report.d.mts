// Types for report.mjs, so test/unit/bench-stats.test.ts type-checks under strict.
export interface Target {
  max?: number;
  min?: number;
  maxRatio?: number;
  text: string;
}
export interface Figure {
  label: string;
  digits: number;
  value: (results: any) => number | undefined;
  target?: Target;
}
export const FIGURES: Figure[];
export function verdict(target: Target | undefined, value: number | undefined, peerValue: number | undefined): '' | 'ok' | 'MISS' | 'n/a';
export function buildReport(results: { subject: any; peer?: any; artifacts: { name: string; bytes: number }[] }): {
  text: string;
  rows: unknown[];
  missed: string[];
};
