import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, lstatSync, mkdtempSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { PassThrough } from 'node:stream';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { crc16 } from '../../src/transforms/crc16.ts';
import { SimulatedMeter } from '../../src/simulate/meter.ts';
import { runSimulate } from '../../src/simulate/run.ts';
import { waitFor } from '../helpers/wait.ts';

const ROOT = resolve(import.meta.dirname, '../..');
let work: string;
let entry: string;
const children = new Set<ChildProcess>();

interface Child {
  process: ChildProcess;
  stdout: () => Buffer;
  stderr: () => string;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

// The simulator runs as a real process: runSimulate bundled into a script, as the datalogger executable will run it.
function simulate(args: string[]): Child {
  const child = spawn(process.execPath, [entry, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  const out: Buffer[] = [];
  let err = '';
  child.stdout!.on('data', (chunk: Buffer) => out.push(chunk));
  child.stderr!.on('data', (chunk: Buffer) => (err += chunk.toString()));
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((done) =>
    child.on('close', (code, signal) => {
      children.delete(child);
      done({ code, signal });
    }),
  );
  return { process: child, stdout: () => Buffer.concat(out), stderr: () => err, exit };
}

async function exitWithin(child: Child, ms: number) {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`no exit within ${ms} ms; stderr: ${child.stderr()}`)), ms)));
  try {
    return await Promise.race([child.exit, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Complete telegrams in a byte stream, each checked against its CRC. */
function telegramsIn(bytes: Buffer): Buffer[] {
  const found: Buffer[] = [];
  const text = bytes.toString('latin1');
  for (const m of text.matchAll(/\/[^/!]*!([0-9A-F]{4})\r\n/g)) {
    const telegram = Buffer.from(m[0], 'latin1');
    const bang = m[0].indexOf('!');
    if (crc16(telegram, 0, bang + 1) !== parseInt(m[1], 16)) throw new Error(`bad CRC in ${m[0]}`);
    found.push(telegram);
  }
  return found;
}

function expectedTelegrams(seed: number, start: string, intervalSeconds: number, count: number): Buffer {
  const meter = new SimulatedMeter({ seed, start: new Date(start), intervalSeconds });
  return Buffer.concat(Array.from({ length: count }, () => meter.next()));
}

async function listeningPort(child: Child): Promise<number> {
  const m = await waitFor(() => /to tcp 127\.0\.0\.1:(\d+)/.exec(child.stderr()), { what: 'the simulator to listen' });
  return Number(m[1]);
}

function tcpClient(port: number) {
  const socket: Socket = connect(port, '127.0.0.1');
  const chunks: Buffer[] = [];
  let ended = false;
  socket.on('data', (chunk) => chunks.push(chunk));
  socket.on('end', () => (ended = true));
  socket.on('error', () => {});
  return { socket, received: () => Buffer.concat(chunks), ended: () => ended };
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'simulate-test-'));
  entry = join(work, 'simulate.cjs');
  await build({
    stdin: {
      contents: "import { runSimulate } from './src/simulate/run.ts';\nrunSimulate(process.argv.slice(2)).then((code) => process.exit(code));\n",
      resolveDir: ROOT,
      loader: 'ts',
    },
    bundle: true,
    platform: 'node',
    format: 'cjs',
    outfile: entry,
    logLevel: 'warning',
  });
});

afterAll(() => {
  for (const child of children) child.kill('SIGKILL');
  rmSync(work, { recursive: true, force: true });
});

describe('simulate to stdout', () => {
  it('--count 3 writes exactly 3 telegrams, the ones the meter makes for that seed and start', async () => {
    const start = '2026-10-25T00:59:58Z';
    const child = simulate(['--count', '3', '--interval', '0.05', '--seed', '11', '--start', start]);
    const { code } = await exitWithin(child, 15_000);
    expect(code).toBe(0);
    expect(telegramsIn(child.stdout())).toHaveLength(3);
    expect(child.stdout().equals(expectedTelegrams(11, start, 0.05, 3))).toBe(true);
    expect(child.stderr()).toMatch(/INFO simulated DSMR 5 meter \(seed 11\)/);
  });

  it('paces the telegrams by the interval', async () => {
    const began = Date.now();
    const child = simulate(['--count', '4', '--interval', '0.3']);
    expect((await exitWithin(child, 15_000)).code).toBe(0);
    // 4 telegrams: the first at once, then 3 intervals.
    expect(Date.now() - began).toBeGreaterThanOrEqual(900);
    expect(telegramsIn(child.stdout())).toHaveLength(4);
  });

  it('--fast writes as fast as the reader takes them', async () => {
    const child = simulate(['--count', '5000', '--fast', '--seed', '3']);
    expect((await exitWithin(child, 30_000)).code).toBe(0);
    expect(telegramsIn(child.stdout())).toHaveLength(5000);
  });

  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    it(`stops on ${signal} with status 0`, async () => {
      const child = simulate(['--interval', '0.1']);
      await waitFor(() => telegramsIn(child.stdout()).length >= 2, { what: 'two telegrams' });
      child.process.kill(signal);
      const { code, signal: killedBy } = await exitWithin(child, 10_000);
      expect(killedBy).toBeNull();
      expect(code).toBe(0);
      expect(child.stderr()).toContain(`${signal} received, stopping`);
    });
  }

  it('stops with status 0 when the reader closes the pipe', async () => {
    const child = simulate(['--fast']);
    await waitFor(() => child.stdout().length > 0, { what: 'output' });
    child.process.stdout!.destroy();
    expect((await exitWithin(child, 10_000)).code).toBe(0);
  });

  it('--help prints the usage and exits 0', async () => {
    const child = simulate(['--help']);
    expect((await exitWithin(child, 10_000)).code).toBe(0);
    expect(child.stdout().toString()).toMatch(/^Usage: dsmr-datalogger simulate/);
    expect(child.stdout().toString()).toContain('--tcp-port PORT');
  });
});

describe('simulate with bad options', () => {
  const cases: [string[], RegExp][] = [
    [['--interval', 'soon'], /--interval expects a number of seconds/],
    [['--interval', '0'], /--interval expects/],
    [['--count', '2.5'], /--count expects a whole number/],
    [['--count'], /--count needs a value/],
    [['--tcp-port', '70000'], /--tcp-port expects a TCP port number/],
    [['--tcp-host', '0.0.0.0'], /--tcp-host needs --tcp-port/],
    [['--tcp-port', '1234', '--output', 'x'], /use only one of --tcp-port, --pty and --output/],
    [['--seed', '-1'], /--seed expects a whole number/],
    [['--start', 'yesterday'], /--start expects an ISO 8601 time/],
    [['--pty', '/tmp/a,b'], /--pty expects a path/],
    [['--output', '/dev/no-such-device-here'], /--output \/dev\/no-such-device-here does not exist/],
    [['--fast=yes'], /--fast takes no value/],
    [['--colour'], /unknown option --colour/],
    [['stdout'], /unexpected argument "stdout"/],
  ];
  for (const [args, message] of cases) {
    it(`${args.join(' ')} → one line, status 2`, async () => {
      const child = simulate(args);
      expect((await exitWithin(child, 10_000)).code).toBe(2);
      expect(child.stderr()).toMatch(message);
      expect(child.stderr().trim().split('\n')).toHaveLength(1);
      expect(child.stdout().length).toBe(0);
    });
  }
});

describe('simulate to a file', () => {
  it('--output writes the telegrams to the file', async () => {
    const file = join(work, 'telegrams.txt');
    writeFileSync(file, 'old content that must go\n');
    const child = simulate(['--output', file, '--count', '5', '--fast', '--seed', '8', '--start', '2026-01-01T00:00:00Z']);
    expect((await exitWithin(child, 15_000)).code).toBe(0);
    expect(readFileSync(file).equals(expectedTelegrams(8, '2026-01-01T00:00:00Z', 1, 5))).toBe(true);
    expect(child.stdout().length).toBe(0);
  });

  it('--output to a directory that does not exist fails with status 1', async () => {
    const child = simulate(['--output', join(work, 'missing', 'x.txt'), '--count', '1']);
    expect((await exitWithin(child, 10_000)).code).toBe(1);
    expect(child.stderr()).toMatch(/ENOENT/);
  });
});

describe('simulate over TCP', () => {
  it('streams whole telegrams to every connected client and stops cleanly', async () => {
    const child = simulate(['--tcp-port', '0', '--interval', '0.1']);
    const port = await listeningPort(child);
    const a = tcpClient(port);
    const b = tcpClient(port);
    await waitFor(() => telegramsIn(a.received()).length >= 3 && telegramsIn(b.received()).length >= 3, { what: '3 telegrams on both clients' });
    // Whatever the moment of connecting, a client's stream starts at the beginning of a telegram.
    for (const client of [a, b]) expect(client.received().subarray(0, 5).toString()).toBe('/ISK5');
    child.process.kill('SIGTERM');
    expect((await exitWithin(child, 10_000)).code).toBe(0);
    await waitFor(() => a.ended() && b.ended(), { what: 'the server to end the connections' });
    for (const client of [a, b]) expect(client.received().toString('latin1')).toMatch(/!([0-9A-F]{4})\r\n$/);
  });

  it('--fast waits for a client and then delivers every telegram', async () => {
    const child = simulate(['--tcp-port', '0', '--fast', '--count', '2000', '--seed', '4', '--start', '2026-05-01T12:00:00Z']);
    const port = await listeningPort(child);
    await waitFor(() => child.stderr().includes('waiting for a client'), { what: 'waiting for a client' });
    const client = tcpClient(port);
    expect((await exitWithin(child, 30_000)).code).toBe(0);
    await waitFor(() => client.ended(), { what: 'end of stream' });
    expect(client.received().equals(expectedTelegrams(4, '2026-05-01T12:00:00Z', 1, 2000))).toBe(true);
  });

  it('reports a port in use with status 1', async () => {
    const first = simulate(['--tcp-port', '0']);
    const port = await listeningPort(first);
    const second = simulate(['--tcp-port', String(port)]);
    expect((await exitWithin(second, 10_000)).code).toBe(1);
    expect(second.stderr()).toMatch(/cannot listen on 127\.0\.0\.1:\d+: the port is in use/);
    first.process.kill('SIGTERM');
    expect((await exitWithin(first, 10_000)).code).toBe(0);
  });
});

const haveSocat = spawnSync('socat', ['-V']).status === 0;

describe.skipIf(!haveSocat)('simulate to a pty', () => {
  it('links a pty at the path, streams telegrams through it and removes the link at the end', async () => {
    const link = join(work, 'ttyP1');
    const child = simulate(['--pty', link, '--interval', '0.1']);
    await waitFor(() => existsSync(link) && lstatSync(link).isSymbolicLink(), { what: 'the pty link' });
    expect(readlinkSync(link)).toMatch(/^\/dev\/pts\/\d+$/);
    // The datalogger opens the link like a serial device; `cat` does the same here.
    const reader = spawn('cat', [link], { stdio: ['ignore', 'pipe', 'ignore'] });
    children.add(reader);
    const got: Buffer[] = [];
    reader.stdout.on('data', (chunk: Buffer) => got.push(chunk));
    await waitFor(() => telegramsIn(Buffer.concat(got)).length >= 3, { what: '3 telegrams through the pty' });
    reader.kill('SIGTERM');
    children.delete(reader);
    child.process.kill('SIGTERM');
    expect((await exitWithin(child, 10_000)).code).toBe(0);
    expect(existsSync(link)).toBe(false);
  });

  it('refuses to replace a file that is not a pty link', async () => {
    const file = join(work, 'precious.txt');
    writeFileSync(file, 'keep me');
    const child = simulate(['--pty', file]);
    expect((await exitWithin(child, 10_000)).code).toBe(2);
    expect(child.stderr()).toMatch(/already exists and is not a link to a pty/);
    expect(readFileSync(file, 'utf8')).toBe('keep me');
  });

  it('says so when socat is missing', async () => {
    const child = spawn(process.execPath, [entry, '--pty', join(work, 'nosocat')], { env: { ...process.env, PATH: '/nonexistent' }, stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
    const code = await new Promise<number | null>((done) => child.on('close', done));
    expect(code).toBe(1);
    expect(err).toMatch(/--pty needs socat, which is not installed/);
  });
});

describe('runSimulate in-process', () => {
  it('writes to the given stream and stops when its signal aborts', async () => {
    const stdout = new PassThrough();
    const chunks: Buffer[] = [];
    stdout.on('data', (chunk: Buffer) => chunks.push(chunk));
    const logs: string[] = [];
    const controller = new AbortController();
    const done = runSimulate(['--interval', '0.05', '--seed', '2'], { stdout, stderr: (line) => logs.push(line), signal: controller.signal, handleSignals: false });
    await waitFor(() => telegramsIn(Buffer.concat(chunks)).length >= 2, { what: 'two telegrams' });
    controller.abort();
    expect(await done).toBe(0);
    expect(logs.join('')).toMatch(/stopped after \d+ telegrams/);
  });
});
