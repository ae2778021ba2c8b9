// A process using the spool, killed with SIGKILL at random moments, leaves a spool that opens without loss: every
// record that reached write(2) is there, in order, and the cursor never passes what was acknowledged.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_SPOOL_MAX_BYTES, Spool } from '../../src/buffers/spool/index.ts';
import { repoRoot, telegramsDir } from '../helpers/fixtures.ts';
import { waitFor } from '../helpers/wait.ts';

const TELEGRAM = readFileSync(join(telegramsDir, 'dsmr-reader/test_fluvius__TestDatalogger.txt'));

function numberOf(payload: Buffer): number {
  return Number(payload.subarray(payload.length - 7).toString());
}

let root: string;
beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'spool-kill-'));
});
afterAll(() => {
  rmSync(root, { recursive: true, force: true });
});

async function openAndReadAll(dir: string): Promise<{ numbers: number[]; spool: Spool }> {
  const spool = await Spool.open({ dir, maxBytes: DEFAULT_SPOOL_MAX_BYTES });
  const numbers = (await spool.readBatch(Number.MAX_SAFE_INTEGER)).map(numberOf);
  return { numbers, spool };
}

describe('Spool', () => {
  describe('killed with SIGKILL at random moments', () => {
    let driver: string;
    beforeAll(async () => {
      // The driver runs in its own node process so it can be killed; bundle it from TypeScript like the product.
      driver = join(root, 'spool-kill-driver.mjs');
      const source = `
        import { Spool } from ${JSON.stringify(join(repoRoot, 'src/buffers/spool/index.ts'))};
        const [dir, payloadHex] = process.argv.slice(2);
        const base = Buffer.from(payloadHex, 'hex');
        const spool = await Spool.open({ dir, maxBytes: 1e12, segmentBytes: 64 * 1024, cursorIntervalMs: 20, fsyncIntervalMs: 50 });
        const first = await spool.readBatch(1);
        let next = first.length ? Number(first[0].subarray(first[0].length - 7).toString()) + spool.count : 0;
        const say = (line) => process.stdout.write(line + '\\n');
        say('ready ' + next);
        let round = 0;
        for (;;) {
          const n = 1 + (round++ % 7);
          for (let i = 0; i < n; i++) spool.append(Buffer.concat([base, Buffer.from('#' + String(next++).padStart(7, '0'))]));
          await spool.drain();
          say('written ' + (next - 1));
          if (round % 3 === 0) {
            const batch = await spool.readBatch(1 + (round % 11));
            const acked = Math.max(1, batch.length - 1);
            if (batch.length) {
              // Said before acknowledging: the spool may never be further along than the last line.
              say('acking ' + Number(batch[acked - 1].subarray(batch[acked - 1].length - 7).toString()));
              await spool.ack(acked);
            }
          }
          if (round % 50 === 0) await new Promise((r) => setTimeout(r, 1));
        }
      `;
      const entry = join(root, 'spool-kill-driver.ts');
      writeFileSync(entry, source);
      await build({ entryPoints: [entry], bundle: true, platform: 'node', format: 'esm', target: 'node18', outfile: driver, logLevel: 'error' });
    });

    it('leaves a spool that opens with every unacknowledged record written before the kill, in order', async () => {
      const dir = join(root, 'spool');
      let seed = 4242;
      const random = (n: number) => {
        seed = (seed * 1103515245 + 12345) % 2147483648;
        return seed % n;
      };
      let lastAckedEver = -1;
      for (let run = 0; run < 8; run++) {
        const child = spawn(process.execPath, [driver, dir, TELEGRAM.subarray(0, 200).toString('hex')], { stdio: ['ignore', 'pipe', 'inherit'] });
        let out = '';
        child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
        await waitFor(() => /\bready \d+/.test(out), { what: 'the driver to open the spool' });
        const startedAt = out.length;
        // Let it run for a random while past its first writes, then kill it mid-flight.
        const target = 200 + random(3000);
        await waitFor(() => (out.slice(startedAt).match(/written/g)?.length ?? 0) >= target / 10, { what: 'driver progress' });
        child.kill('SIGKILL');
        await new Promise((resolve) => child.once('exit', resolve));

        const lines = out.split('\n');
        const written = Math.max(...lines.filter((l) => l.startsWith('written ')).map((l) => Number(l.slice(8))));
        const acking = lines.filter((l) => l.startsWith('acking ')).map((l) => Number(l.slice(7)));
        if (acking.length) lastAckedEver = Math.max(lastAckedEver, ...acking);

        const { numbers, spool } = await openAndReadAll(dir);
        // Contiguous and in order: nothing lost in the middle, nothing reordered.
        expect(numbers.length, `run ${run}`).toBeGreaterThan(0);
        expect(numbers, `run ${run}`).toEqual(numbers.map((_, i) => numbers[0] + i));
        // Nothing unacknowledged is lost at the front (the cursor never passes what was acknowledged) ...
        expect(numbers[0], `run ${run}`).toBeLessThanOrEqual(lastAckedEver + 1);
        // ... and everything that reached write(2) before the kill is there.
        expect(numbers[numbers.length - 1], `run ${run}`).toBeGreaterThanOrEqual(written);
        // A kill can tear at most the record being written.
        expect(spool.stats.corruptSkipped, `run ${run}`).toBeLessThanOrEqual(1);
        await spool.close();
      }
    });
  });
});
