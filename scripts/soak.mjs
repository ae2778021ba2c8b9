#!/usr/bin/env node
// npm run soak: does resident memory depend on uptime or on the size of a backlog? The datalogger runs for a while
// at a steady meter pace against a DSMR-reader stand-in that is away for the first half (the backlog grows to
// thousands of telegrams) and then flaps (up a little, down again), ending with a full replay. RSS is sampled all
// along, with the backlog from the program's own /status; the run fails when RSS grows after the warm-up.
// Usage: HELP below, or node scripts/soak.mjs --help.
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { startApiServer } from './lib/stand-in-dsmr-reader.mjs';
import { openPty } from './lib/pty.mjs';
import { memory } from './bench/procfs.mjs';
import { startSubject } from './bench/subject.mjs';
import { generateTelegrams } from './bench/telegrams.mjs';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const KEY = 'soak-0123456789abcdef';
const MiB = 1024 * 1024;
const HELP = `Usage: node scripts/soak.mjs [--subject COMMAND] [--minutes M] [--rate N] [--quick] [--max-growth-mib X] [--json FILE]

  --subject COMMAND     the datalogger (default: dist/dsmr-datalogger-linux-x64)
  --minutes M           length of the run (default 20)
  --rate N              telegrams per second from the simulated meter (default 20)
  --quick               a two-minute run, for CI (a smoke test: the heap is still settling)
  --max-growth-mib X    fail when RSS in the last quarter exceeds the second quarter's by more (default 4; 6 with --quick)
  --json FILE           also write every sample as JSON

The server is down for the first half of the run, then up for 1 s in every 10 s; at the end it stays up until the
backlog is delivered. Prints the RSS curve (with the backlog) and exits 1 on growth or a lost telegram.
`;

function options(argv) {
  const { values } = parseArgs({
    args: argv,
    options: {
      subject: { type: 'string', default: join(repoRoot, 'dist', 'dsmr-datalogger-linux-x64') },
      minutes: { type: 'string', default: '20' },
      rate: { type: 'string', default: '20' },
      quick: { type: 'boolean', default: false },
      'max-growth-mib': { type: 'string' },
      json: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  const number = (name, value) => {
    const n = Number(value);
    if (!(n > 0)) throw new Error(`--${name} must be a positive number, not ${value}`);
    return n;
  };
  return {
    help: values.help,
    subject: values.subject,
    seconds: values.quick ? 120 : number('minutes', values.minutes) * 60,
    rate: number('rate', values.rate),
    // A short run still holds some of the runtime's warm-up (its heap settles within about two minutes here).
    maxGrowth: number('max-growth-mib', values['max-growth-mib'] ?? (values.quick ? '6' : '4')) * MiB,
    json: values.json,
  };
}

async function freePort() {
  const server = createServer();
  await new Promise((ok) => server.listen(0, '127.0.0.1', ok));
  const { port } = server.address();
  await new Promise((ok) => server.close(ok));
  return port;
}

async function spooled(statusUrl) {
  try {
    const doc = await (await fetch(statusUrl, { signal: AbortSignal.timeout(2000) })).json();
    return doc.outputs.reduce((n, o) => n + o.queuedInMemory + o.spooledTelegrams, 0);
  } catch {
    return Number.NaN;
  }
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.floor(s.length / 2)] : Number.NaN;
};
const mib = (bytes) => (bytes / MiB).toFixed(1);

async function main() {
  const opts = options(process.argv.slice(2));
  if (opts.help) return void process.stdout.write(HELP);
  const work = mkdtempSync(join(tmpdir(), 'dsmr-soak-'));
  const progress = (message) => process.stderr.write(`soak: ${message}\n`);
  let subject;
  let server;
  let pty;
  try {
    const count = Math.round(opts.seconds * opts.rate);
    progress(`${count} telegrams at ${opts.rate}/s for ${opts.seconds} s against ${opts.subject}`);
    const telegrams = generateTelegrams({ repoRoot, file: join(work, 'telegrams.txt'), count });
    let up = false;
    server = await startApiServer({ key: KEY, respond: () => (up ? undefined : { status: 503, body: 'down for the soak' }) });
    pty = await openPty(work);
    const httpPort = await freePort();
    subject = startSubject(opts.subject, {
      DSMRREADER_REMOTE_DATALOGGER_SERIAL_PORT: pty.devicePath,
      DSMR_DATALOGGER_DSMR_VERSION: '5',
      DSMRREADER_REMOTE_DATALOGGER_API_HOSTS: server.url,
      DSMRREADER_REMOTE_DATALOGGER_API_KEYS: KEY,
      DSMR_DATALOGGER_DATA_DIR: join(work, 'data'),
      DSMR_DATALOGGER_HTTP_LISTEN: `127.0.0.1:${httpPort}`,
      DSMR_DATALOGGER_STATS_INTERVAL: '0',
    });
    await subject.waitUntilOpen(pty.devicePts);
    const statusUrl = `http://127.0.0.1:${httpPort}/status`;

    const samples = [];
    const startedAt = Date.now();
    const half = (opts.seconds * 1000) / 2;
    const sampleEveryMs = Math.max(1000, (opts.seconds * 1000) / 120);
    let nextSample = 0;
    for (let i = 0; i < count; i++) {
      const elapsed = Date.now() - startedAt;
      // Away for the first half; then up for one second in every ten.
      up = elapsed >= half && elapsed % 10_000 < 1000;
      await pty.write(telegrams[i]);
      if (elapsed >= nextSample) {
        samples.push({ seconds: elapsed / 1000, rss: memory(subject.pid).rss, waiting: await spooled(statusUrl), up });
        nextSample += sampleEveryMs;
      }
      await sleep(Math.max(0, startedAt + ((i + 1) * 1000) / opts.rate - Date.now()));
    }
    up = true;
    progress('the meter is done; the server stays up for the replay');
    const replayStart = Date.now();
    let replayPeak = 0;
    while (new Set(server.telegrams.map((t) => t.toString('latin1'))).size < count) {
      replayPeak = Math.max(replayPeak, memory(subject.pid).rss);
      if (Date.now() - replayStart > 120_000) throw new Error(`only ${server.telegrams.length} of ${count} telegrams arrived within 2 min of the end`);
      await sleep(200);
    }
    samples.push({ seconds: (Date.now() - startedAt) / 1000, rss: memory(subject.pid).rss, waiting: await spooled(statusUrl), up: true });

    const q = (from, to) => samples.filter((s) => s.seconds >= (opts.seconds * from) / 4 && s.seconds < (opts.seconds * to) / 4).map((s) => s.rss);
    const second = median(q(1, 2));
    const last = median(q(3, 4));
    const growth = last - second;
    const maxWaiting = Math.max(...samples.map((s) => s.waiting).filter(Number.isFinite));
    process.stdout.write('RSS curve (seconds, RSS MiB, telegrams waiting, server):\n');
    const step = Math.max(1, Math.floor(samples.length / 30));
    for (const [i, s] of samples.entries()) {
      if (i % step === 0 || i === samples.length - 1) process.stdout.write(`  ${s.seconds.toFixed(0).padStart(5)} s  ${mib(s.rss).padStart(6)}  ${String(s.waiting).padStart(7)}  ${s.up ? 'up' : 'down'}\n`);
    }
    process.stdout.write(
      `median RSS 2nd quarter ${mib(second)} MiB, last quarter ${mib(last)} MiB: growth ${mib(growth)} MiB (limit ${mib(opts.maxGrowth)}); ` +
        `backlog up to ${maxWaiting}; replay peak ${mib(replayPeak)} MiB; ${count} telegrams delivered\n`,
    );
    if (opts.json) {
      const { writeFileSync } = await import('node:fs');
      writeFileSync(opts.json, JSON.stringify({ opts, samples, second, last, growth, replayPeak, maxWaiting }, null, 2));
    }
    if (growth > opts.maxGrowth) {
      process.stdout.write('soak: FAIL: resident memory grew with uptime or backlog\n');
      return 1;
    }
    process.stdout.write('soak: ok\n');
    return 0;
  } finally {
    await subject?.stop();
    await pty?.close();
    await server?.close();
    rmSync(work, { recursive: true, force: true });
  }
}

main().then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`soak: ${err.stack ?? err.message}\n`);
    process.exit(1);
  },
);
