// The README's first command: scripts/demo.mjs runs the built executable as simulated meter and as datalogger,
// with a stand-in DSMR-reader API. Needs `npm run build` first; skipped without dist/.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { waitFor } from '../helpers/wait.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const built = existsSync(resolve(ROOT, 'dist/dsmr-datalogger.cjs'));

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe.skipIf(!built)('scripts/demo.mjs', () => {
  it('forwards simulated telegrams to the stand-in API and stops everything on SIGINT', async () => {
    const demo = spawn(process.execPath, [resolve(ROOT, 'scripts/demo.mjs')], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    demo.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    demo.stderr.on('data', (chunk: Buffer) => (out += chunk.toString()));
    const exit = new Promise<number | null>((done) => demo.on('close', (code) => done(code)));
    try {
      await waitFor(() => /api +telegram 2: \d+ bytes, power [+-]\d+\.\d{3} kW/.test(out), { timeoutMs: 30_000, what: 'two telegrams at the stand-in API' }).catch(
        (error: Error) => {
          throw new Error(`${error.message}; demo output:\n${out}`);
        },
      );
      const dataDir = /data in (\S+)/.exec(out)![1];
      expect(existsSync(dataDir)).toBe(true);
      demo.kill('SIGINT');
      expect(await exit).toBe(0);
      expect(out).toMatch(/the stand-in API received \d+ telegrams/);
      expect(existsSync(dataDir)).toBe(false);
      // Both children were stopped before the demo exited.
      expect(out).toMatch(/meter +INFO stopped after \d+ telegrams/);
    } finally {
      if (demo.pid !== undefined && isRunning(demo.pid)) demo.kill('SIGKILL');
    }
  });

  it('rejects an unknown argument with status 2', async () => {
    const demo = spawn(process.execPath, [resolve(ROOT, 'scripts/demo.mjs'), '--minutes', '3'], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    demo.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
    expect(await new Promise((done) => demo.on('close', done))).toBe(2);
    expect(err).toMatch(/unknown argument "--minutes"/);
  });
});
