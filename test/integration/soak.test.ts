// The short soak: the x64 executable for two minutes against a server that is away, then flaps; every telegram
// arrives, and resident memory does not grow with the backlog. `npm run soak` is the 20-minute run.
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { repoRoot } from '../helpers/fixtures.ts';

describe('soak (short)', () => {
  it('delivers everything and keeps resident memory flat while the backlog grows and drains', () => {
    const run = spawnSync(process.execPath, [join(repoRoot, 'scripts/soak.mjs'), '--quick'], { encoding: 'utf8', timeout: 300_000 });
    console.log(run.stdout);
    if (run.status !== 0) console.log(run.stderr);
    expect(run.stdout).toMatch(/\d+ telegrams delivered/);
    expect(run.stdout).toContain('soak: ok');
    expect(run.status).toBe(0);
  }, 320_000);
});
