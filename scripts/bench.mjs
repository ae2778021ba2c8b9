#!/usr/bin/env node
// npm run bench: what the datalogger costs, measured on real processes, a real pty and a local keep-alive HTTP
// server, next to another datalogger (the seed's Python script) run the same way. See docs/BENCHMARK.md.
// Usage and options: HELP below, or node scripts/bench.mjs --help.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { startCheckedServer } from './bench/checked-server.mjs';
import { startMosquitto } from './bench/mosquitto.mjs';
import { measureRuntimeFloor, measureWorkingRuntime } from './bench/runtime-floor.mjs';
import { SEA_EXEC_ARGV } from './lib/sea-exec-argv.mjs';
import { ensureNodeRuntime } from './lib/node-runtimes.mjs';
import { describeMachine, fileSize, programFile, subjectVersion } from './bench/machine.mjs';
import { installerEnvironment } from './bench/installer-env.mjs';
import { measureLoadedBuiltins, measureReplay, measureStartup, measureSteady } from './bench/phases.mjs';
import { openPty } from './lib/pty.mjs';
import { buildReport, SETUPS } from './bench/report.mjs';
import { findPython, prepareSeed } from './bench/seed.mjs';
import { formatNumber } from './bench/stats.mjs';
import { generateTelegrams } from './bench/telegrams.mjs';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const DEFAULT_SUBJECT = join(repoRoot, 'dist', 'dsmr-datalogger-linux-x64');
const SEED_GUIDE = join(repoRoot, '..', 'shared', 'seed', 'datalogger-only-install-guide.rst');
const API_KEY = 'bench-0123456789abcdef';
const progress = (message) => process.stderr.write(`bench: ${message}\n`);
const HELP = `Usage: node scripts/bench.mjs [--subject COMMAND] [--compare COMMAND|seed] [--json FILE] [--check] [--quick]

  --subject COMMAND   the datalogger to measure (default: dist/dsmr-datalogger-linux-x64), run with the
                      environment install.sh's supervisor program gives it (GLIBC_TUNABLES)
  --by-hand           run the subject without that environment, as typed in a shell
  --runtime NODE      the stock Node every memory figure is divided by (default: the pinned Node 24 the
                      executables embed, from .cache/, fetched and verified as npm run build does)
  --compare COMMAND   a second datalogger, measured the same way and printed beside it with subject/peer;
                      "seed" is DSMR-reader's datalogger-only script from ../shared/seed
  --json FILE         also write all figures and the machine as JSON
  --check             exit with status 1 when the subject misses a target
  --quick             small counts, to try the bench itself
  --cpu-telegrams N --latency-telegrams N --latency-interval-ms MS --replay-telegrams N --startup-runs N
  --idle-seconds S --seed-guide PATH --keep-work-dir
  --phases LIST       which measurements to run (default startup,steady,replay), e.g. for profiling one
  --setups LIST       which output set-ups to run (default api,nostatus,mqtt): API only with the status endpoint
                      on, the same with it off, API plus MQTT to a local mosquitto (status on); the peer runs api only

With npm: npm run bench --compare (means --compare seed), or npm run bench -- --compare "COMMAND".
See docs/BENCHMARK.md for what each figure means.
`;

function parseOptions(argv) {
  const { values } = parseArgs({
    args: argv,
    options: {
      subject: { type: 'string', default: DEFAULT_SUBJECT },
      runtime: { type: 'string' },
      setups: { type: 'string', default: SETUPS.map((s) => s.key).join(',') },
      compare: { type: 'string' },
      json: { type: 'string' },
      check: { type: 'boolean', default: false },
      quick: { type: 'boolean', default: false },
      'seed-guide': { type: 'string', default: SEED_GUIDE },
      'cpu-telegrams': { type: 'string' },
      'latency-telegrams': { type: 'string' },
      'latency-interval-ms': { type: 'string' },
      'replay-telegrams': { type: 'string' },
      'startup-runs': { type: 'string' },
      'idle-seconds': { type: 'string' },
      'keep-work-dir': { type: 'boolean', default: false },
      'by-hand': { type: 'boolean', default: false },
      phases: { type: 'string', default: 'startup,steady,replay' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  // `npm run bench --compare [VALUE]` does not reach us as a flag: npm turns it into npm_config_compare.
  const npmCompare = process.env.npm_config_compare;
  const compare = values.compare ?? (npmCompare && npmCompare !== 'false' ? (npmCompare === 'true' ? 'seed' : npmCompare) : undefined);
  const quick = values.quick;
  const count = (name, normal, small) => {
    const given = values[name];
    const n = given === undefined ? (quick ? small : normal) : Number(given);
    if (!Number.isInteger(n) || n < 0) throw new Error(`--${name} must be a whole number, not ${given}`);
    return n;
  };
  const phases = new Set(values.phases.split(',').map((p) => p.trim()));
  for (const phase of phases) if (!['startup', 'steady', 'replay'].includes(phase)) throw new Error(`--phases: unknown phase ${phase}`);
  const setups = values.setups.split(',').map((s) => s.trim());
  for (const key of setups) if (!SETUPS.some((s) => s.key === key)) throw new Error(`--setups: unknown set-up ${key} (known: ${SETUPS.map((s) => s.key).join(', ')})`);
  return {
    phases,
    setups,
    runtime: values.runtime,
    help: values.help,
    subject: values.subject,
    compare,
    json: values.json,
    check: values.check,
    seedGuide: values['seed-guide'],
    keepWorkDir: values['keep-work-dir'],
    byHand: values['by-hand'],
    cpuTelegrams: count('cpu-telegrams', 2000, 300),
    latencyTelegrams: count('latency-telegrams', 1000, 100),
    latencyWarmup: quick ? 5 : 20,
    latencyIntervalMs: count('latency-interval-ms', 20, 20),
    replayTelegrams: count('replay-telegrams', 86_400, 5000),
    startupRuns: Math.max(2, count('startup-runs', 6, 3)),
    idleSeconds: count('idle-seconds', 5, 2),
    cpuTimeoutSeconds: 120,
    replayTimeoutSeconds: 180,
    fillTimeoutSeconds: 120,
  };
}

/** The seed shortcut, or any command; `spool` says whether the backlog replay applies to it. */
function describeSubject(command, workDir, options) {
  if (command === 'seed') {
    const { command: seedCommand } = prepareSeed(options.seedGuide, workDir);
    return { label: 'seed', command: seedCommand, spool: false, isSeed: true, python: findPython() };
  }
  const program = programFile(command, repoRoot);
  const inRepo = program ? relative(repoRoot, program) : '';
  const label = program ? (inRepo && !inRepo.startsWith('..') ? inRepo : program) : command;
  // Run as install.sh's supervisor program runs it, unless asked to measure a run typed by hand.
  const supervised = options.byHand ? {} : installerEnvironment(readFileSync(join(repoRoot, 'install.sh'), 'utf8'));
  return { label, command, spool: true, isSeed: false, supervised };
}

/**
 * Each output set-up's settings. The status endpoint takes a free port (its default 7523 may be taken on a shared
 * machine); nobody requests it during the run, so what it costs is what it costs while nobody looks.
 */
function setupEnv(key, broker) {
  const statusOn = { DSMR_DATALOGGER_HTTP_LISTEN: '127.0.0.1:0' };
  if (key === 'api') return statusOn;
  if (key === 'nostatus') return { DSMR_DATALOGGER_HTTP_LISTEN: 'off' };
  return { ...statusOn, DSMR_DATALOGGER_MQTT_URL: broker.url };
}

async function measure(ctx, spec) {
  const results = { label: spec.label, command: spec.command, version: subjectVersion(spec.command, spec), setups: {} };
  const program = programFile(spec.command, repoRoot);
  results.programFile = program;
  results.programBytes = program ? fileSize(program) : undefined;
  results.environment = spec.supervised;
  progress(`measuring ${spec.label}: ${spec.command}${results.version ? ` (${results.version})` : ''}`);
  const { phases } = ctx.options;
  // The peer (the seed) has only the DSMR-reader API.
  const setups = spec.isSeed ? ['api'] : ctx.options.setups;
  for (const key of setups) {
    const setupSpec = { ...spec, label: `${spec.label} [${key}]`, env: setupEnv(key, ctx.broker) };
    const setup = (results.setups[key] = {});
    if (phases.has('startup')) setup.startup = await measureStartup(ctx, setupSpec);
    const published = ctx.broker?.received() ?? 0;
    if (phases.has('steady')) setup.steady = await measureSteady(ctx, setupSpec);
    if (key === 'mqtt' && setup.steady) {
      setup.mqttMessages = ctx.broker.received() - published;
      progress(`${setupSpec.label}: mosquitto_sub received ${setup.mqttMessages} messages`);
      if (!setup.mqttMessages) throw new Error(`nothing reached mosquitto in the API + MQTT set-up; see the logs with --keep-work-dir`);
    }
  }
  if (phases.has('replay') && spec.spool) {
    // A program that keeps no backlog cannot fill one: say so and go on with the rest of the table.
    try {
      results.replay = await measureReplay(ctx, { ...spec, env: setupEnv('api') });
    } catch (err) {
      results.replayError = err instanceof Error ? err.message : String(err);
      progress(`${spec.label}: backlog replay failed: ${results.replayError}`);
    }
  } else if (phases.has('replay')) progress(`${spec.label}: no spool, so no backlog replay`);
  return results;
}

async function main() {
  const options = parseOptions(process.argv.slice(2));
  if (options.help) {
    process.stdout.write(HELP);
    return 0;
  }
  if (options.subject === DEFAULT_SUBJECT && !existsSync(DEFAULT_SUBJECT)) {
    throw new Error(`${relative(repoRoot, DEFAULT_SUBJECT)} is missing: build it with npm run build, or name another program with --subject`);
  }
  const machine = describeMachine();
  const workDir = mkdtempSync(join(tmpdir(), 'dsmr-bench-'));
  const subjectSpec = describeSubject(options.subject, workDir, options);
  const peerSpec = options.compare ? describeSubject(options.compare, workDir, options) : undefined;

  const needed = Math.max(options.replayTelegrams, options.latencyWarmup + options.latencyTelegrams + options.cpuTelegrams);
  progress(`generating ${formatNumber(needed)} telegrams with the simulator`);
  const allTelegrams = generateTelegrams({ repoRoot, file: join(workDir, 'all-telegrams.txt'), count: needed });
  // The replay prefill reads a file of exactly the telegrams that must come out of the spool.
  let telegramFile = join(workDir, 'all-telegrams.txt');
  if (needed !== options.replayTelegrams) {
    telegramFile = join(workDir, 'replay-telegrams.txt');
    writeFileSync(telegramFile, Buffer.concat(allTelegrams.slice(0, options.replayTelegrams)));
  }

  const runtime = options.runtime ?? (await ensureNodeRuntime('x64', { cacheDir: join(repoRoot, '.cache'), log: progress }));
  const pty = await openPty(workDir, { retryMs: 1 });
  const server = await startCheckedServer({ key: API_KEY });
  const needsBroker = options.setups.includes('mqtt') && (options.phases.has('steady') || options.phases.has('startup'));
  const broker = needsBroker ? await startMosquitto(join(workDir, 'mosquitto')) : undefined;
  const ctx = { pty, server, broker, key: API_KEY, telegrams: allTelegrams, telegramFile, workDir, options, progress };
  let subject;
  let peer;
  try {
    progress(`stock Node idle on an empty timer: ${runtime}`);
    const floor = await measureRuntimeFloor(runtime, { idleSeconds: options.idleSeconds });
    progress(`stock Node idle: ${(floor.rssBytes / 1048576).toFixed(1)} MiB resident (median of ${floor.runs.length})`);
    const builtins = await measureLoadedBuiltins(ctx, { ...subjectSpec, env: setupEnv('api') });
    let working;
    if (builtins) {
      progress(`the subject has ${builtins.length} public built-in modules loaded at idle: ${builtins.join(' ')}`);
      working = { ...(await measureWorkingRuntime(runtime, { idleSeconds: options.idleSeconds, execArgv: SEA_EXEC_ARGV, env: subjectSpec.supervised, builtins })), builtins };
      progress(`stock Node after work, with the subject's built-ins: ${(working.rssBytes / 1048576).toFixed(1)} MiB resident`);
    } else progress('the subject did not list its built-in modules (no Node runs it?): no "stock Node after work" row');
    subject = await measure(ctx, subjectSpec);
    subject.floor = floor;
    subject.workingRuntime = working;
    if (peerSpec) {
      peer = await measure(ctx, peerSpec);
      peer.floor = floor;
    }
  } finally {
    await broker?.stop();
    await server.close();
    await pty.close();
    if (!options.keepWorkDir) rmSync(workDir, { recursive: true, force: true });
    else progress(`work directory kept: ${workDir}`);
  }

  const artifacts = ['dsmr-datalogger-linux-x64', 'dsmr-datalogger-linux-arm64', 'dsmr-datalogger-linux-arm.tar.gz', 'dsmr-datalogger.cjs']
    .map((name) => ({ name: `dist/${name}`, bytes: fileSize(join(repoRoot, 'dist', name)) }))
    .filter((a) => !Number.isNaN(a.bytes));
  const report = buildReport({ subject, peer, artifacts });
  machine.loadAverageAfter = (await import('node:os')).loadavg();

  const out = [];
  out.push(`machine: ${machine.cpus} CPUs, ${machine.cpuModel}, ${(machine.memoryBytes / 2 ** 30).toFixed(1)} GiB, ${machine.os}, Linux ${machine.kernel}; bench on Node ${machine.benchNode}`);
  out.push(`subject: ${subjectSpec.command}${subject.version ? `  [${subject.version}]` : ''}`);
  const supervised = Object.entries(subjectSpec.supervised).map(([name, value]) => `${name}=${value}`).join(' ');
  out.push(`         ${supervised ? `run with ${supervised}, as install.sh's supervisor program runs it` : 'run by hand (--by-hand): without the environment install.sh gives it'}`);
  out.push(`floor:   ${subject.floor.command}  ("x Node": each memory figure over its idle resident memory, this run)`);
  if (subject.workingRuntime) out.push(`worked:  ${subject.workingRuntime.command}`);
  if (peer) out.push(`peer:    ${peerSpec.command}${peer.version ? `  [${peer.version}]` : ''}`);
  out.push(
    `fed: ${options.cpuTelegrams} telegrams as fast as the pty takes them; ${options.latencyTelegrams} (after ${options.latencyWarmup} warm-up) one every ${options.latencyIntervalMs} ms ` +
      `for latency and disk writes; ${formatNumber(options.replayTelegrams)} spooled for the replay`,
  );
  for (const [name, results] of [['subject', subject], ['peer', peer]]) {
    for (const [key, setup] of Object.entries(results?.setups ?? {})) {
      const steady = setup.steady;
      if (!steady) continue;
      out.push(
        `other processes on this machine during the ${name}'s paced run [${key}]: ${steady.pacedNoise.othersPercentOfOneCpu.toFixed(0)}% of one CPU ` +
          `(steal ${steady.pacedNoise.stealPercentOfOneCpu.toFixed(0)}%), during its fast run: ${steady.fastNoise.othersPercentOfOneCpu.toFixed(0)}%`,
      );
    }
  }
  out.push('');
  out.push(report.text);
  if (subject.replayError) report.missed.push(`backlog replay failed (${subject.replayError.split('\n')[0]})`);
  if (peer?.replayError) out.push('', `peer's backlog replay failed: ${peer.replayError.split('\n')[0]}`);
  if (report.missed.length) out.push('', `missed targets: ${report.missed.join('; ')}`);
  process.stdout.write(`${out.join('\n')}\n`);

  if (options.json) {
    writeFileSync(options.json, `${JSON.stringify({ date: new Date().toISOString(), machine, options: { ...options, phases: [...options.phases] }, subject, peer, figures: report.rows }, null, 2)}\n`);
    progress(`results written to ${options.json}`);
  }
  return options.check && report.missed.length ? 1 : 0;
}

process.once('SIGINT', () => process.exit(130));
process.once('SIGTERM', () => process.exit(143));
main().then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`bench: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
