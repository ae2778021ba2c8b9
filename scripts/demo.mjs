#!/usr/bin/env node
// Try dsmr-datalogger without a meter or a DSMR-reader: a simulated meter streams telegrams over TCP (like a
// P1-to-WiFi bridge), the datalogger reads and forwards them, and the stand-in DSMR-reader API that the tests use
// too (scripts/lib/stand-in-dsmr-reader.mjs) prints each telegram it receives. Run after `npm ci && npm run build`:
//
//   node scripts/demo.mjs              until Ctrl-C
//   node scripts/demo.mjs --seconds 15 then stop; status 1 if no telegram arrived (a smoke test)
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { freePort } from './lib/ports.mjs';
import { startApiServer } from './lib/stand-in-dsmr-reader.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const CLI = join(ROOT, 'dist', 'dsmr-datalogger.cjs');
const API_KEY = 'demo-key';
const STOP_DEADLINE_MS = 10_000;
// A child that exits just as Ctrl-C arrives (the terminal signals the whole process group) is not a failure.
const UNEXPECTED_EXIT_GRACE_MS = 500;

function usage(problem) {
  if (problem) console.error(`demo: ${problem}`);
  console.error('Usage: node scripts/demo.mjs [--seconds N]');
  process.exit(problem ? 2 : 0);
}

function parseArgs(argv) {
  let seconds;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '-h' || arg === '--help') usage();
    const m = /^--seconds(?:=(.*))?$/.exec(arg);
    if (!m) usage(`unknown argument "${arg}"`);
    const raw = m[1] ?? argv[++i];
    seconds = Number(raw);
    if (!(seconds > 0)) usage(`--seconds expects a number of seconds above 0, got "${raw ?? ''}"`);
  }
  return { seconds };
}

const clock = () => new Date().toTimeString().slice(0, 8);
const say = (who, line) => console.log(`${clock()} ${who.padEnd(12)} ${line}`);

/** The value of an OBIS register in a telegram, e.g. 1-0:1.7.0 → 0.378. */
function register(telegram, obis) {
  const m = new RegExp(`^${obis.replace(/[.:]/g, '\\$&')}\\(([\\d.]+)`, 'm').exec(telegram);
  return m ? Number(m[1]) : undefined;
}

function describePower(telegram) {
  const taken = register(telegram, '1-0:1.7.0');
  const returned = register(telegram, '1-0:2.7.0');
  if (taken === undefined || returned === undefined) return 'power not in telegram';
  return returned > 0 ? `power -${returned.toFixed(3)} kW (returning)` : `power +${taken.toFixed(3)} kW`;
}

/** Prints what the stand-in DSMR-reader did with each request; counts and describes the telegrams it took. */
function describeRequest(onTelegram) {
  return ({ method, path, status, telegram, clientGone }) => {
    if (clientGone) say('api', 'the datalogger went away before the answer');
    else if (status === 404) say('api', `${method} ${path}: not the datalogger endpoint (404)`);
    else if (status === 403) say('api', `rejected a telegram: X-AUTHKEY is not "${API_KEY}" (403)`);
    else if (status === 400) say('api', 'rejected a post without a telegram field (400)');
    else onTelegram(telegram.toString('latin1'));
  };
}

function startChild(name, args, env, onUnexpectedExit) {
  const child = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const lines = [];
  for (const stream of [child.stdout, child.stderr]) {
    createInterface({ input: stream }).on('line', (line) => {
      lines.push(line);
      // The demo shows its own clock; drop the child's ISO timestamp to keep lines short.
      say(name, line.replace(/^\d{4}-\d\d-\d\dT[\d:.]+Z /, ''));
    });
  }
  const exited = new Promise((resolvePromise) => child.on('exit', (code, signal) => resolvePromise({ code, signal })));
  child.on('exit', (code, signal) => onUnexpectedExit(name, code, signal));
  child.on('error', (error) => onUnexpectedExit(name, null, null, error));
  return { name, child, exited, lines };
}

async function stopChild({ name, child, exited }) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  const timer = setTimeout(() => {
    say('demo', `${name} did not stop within ${STOP_DEADLINE_MS / 1000} s, killing it`);
    child.kill('SIGKILL');
  }, STOP_DEADLINE_MS);
  await exited;
  clearTimeout(timer);
}

async function main() {
  const { seconds } = parseArgs(process.argv.slice(2));
  if (!existsSync(CLI)) {
    console.error(`demo: ${CLI} is missing; build it first: npm ci && npm run build`);
    process.exit(1);
  }

  let received = 0;
  let stopping = false;
  let failed = false;
  let finish;
  const finished = new Promise((resolvePromise) => (finish = resolvePromise));
  const stop = (why) => {
    if (stopping) return;
    stopping = true;
    say('demo', why);
    finish();
  };

  const api = await startApiServer({
    key: API_KEY,
    onRequest: describeRequest((telegram) => {
      received++;
      say('api', `telegram ${received}: ${telegram.length} bytes, ${describePower(telegram)}`);
    }),
  });
  const apiUrl = api.url;
  const meterPort = await freePort();
  const dataDir = mkdtempSync(join(tmpdir(), 'dsmr-datalogger-demo-'));
  say('demo', `stand-in DSMR-reader API on ${apiUrl}, simulated meter on 127.0.0.1:${meterPort}, data in ${dataDir}`);
  say('demo', seconds ? `running for ${seconds} s` : 'press Ctrl-C to stop');

  const onUnexpectedExit = (name, code, signal, error) => {
    if (stopping) return;
    setTimeout(() => {
      if (stopping) return;
      failed = true;
      stop(`${name} ${error ? `could not start: ${error.message}` : `stopped unexpectedly (${signal ?? `status ${code}`})`}`);
    }, UNEXPECTED_EXIT_GRACE_MS);
  };

  process.on('SIGINT', () => stop('Ctrl-C: stopping'));
  process.on('SIGTERM', () => stop('SIGTERM: stopping'));

  const meter = startChild('meter', ['simulate', '--tcp-port', String(meterPort)], {}, onUnexpectedExit);
  // Start the datalogger once the meter listens, so the first thing it reports is not a refused connection.
  const deadline = Date.now() + STOP_DEADLINE_MS;
  while (!stopping && !meter.lines.some((line) => line.includes(`to tcp 127.0.0.1:${meterPort}`))) {
    if (Date.now() > deadline) {
      failed = true;
      stop(`the simulated meter did not start listening within ${STOP_DEADLINE_MS / 1000} s`);
    }
    await new Promise((resolvePromise) => setTimeout(resolvePromise, 50));
  }
  const datalogger = stopping ? undefined : startChild(
    'datalogger',
    [],
    {
      DSMRREADER_REMOTE_DATALOGGER_INPUT_METHOD: 'ipv4',
      DSMRREADER_REMOTE_DATALOGGER_NETWORK_HOST: '127.0.0.1',
      DSMRREADER_REMOTE_DATALOGGER_NETWORK_PORT: String(meterPort),
      DSMRREADER_REMOTE_DATALOGGER_API_HOSTS: apiUrl,
      DSMRREADER_REMOTE_DATALOGGER_API_KEYS: API_KEY,
      DSMR_DATALOGGER_DATA_DIR: dataDir,
      DSMR_DATALOGGER_LOG_LEVEL: 'info',
    },
    onUnexpectedExit,
  );

  const timer = seconds ? setTimeout(() => stop(`${seconds} s are up: stopping`), seconds * 1000) : undefined;
  await finished;
  clearTimeout(timer);

  // The datalogger first, so it is not left reconnecting to a meter that is gone.
  if (datalogger) await stopChild(datalogger);
  await stopChild(meter);
  await api.close();
  rmSync(dataDir, { recursive: true, force: true });

  say('demo', `the stand-in API received ${received} telegram${received === 1 ? '' : 's'}`);
  if (failed || (seconds && received === 0)) process.exit(1);
  process.exit(0);
}

main().catch((error) => {
  console.error(`demo: ${error.stack ?? error}`);
  process.exit(1);
});
