// Types for report.mjs, so test/unit/bench-stats.test.ts type-checks under strict.
export interface Target {
  max?: number;
  min?: number;
  maxRatio?: number;
  maxFloorRatio?: number;
  text: string;
}
export interface Figure {
  label: string;
  digits: number;
  value: (results: any) => number | undefined;
  target?: Target;
  memory?: boolean;
  peer?: boolean;
}
export const SETUPS: { key: string; label: string }[];
export const FIGURES: Figure[];
export function verdict(target: Target | undefined, value: number | undefined, peerValue: number | undefined, floorMib?: number): '' | 'ok' | 'MISS' | 'n/a';
export function buildReport(results: { subject: any; peer?: any; artifacts: { name: string; bytes: number }[] }): {
  text: string;
  rows: unknown[];
  missed: string[];
};
