// The floor every memory figure is read against: the same pinned Node the executables embed, stock, idling on an
// empty timer, measured in the same run (the machine's page cache and kernel make absolute MiB drift between runs).
// Beside it, for reading the idle figures, the same Node once it has worked: see measureWorkingRuntime.
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { memory } from './procfs.mjs';
import { median } from './stats.mjs';
import { startSubject } from './subject.mjs';

const EMPTY_TIMER = `-e "setInterval(() => {}, 1e6)"`;

/**
 * Loads the built-ins, then makes short-lived objects for WORK_MS (young-generation collections, as any program's
 * work does), then idles. A collection commits V8's second semi-space, and the collector's code is paged in: an
 * empty timer never collects, so the floor above has neither.
 */
const workingScript = (builtins) => `for (const name of ${JSON.stringify(builtins)}) require('node:' + name);
const until = Date.now() + Number(process.env.WORK_MS);
const work = setInterval(() => {
  let garbage = [];
  for (let i = 0; i < 3000; i++) garbage.push({ i });
  garbage = undefined;
  if (Date.now() > until) clearInterval(work);
}, 100);
setInterval(() => {}, 1e6);
`;
const WORK_MS = 2000;

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
export function measureRuntimeFloor(nodePath, { idleSeconds, runs = 3 }) {
  return measureIdle(nodePath, { args: EMPTY_TIMER, env: {}, waitMs: idleSeconds * 1000 + 100, runs, described: `${nodePath} ${EMPTY_TIMER}, run from a copy` });
}

/**
 * The same stock Node with the executables' Node options (`execArgv`) and environment (`env`), having loaded the
 * built-in modules the subject has loaded at idle (`builtins`, read by measureLoadedBuiltins) and done some work,
 * `idleSeconds` after that work: what any program that does the datalogger's I/O on this runtime idles at before a
 * line of its own code. Informational; no target reads it.
 */
export function measureWorkingRuntime(nodePath, { idleSeconds, runs = 3, execArgv, env, builtins }) {
  const scriptDir = mkdtempSync(join(tmpdir(), 'dsmr-bench-working-'));
  const script = join(scriptDir, 'working.cjs');
  writeFileSync(script, workingScript(builtins));
  const args = `${execArgv.join(' ')} ${script}`;
  const shown = Object.entries(env).map(([name, value]) => `${name}=${value} `).join('');
  return measureIdle(nodePath, {
    args,
    env: { ...env, WORK_MS: String(WORK_MS) },
    waitMs: WORK_MS + idleSeconds * 1000 + 100,
    runs,
    described: `${shown}${nodePath} ${execArgv.join(' ')}, loading the subject's ${builtins.length} built-ins, ${WORK_MS / 1000} s of small allocations, then idle`,
  }).finally(() => rmSync(scriptDir, { recursive: true, force: true }));
}

async function measureIdle(nodePath, { args, env, waitMs, runs, described }) {
  const copyDir = mkdtempSync(join(tmpdir(), 'dsmr-bench-floor-'));
  const copy = join(copyDir, 'node');
  copyFileSync(nodePath, copy);
  const started = Array.from({ length: runs }, () => startSubject(`${copy} ${args}`, env));
  try {
    await sleep(waitMs);
    const samples = started.map((s) => {
      if (s.exited) throw new Error(`stock Node ended while idling: ${s.describe()}`);
      return memory(s.pid);
    });
    return {
      command: described,
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
