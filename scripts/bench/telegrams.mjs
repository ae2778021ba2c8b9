// The telegrams every subject is fed: from our own meter simulator (DSMR 5, valid CRCs, one second apart in meter
// time), generated once per bench run with a fixed seed so every run feeds the same bytes.
import { spawnSync } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { splitTelegrams } from './stats.mjs';

export const SIMULATOR_SEED = 20240101;
const START = '2026-01-01T00:00:00+01:00';

/** Writes `count` telegrams to `file` (the simulator's exact output) and returns them one by one. */
export function generateTelegrams({ repoRoot, file, count }) {
  const bundle = join(repoRoot, 'dist', 'dsmr-datalogger.cjs');
  if (!existsSync(bundle)) throw new Error(`${bundle} is missing: build it first (node scripts/build.mjs --bundle-only)`);
  const out = openSync(file, 'w');
  try {
    const result = spawnSync(
      process.execPath,
      [bundle, 'simulate', '--fast', '--count', String(count), '--seed', String(SIMULATOR_SEED), '--start', START],
      { stdio: ['ignore', out, 'pipe'], encoding: 'utf8' },
    );
    if (result.status !== 0) throw new Error(`the simulator failed (${result.status ?? result.signal}): ${result.stderr || result.error?.message}`);
  } finally {
    closeSync(out);
  }
  const telegrams = splitTelegrams(readFileSync(file));
  if (telegrams.length !== count) throw new Error(`the simulator wrote ${telegrams.length} telegrams, not ${count}`);
  return telegrams;
}
