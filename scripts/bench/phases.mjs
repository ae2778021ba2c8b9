// The measurements, each on fresh processes of one subject. Subjects are configured the way a user configures the
// seed script's successor: DSMRREADER_REMOTE_DATALOGGER_* only, plus our own data directory and DSMR version (a
// program that does not know those ignores them).
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { clockTicksPerSecond, cpuTicks, cpuTimes, io, mappedFiles, memory, noiseMeter } from './procfs.mjs';
import { cpuSecondsPer1000, median, percentile, perHour, ratePerSecond } from './stats.mjs';
import { startSubject } from './subject.mjs';

/**
 * `env`: the output set-up's settings on top of the common ones (a program that does not know them ignores them).
 * @typedef {{ label: string, command: string, spool: boolean, env?: Record<string, string> }} SubjectSpec
 * @typedef {{ pty: any, server: any, key: string, telegrams: Buffer[], telegramFile: string, workDir: string,
 *   options: any, progress: (message: string) => void }} BenchContext
 */

let dirCounter = 0;

function freshDir(ctx, name) {
  const dir = join(ctx.workDir, `${name}-${++dirCounter}`);
  mkdirSync(dir, { recursive: true });
  return dir;
}

/** Where a run's output goes, e.g. <work dir>/steady-2.log beside its data directory steady-2/. */
function logFor(dataDir, suffix = '') {
  return { logFile: `${dataDir}${suffix}.log` };
}

function subjectEnv(ctx, spec, dataDir, extra = {}) {
  return {
    DSMRREADER_REMOTE_DATALOGGER_INPUT_METHOD: 'serial',
    DSMRREADER_REMOTE_DATALOGGER_SERIAL_PORT: ctx.pty.devicePath,
    DSMRREADER_REMOTE_DATALOGGER_API_HOSTS: ctx.server.url,
    DSMRREADER_REMOTE_DATALOGGER_API_KEYS: ctx.key,
    DSMR_DATALOGGER_DATA_DIR: dataDir,
    DSMR_DATALOGGER_DSMR_VERSION: '5',
    ...spec.supervised,
    ...spec.env,
    ...extra,
  };
}

/** Total size of the files under `dir`: what the program left on disk. */
export function treeBytes(dir) {
  let total = 0;
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return 0;
  }
  for (const entry of entries) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) total += treeBytes(path);
    else if (entry.isFile()) total += statSync(path).size;
  }
  return total;
}

/**
 * Samples the tree's resident memory every 100 ms while something specific happens: the peak of the total and of
 * its anonymous part (VmHWM catches spikes between samples, but only for the total and only since start).
 */
function memorySampler(pid) {
  const max = { rss: 0, anon: 0 };
  const sample = () => {
    const now = memory(pid);
    max.rss = Math.max(max.rss, now.rss);
    max.anon = Math.max(max.anon, now.anon);
  };
  sample();
  const timer = setInterval(sample, 100);
  return {
    stop() {
      clearInterval(timer);
      sample();
      return max;
    },
  };
}

/**
 * CPU ticks once the program has gone quiet: the last request has arrived, but its answer is still being handled.
 * Waits until two reads 100 ms apart agree (at most 3 s: a program with a busy timer never agrees).
 */
async function settledTicks(pid) {
  let last = cpuTicks(pid);
  const deadline = performance.now() + 3000;
  while (performance.now() < deadline) {
    await sleep(100);
    const now = cpuTicks(pid);
    if (now === last) return now;
    last = now;
  }
  return last;
}

/** Start-up: spawn until the serial port is open; the first run on an empty data directory, the rest warm. */
export async function measureStartup(ctx, spec) {
  const dataDir = freshDir(ctx, 'startup');
  const runs = [];
  for (let i = 0; i < ctx.options.startupRuns; i++) {
    const subject = startSubject(spec.command, subjectEnv(ctx, spec, dataDir), logFor(dataDir, `-run${i + 1}`));
    try {
      runs.push(await subject.waitUntilOpen(ctx.pty.devicePts));
    } finally {
      await subject.stop();
    }
    ctx.progress(`${spec.label}: start-up ${i + 1}/${ctx.options.startupRuns}: ${runs.at(-1).toFixed(0)} ms`);
  }
  const warm = runs.slice(1);
  return { firstRunMs: runs[0], warmMedianMs: warm.length ? median(warm) : Number.NaN, runsMs: runs };
}

/**
 * Feeds the first of `expected` (the telegrams the server is to get from here on, in order) and waits until it has
 * been delivered, then `idleSeconds`: where idle is read. An output that connects at first use (MQTT) is then
 * connected, as it is between telegrams for as long as the program runs.
 */
async function untilIdle(ctx, subject, expected) {
  ctx.server.expect(expected);
  await ctx.pty.write(expected[0]);
  await ctx.server.waitForCount(1, 10_000).catch((err) => {
    throw new Error(`the first telegram: ${err.message}; ${subject.describe()}`);
  });
  await sleep(ctx.options.idleSeconds * 1000);
  if (subject.exited) throw new Error(`it ended while idle: ${subject.describe()}`);
}

/**
 * One long-running process: idle memory, then latency and disk writes at a steady pace while the server is healthy,
 * then CPU with telegrams fed as fast as the pty takes them, then how long SIGTERM takes.
 */
export async function measureSteady(ctx, spec) {
  const { options, pty, server, telegrams } = ctx;
  const ticksPerSecond = clockTicksPerSecond();
  const dataDir = freshDir(ctx, 'steady');
  const subject = startSubject(spec.command, subjectEnv(ctx, spec, dataDir), logFor(dataDir));
  const result = {};
  try {
    const pid = subject.pid;
    result.readyMs = await subject.waitUntilOpen(pty.devicePts);
    const warmup = options.latencyWarmup;
    const paced = telegrams.slice(0, warmup + options.latencyTelegrams);
    await untilIdle(ctx, subject, paced);
    const idle = memory(pid);
    result.idleRssBytes = idle.rss;
    result.idleAnonBytes = idle.anon;
    result.idleFileBytes = idle.file;
    result.startupHwmBytes = idle.hwm;
    result.mappedFilesBytes = mappedFiles(pid).reduce((sum, path) => sum + safeSize(path), 0);
    ctx.progress(`${spec.label}: idle ${mib(idle.rss)} MiB resident (${mib(idle.anon)} anonymous, ${mib(idle.file)} file-backed) after ${options.idleSeconds} s`);

    // Latency, paced: one telegram, wait for it at the server, then the next one `interval` after the previous write.
    const sampler = memorySampler(pid);
    const pacedNoise = noiseMeter();
    const io0 = io(pid);
    const times0 = cpuTimes(pid);
    const ticks0 = times0.user + times0.system;
    const dir0 = treeBytes(dataDir);
    const t0 = performance.now();
    const latencies = [];
    for (const [i, telegram] of paced.entries()) {
      if (i === 0) continue;
      const writtenAt = await pty.write(telegram);
      await server.waitForCount(i + 1, 10_000).catch((err) => {
        throw new Error(`telegram ${i} of the paced run: ${err.message}; ${subject.describe()}`);
      });
      if (i >= warmup) latencies.push(server.arrivals[i] - writtenAt);
      const wait = writtenAt + options.latencyIntervalMs - performance.now();
      if (wait > 0) await sleep(wait);
    }
    const t1 = performance.now();
    result.pacedNoise = pacedNoise();
    await settledTicks(pid);
    const times1 = cpuTimes(pid);
    const ticks1 = times1.user + times1.system;
    const io1 = io(pid);
    const healthySeconds = (t1 - t0) / 1000;
    result.paced = {
      telegrams: paced.length - 1,
      seconds: healthySeconds,
      connections: server.connections,
      mismatches: server.mismatches,
      firstMismatch: server.firstMismatch,
    };
    result.latencyMs = {
      count: latencies.length,
      p50: percentile(latencies, 50),
      p90: percentile(latencies, 90),
      p99: percentile(latencies, 99),
      max: Math.max(...latencies),
      // In feeding order, for looking at when the slow ones happened.
      samples: latencies.map((ms) => Math.round(ms * 1000) / 1000),
    };
    result.cpuPacedPer1000 = cpuSecondsPer1000(ticks1 - ticks0, ticksPerSecond, paced.length - 1);
    result.cpuPacedSplitPer1000 = {
      user: cpuSecondsPer1000(times1.user - times0.user, ticksPerSecond, paced.length - 1),
      system: cpuSecondsPer1000(times1.system - times0.system, ticksPerSecond, paced.length - 1),
    };
    result.healthy = {
      seconds: healthySeconds,
      telegramsPerSecond: (paced.length - 1) / healthySeconds,
      writeBytes: io1.writeBytes - io0.writeBytes,
      wchar: io1.wchar - io0.wchar,
      dataDirGrowthBytes: treeBytes(dataDir) - dir0,
    };
    result.healthy.writeBytesPerHour = perHour(result.healthy.writeBytes, healthySeconds);
    result.healthy.dataDirGrowthPerHour = perHour(Math.max(0, result.healthy.dataDirGrowthBytes), healthySeconds);
    result.connectionsPer1000 = (server.connections / (paced.length - 1)) * 1000;
    ctx.progress(
      `${spec.label}: latency p50 ${result.latencyMs.p50.toFixed(2)} ms, p99 ${result.latencyMs.p99.toFixed(2)} ms over ${latencies.length}; ` +
        `${result.healthy.writeBytes} bytes written to disk in ${healthySeconds.toFixed(1)} s; ` +
        `other processes used ${result.pacedNoise.othersPercentOfOneCpu.toFixed(0)}% of a CPU meanwhile, steal ${result.pacedNoise.stealPercentOfOneCpu.toFixed(0)}%`,
    );

    // CPU: everything at once, as fast as the pty takes it.
    const burst = telegrams.slice(paced.length, paced.length + options.cpuTelegrams);
    server.expect(burst);
    const fastNoise = noiseMeter();
    const io2 = io(pid);
    const times2 = cpuTimes(pid);
    const ticks2 = times2.user + times2.system;
    const t2 = performance.now();
    await pty.write(Buffer.concat(burst), { timeoutMs: options.cpuTimeoutSeconds * 1000 });
    await server.waitForCount(burst.length, options.cpuTimeoutSeconds * 1000).catch((err) => {
      throw new Error(`the fast run: ${err.message}; ${subject.describe()}`);
    });
    const t3 = performance.now();
    // The MQTT set-up's work is done when the broker has it too: until then its publishes still cost memory and CPU.
    if (spec.env?.DSMR_DATALOGGER_MQTT_URL && ctx.broker) {
      result.mqttCaughtUpMs = await brokerQuiet(ctx.broker, options.cpuTimeoutSeconds * 1000);
      ctx.progress(`${spec.label}: mosquitto_sub quiet ${result.mqttCaughtUpMs.toFixed(0)} ms after the API had the fast run`);
    }
    result.fastNoise = fastNoise();
    await settledTicks(pid);
    const times3 = cpuTimes(pid);
    const ticks3 = times3.user + times3.system;
    const io3 = io(pid);
    const sampled = sampler.stop();
    result.forwardingSampledPeakRssBytes = sampled.rss;
    result.forwardingPeakAnonBytes = sampled.anon;
    result.hwmBytes = memory(pid).hwm;
    result.fast = {
      telegrams: burst.length,
      seconds: (t3 - t2) / 1000,
      telegramsPerSecond: burst.length / ((t3 - t2) / 1000),
      cpuTicks: ticks3 - ticks2,
      writeBytes: io3.writeBytes - io2.writeBytes,
      connections: server.connections,
      mismatches: server.mismatches,
      firstMismatch: server.firstMismatch,
    };
    result.cpuFastPer1000 = cpuSecondsPer1000(ticks3 - ticks2, ticksPerSecond, burst.length);
    result.cpuFastSplitPer1000 = {
      user: cpuSecondsPer1000(times3.user - times2.user, ticksPerSecond, burst.length),
      system: cpuSecondsPer1000(times3.system - times2.system, ticksPerSecond, burst.length),
    };
    ctx.progress(
      `${spec.label}: ${burst.length} telegrams in ${result.fast.seconds.toFixed(2)} s, ` +
        `${result.cpuFastPer1000.toFixed(3)} CPU s per 1000, peak ${mib(result.hwmBytes)} MiB resident`,
    );
    for (const run of [result.paced, result.fast]) {
      if (run.mismatches) throw new Error(`the server got ${run.mismatches} telegram(s) other than those fed: ${run.firstMismatch}`);
    }
  } finally {
    result.stop = await subject.stop();
  }
  ctx.progress(`${spec.label}: SIGTERM to exit ${result.stop.ms.toFixed(0)} ms (${result.stop.code ?? result.stop.signal})`);
  return result;
}

// Given to the subject through NODE_OPTIONS: keeps the file named by DSMR_BENCH_BUILTINS_FILE listing the public
// built-in modules the process has loaded, rewritten whenever that list grows.
const LIST_BUILTINS_PRELOAD = `const { writeFileSync } = require('node:fs');
let written = 0;
setInterval(() => {
  if (process.moduleLoadList.length === written) return;
  written = process.moduleLoadList.length;
  const names = process.moduleLoadList.filter((m) => /^NativeModule (?!internal\\/)/.test(m)).map((m) => m.slice('NativeModule '.length));
  writeFileSync(process.env.DSMR_BENCH_BUILTINS_FILE, JSON.stringify(names));
}, 200).unref();
`;

/**
 * The public built-in modules a Node subject has loaded once it idles, as the steady phase reads idle. Read in a run
 * of its own, so that the preload reading them is in no measured run. Undefined for a subject that no Node runs
 * (Deno ignores NODE_OPTIONS; the seed is Python).
 * @returns {Promise<string[] | undefined>}
 */
export async function measureLoadedBuiltins(ctx, spec) {
  const dataDir = freshDir(ctx, 'builtins');
  const preload = join(dataDir, 'list-builtins.cjs');
  const listFile = join(dataDir, 'builtins.json');
  writeFileSync(preload, LIST_BUILTINS_PRELOAD);
  const env = subjectEnv(ctx, spec, dataDir, { NODE_OPTIONS: `--require ${preload}`, DSMR_BENCH_BUILTINS_FILE: listFile });
  const subject = startSubject(spec.command, env, logFor(dataDir));
  try {
    await subject.waitUntilOpen(ctx.pty.devicePts);
    await untilIdle(ctx, subject, ctx.telegrams.slice(0, 1));
    try {
      return JSON.parse(readFileSync(listFile, 'utf8'));
    } catch {
      return undefined;
    }
  } finally {
    await subject.stop();
  }
}

/** Waits until the broker has received nothing new for a second; how long after the call its last message came. */
async function brokerQuiet(broker, timeoutMs) {
  const start = performance.now();
  let count = broker.received();
  let changedAt = start;
  while (performance.now() - changedAt < 1000) {
    if (performance.now() - start > timeoutMs) throw new Error(`the broker was still receiving after ${timeoutMs} ms`);
    await sleep(100);
    const now = broker.received();
    if (now !== count) [count, changedAt] = [now, performance.now()];
  }
  return changedAt - start;
}

/**
 * Backlog replay: a spool of `replayTelegrams` telegrams is filled by the subject itself while the server answers
 * 503 (read from a file, the quickest way in), then a fresh process with the server healthy delivers it.
 */
export async function measureReplay(ctx, spec) {
  const { options, server, telegrams } = ctx;
  const count = options.replayTelegrams;
  const dataDir = freshDir(ctx, 'replay');
  const ticksPerSecond = clockTicksPerSecond();

  server.setMode('down');
  const fillStart = performance.now();
  const filler = startSubject(
    spec.command,
    subjectEnv(ctx, spec, dataDir, { DSMRREADER_REMOTE_DATALOGGER_INPUT_METHOD: 'file', DSMR_DATALOGGER_INPUT_FILE: ctx.telegramFile }),
    logFor(dataDir, '-fill'),
  );
  let spooled;
  let fillIo;
  try {
    const line = await filler.waitForLine(/input ended; waiting until \d+ telegram/, options.fillTimeoutSeconds * 1000);
    spooled = Number(/waiting until (\d+) telegram/.exec(line)[1]);
    // Read before SIGTERM: once it has exited its /proc entry is gone. Every telegram is in the spool by now.
    fillIo = io(filler.pid);
  } finally {
    await filler.stop();
    server.setMode('up');
  }
  if (spooled !== count) throw new Error(`the spool holds ${spooled} telegrams, not ${count}: ${filler.describe()}`);
  const spoolBytes = treeBytes(dataDir);
  // Write amplification: what spooling costs the SD card, per byte of telegram kept.
  const telegramBytes = telegrams.slice(0, count).reduce((sum, t) => sum + t.length, 0);
  const fill = {
    telegramBytes,
    writeBytes: fillIo.writeBytes,
    wchar: fillIo.wchar,
    writeAmplification: fillIo.writeBytes / telegramBytes,
    wcharAmplification: fillIo.wchar / telegramBytes,
    spoolAmplification: spoolBytes / telegramBytes,
  };
  ctx.progress(
    `${spec.label}: spooled ${count} telegrams (${mib(spoolBytes)} MiB on disk) in ${((performance.now() - fillStart) / 1000).toFixed(1)} s, ` +
      `${mib(fill.writeBytes)} MiB written to disk for ${mib(telegramBytes)} MiB of telegrams (${fill.writeAmplification.toFixed(2)}x)`,
  );

  server.expect(telegrams.slice(0, count));
  const subject = startSubject(spec.command, subjectEnv(ctx, spec, dataDir), logFor(dataDir));
  const sampler = memorySampler(subject.pid);
  const result = { telegrams: count, spoolBytes, fill };
  try {
    // Start-up with a day's backlog waiting: opening the spool must not hold up reading the meter.
    result.readyMs = await subject.waitUntilOpen(ctx.pty.devicePts);
    let complete = true;
    await server.waitForCount(count, options.replayTimeoutSeconds * 1000).catch(() => (complete = false));
    const ticks = await settledTicks(subject.pid);
    const arrivals = server.arrivals;
    result.complete = complete;
    result.delivered = arrivals.length;
    // Timed out: the rate over all the time it had, not just up to its last delivery (which may have been long ago).
    result.telegramsPerSecond = complete
      ? ratePerSecond(arrivals.length, arrivals[0], arrivals.at(-1))
      : (arrivals.length * 1000) / (performance.now() - subject.spawnedAt);
    result.secondsFromSpawn = ((arrivals.at(-1) ?? Number.NaN) - subject.spawnedAt) / 1000;
    const sampled = sampler.stop();
    result.sampledPeakRssBytes = sampled.rss;
    result.peakAnonBytes = sampled.anon;
    result.hwmBytes = memory(subject.pid).hwm;
    result.cpuPer1000 = cpuSecondsPer1000(ticks, ticksPerSecond, arrivals.length);
    result.connections = server.connections;
    result.mismatches = server.mismatches;
    if (server.mismatches) throw new Error(`replay delivered ${server.mismatches} telegram(s) other than those spooled: ${server.firstMismatch}`);
  } finally {
    sampler.stop();
    await subject.stop();
  }
  ctx.progress(
    `${spec.label}: replayed ${result.delivered} of ${count}${result.complete ? '' : ' (timed out)'} at ` +
      `${result.telegramsPerSecond.toFixed(0)}/s, peak ${mib(result.hwmBytes)} MiB resident (${mib(result.peakAnonBytes)} MiB anonymous)`,
  );
  return result;
}

function safeSize(path) {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}

export function mib(bytes) {
  return (bytes / 1048576).toFixed(1);
}
