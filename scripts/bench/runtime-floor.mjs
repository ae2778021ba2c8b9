// The floor every memory figure is read against: the same pinned Node the executables embed, stock, idling on an
// empty timer, measured in the same run (the machine's page cache and kernel make absolute MiB drift between runs).
import { setTimeout as sleep } from 'node:timers/promises';
import { memory } from './procfs.mjs';
import { median } from './stats.mjs';
import { startSubject } from './subject.mjs';

const EMPTY_TIMER = `-e "setInterval(() => {}, 1e6)"`;

/**
 * Idle resident memory of `runs` stock Node processes started together, each `idleSeconds` after it started (as long
 * as the subjects idle after opening the port): the median of each figure.
 * @returns {Promise<{ command: string, rssBytes: number, anonBytes: number, fileBytes: number, runs: object[] }>}
 */
export async function measureRuntimeFloor(nodePath, { idleSeconds, runs = 3 }) {
  const command = `${nodePath} ${EMPTY_TIMER}`;
  const started = Array.from({ length: runs }, () => startSubject(command, {}));
  try {
    await sleep(idleSeconds * 1000 + 100);
    const samples = started.map((s) => {
      if (s.exited) throw new Error(`stock Node ended while idling: ${s.describe()}`);
      return memory(s.pid);
    });
    return {
      command,
      rssBytes: median(samples.map((m) => m.rss)),
      anonBytes: median(samples.map((m) => m.anon)),
      fileBytes: median(samples.map((m) => m.file)),
      runs: samples,
    };
  } finally {
    await Promise.all(started.map((s) => s.stop()));
  }
}
