// The floor every memory figure is read against: the same pinned Node the executables embed, stock, idling on an
// empty timer, measured in the same run (the machine's page cache and kernel make absolute MiB drift between runs).
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { memory } from './procfs.mjs';
import { median } from './stats.mjs';
import { startSubject } from './subject.mjs';

const EMPTY_TIMER = `-e "setInterval(() => {}, 1e6)"`;

/**
 * Idle resident memory of `runs` stock Node processes started together, each `idleSeconds` after it started (as long
 * as the subjects idle after opening the port): the median of each figure.
 *
 * They run a fresh copy of `nodePath`, made the way the build makes the executables (a file copy). A binary whose
 * pages are still in the page cache from the large writes that made it (tar extracting the runtime, postject) is
 * mapped in large folios, so a process started from it counts ~28 MiB more file-backed memory (measured here: 71.5
 * MiB idle from the extracted runtime, 42.9 MiB from a copy of it). Floor and subject are then paged in alike.
 * @returns {Promise<{ command: string, rssBytes: number, anonBytes: number, fileBytes: number, runs: object[] }>}
 */
export async function measureRuntimeFloor(nodePath, { idleSeconds, runs = 3 }) {
  const copyDir = mkdtempSync(join(tmpdir(), 'dsmr-bench-floor-'));
  const copy = join(copyDir, 'node');
  copyFileSync(nodePath, copy);
  const started = Array.from({ length: runs }, () => startSubject(`${copy} ${EMPTY_TIMER}`, {}));
  try {
    await sleep(idleSeconds * 1000 + 100);
    const samples = started.map((s) => {
      if (s.exited) throw new Error(`stock Node ended while idling: ${s.describe()}`);
      return memory(s.pid);
    });
    return {
      command: `${nodePath} ${EMPTY_TIMER}, run from a copy`,
      rssBytes: median(samples.map((m) => m.rss)),
      anonBytes: median(samples.map((m) => m.anon)),
      fileBytes: median(samples.map((m) => m.file)),
      runs: samples,
    };
  } finally {
    await Promise.all(started.map((s) => s.stop()));
    rmSync(copyDir, { recursive: true, force: true });
  }
}
