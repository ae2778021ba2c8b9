// The status endpoint of the built program, with real clients: fetch, promtool, a real Prometheus scraping it, a
// real headless Chromium, and `dsmr-datalogger status`; telegrams fed through a real pty to stand-in DSMR-readers.
import { afterEach, beforeEach, describe, expect, it, onTestFailed } from 'vitest';
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startApiServer, type ApiServer } from '../helpers/api-server.ts';
import { cleanEnv, defaultCommand, startDatalogger, type Datalogger } from '../helpers/datalogger.ts';
import { repoRoot } from '../helpers/fixtures.ts';
import { openPty, type Pty } from '../helpers/pty.ts';
import { BAD_CRC_REAL, VALID_DSMR5, VALID_DSMR5_B } from '../helpers/streams.ts';
import { waitFor } from '../helpers/wait.ts';
import { promtoolCheckMetrics, startPrometheus } from '../helpers/prometheus.ts';
import { dumpDom, screenshot } from '../helpers/chromium.ts';
import { readingOf } from '../../src/status/reading.ts';
import { formatPower } from '../../src/status/format.ts';
import type { StatusDocument } from '../../src/status/document.ts';

const KEY_A = 'key-for-server-a-0123456789';
const KEY_B = 'key-for-server-b-9876543210';
const TOKEN = 'status-token-0123456789abcdef';
const ARTIFACTS = join(repoRoot, 'test-artifacts');
const X64 = join(repoRoot, 'dist/dsmr-datalogger-linux-x64');

let dir: string;
let cleanups: (() => Promise<unknown> | unknown)[];

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'dsmr-status-'));
  cleanups = [];
});

afterEach(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
  rmSync(dir, { recursive: true, force: true });
});

interface Running {
  dl: Datalogger;
  pty: Pty;
  /** http://127.0.0.1:PORT of the endpoint, from its start-up line. */
  base: string;
}

async function server(key: string, port?: number): Promise<ApiServer> {
  const api = await startApiServer({ key, port });
  cleanups.push(() => api.close());
  return api;
}

/** The datalogger on a pty, its endpoint on a free port of 127.0.0.1. */
async function start(servers: ApiServer[], env: Record<string, string> = {}, command?: string[]): Promise<Running> {
  const pty = await openPty(dir);
  cleanups.push(() => pty.close());
  const dl = startDatalogger({
    command,
    env: {
      DSMR_DATALOGGER_DATA_DIR: join(dir, 'data'),
      DSMRREADER_REMOTE_DATALOGGER_SERIAL_PORT: pty.devicePath,
      DSMR_DATALOGGER_DSMR_VERSION: '5',
      DSMR_DATALOGGER_SERIAL_BACKEND: 'stty',
      DSMRREADER_REMOTE_DATALOGGER_API_HOSTS: servers.map((s) => s.url).join(','),
      DSMRREADER_REMOTE_DATALOGGER_API_KEYS: [KEY_A, KEY_B].slice(0, servers.length).join(','),
      DSMR_DATALOGGER_HTTP_LISTEN: '127.0.0.1:0',
      ...env,
    },
  });
  cleanups.push(() => (dl.proc.exitCode === null && dl.proc.signalCode === null ? dl.stop('SIGKILL') : undefined));
  onTestFailed(() => console.log(`datalogger output:\n${dl.lines.join('\n')}`));
  const line = await dl.waitForLine(/status endpoint on http:\/\/127\.0\.0\.1:\d+/);
  await dl.waitForLine(/serial port .* opened/);
  return { dl, pty, base: /(http:\/\/127\.0\.0\.1:\d+)/.exec(line)![1] };
}

async function get(url: string, headers: Record<string, string> = {}): Promise<{ status: number; text: string; headers: Headers }> {
  const response = await fetch(url, { headers });
  return { status: response.status, text: await response.text(), headers: response.headers };
}

async function statusOf(base: string, headers: Record<string, string> = {}): Promise<StatusDocument> {
  const r = await get(`${base}/status`, headers);
  expect(r.status).toBe(200);
  return JSON.parse(r.text) as StatusDocument;
}

function metricValue(text: string, sample: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${sample} `));
  return line === undefined ? undefined : Number(line.slice(sample.length + 1));
}

/** `dsmr-datalogger status` as a person runs it. */
function statusCommand(args: string[], env: Record<string, string> = {}, command = defaultCommand()): Promise<{ code: number; stdout: string; stderr: string }> {
  const [program, ...leading] = command;
  return new Promise((resolve) => {
    execFile(program, [...leading, 'status', ...args], { env: cleanEnv(env), timeout: 20_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : -1) : 0, stdout, stderr });
    });
  });
}

/** Three good telegrams, one with a bad CRC, one cut off by the next; VALID_DSMR5_B last. */
const FED = Buffer.concat([VALID_DSMR5, VALID_DSMR5, BAD_CRC_REAL, VALID_DSMR5.subarray(0, 400), VALID_DSMR5_B]);
const FED_VALID = 3;

const programs: [string, string[] | undefined][] = [
  ['the bundle', undefined],
  ['the x64 executable', [X64]],
];

describe.each(programs)('%s', (_name, command) => {
  it('/status and /metrics say what was fed and what the servers got; promtool passes; Prometheus scrapes the counter', { timeout: 90_000 }, async () => {
    if (command) expect(existsSync(X64), `${X64} is built by node scripts/build.mjs`).toBe(true);
    const [a, b] = [await server(KEY_A), await server(KEY_B)];
    const { pty, base } = await start([a, b], {}, command);
    await pty.write(FED);
    await waitFor(() => a.telegrams.length >= FED_VALID && b.telegrams.length >= FED_VALID, { what: 'both servers to get every valid telegram' });

    const doc = await waitFor(async () => {
      const d = await statusOf(base);
      return d.outputs.every((o) => o.delivered === FED_VALID) && d;
    });
    expect(doc.healthy).toBe(true);
    expect(doc.input).toMatchObject({ kind: 'serial', target: pty.devicePath, line: '115200 8N1', state: 'open', telegramsAccepted: FED_VALID, crcFailures: 1, cutOffFrames: 1, oversizedFrames: 0 });
    expect(doc.input.telegramsRead).toBe(FED_VALID + 1);
    expect(doc.input.lastTelegramAgeSeconds).toBeLessThan(30);
    expect(doc.outputs.map((o) => [o.name, o.state, o.delivered, o.queuedInMemory + o.spooledTelegrams, o.lastAnswer])).toEqual([
      [a.url, 'up', a.telegrams.length, 0, 'HTTP 201'],
      [b.url, 'up', b.telegrams.length, 0, 'HTTP 201'],
    ]);
    const expected = readingOf(VALID_DSMR5_B);
    expect(doc.latest).toMatchObject({ meterTime: expected.meterTime, powerDeliveredW: expected.powerDeliveredW, powerReturnedW: expected.powerReturnedW, delivered: expected.delivered });

    const metrics = await get(`${base}/metrics`);
    expect(metrics.status).toBe(200);
    expect(metrics.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
    expect(metricValue(metrics.text, 'dsmr_datalogger_telegrams_total')).toBe(FED_VALID);
    expect(metricValue(metrics.text, 'dsmr_datalogger_crc_failures_total')).toBe(1);
    expect(metricValue(metrics.text, `dsmr_datalogger_output_delivered_total{output="${a.url}"}`)).toBe(a.telegrams.length);
    expect(metricValue(metrics.text, `dsmr_datalogger_output_delivered_total{output="${b.url}"}`)).toBe(b.telegrams.length);
    expect(metricValue(metrics.text, 'dsmr_datalogger_power_delivered_watts')).toBe(expected.powerDeliveredW);
    const lint = await promtoolCheckMetrics(metrics.text);
    expect(lint.output).toBe('');
    expect(lint.code).toBe(0);

    // No secret in any answer: not the API keys.
    for (const path of ['/', '/status', '/metrics', '/health']) {
      const r = await get(`${base}${path}`);
      expect(r.text, path).not.toContain(KEY_A);
      expect(r.text, path).not.toContain(KEY_B);
    }

    const prometheus = await startPrometheus(dir, base.replace('http://', ''), { intervalS: 1 });
    cleanups.push(() => prometheus.close());
    onTestFailed(() => console.log(`prometheus log:\n${prometheus.log()}`));
    const series = await waitFor(async () => {
      const result = await prometheus.query('dsmr_datalogger_telegrams_total');
      return result.length > 0 && result;
    }, { timeoutMs: 30_000, what: 'Prometheus to have scraped dsmr_datalogger_telegrams_total' });
    expect(series).toHaveLength(1);
    expect(series[0].value).toBe(FED_VALID);
    expect(series[0].metric).toMatchObject({ job: 'dsmr-datalogger', instance: base.replace('http://', '') });
    const delivered = await prometheus.query('dsmr_datalogger_output_delivered_total');
    expect(delivered.map((s) => [s.metric.output, s.value]).sort()).toEqual([[a.url, FED_VALID], [b.url, FED_VALID]].sort());

    const cli = await statusCommand(['--url', base], {}, command);
    expect(cli.code).toBe(0);
    expect(cli.stdout).toMatch(/^dsmr-datalogger \S+, up .*: healthy\n/);
    expect(cli.stdout).toContain(`${a.url}: up for`);
  });
});

describe('/health', () => {
  it('turns 503 with the reason when the meter goes silent, and 200 when it talks again', async () => {
    const a = await server(KEY_A);
    const { pty, base } = await start([a], { DSMR_DATALOGGER_HEALTH_SILENCE: '2' });
    await pty.write(VALID_DSMR5);
    await waitFor(async () => (await get(`${base}/health`)).status === 200, { what: '/health 200 while the meter talks' });
    const silent = await waitFor(async () => {
      const r = await get(`${base}/health`);
      return r.status === 503 && r;
    }, { what: '/health 503 once the meter is silent' });
    expect(silent.text).toMatch(/^no telegram from the meter for \d+ s \(serial .*ttyDSMR\)\n$/);
    expect(silent.headers.get('content-type')).toBe('text/plain; charset=utf-8');
    const unhealthy = await statusCommand(['--url', base]);
    expect(unhealthy.code).toBe(1);
    expect(unhealthy.stdout).toContain('UNHEALTHY');
    expect(unhealthy.stdout).toContain('! no telegram from the meter for');

    await pty.write(VALID_DSMR5_B);
    await waitFor(async () => (await get(`${base}/health`)).status === 200, { what: '/health 200 once the meter talks again' });
  });

  it('shows an output that delivers nothing while telegrams wait, in /health and once in the log, until it is back', { timeout: 120_000 }, async () => {
    const a = await server(KEY_A);
    const { dl, pty, base } = await start([a], { DSMR_DATALOGGER_HEALTH_STALL: '2' });
    await pty.write(VALID_DSMR5);
    await waitFor(() => a.telegrams.length === 1, { what: 'the first telegram delivered' });
    const port = Number(new URL(a.url).port);
    await a.close();
    // The meter goes on talking while the server is away.
    let feeding = true;
    const feeder = (async () => {
      while (feeding) {
        await pty.write(VALID_DSMR5_B);
        await new Promise((r) => setTimeout(r, 500));
      }
    })();
    cleanups.push(async () => {
      feeding = false;
      await feeder;
    });
    const stuck = await waitFor(async () => {
      const r = await get(`${base}/health`);
      return r.status === 503 && r;
    }, { what: '/health 503 while the server is away' });
    expect(stuck.text).toMatch(new RegExp(`^${a.url} has delivered nothing for \\d+ s with \\d+ telegrams? waiting \\(last answer: .+\\)\\n$`));
    const doc = await statusOf(base);
    expect(doc.outputs[0].state).toBe('unavailable');
    expect(doc.outputs[0].queuedInMemory + doc.outputs[0].spooledTelegrams).toBeGreaterThan(0);
    expect(doc.outputs[0].oldestWaitingAgeSeconds).toBeGreaterThan(0);
    // The watchdog samples every 15 s.
    await dl.waitForLine(new RegExp(`WARN unhealthy: ${a.url} has delivered nothing`), 30_000);

    const back = await server(KEY_A, port);
    await waitFor(async () => (await get(`${base}/health`)).status === 200, { timeoutMs: 90_000, what: '/health 200 once the server takes telegrams again' });
    expect(back.telegrams.length).toBeGreaterThan(0);
    await dl.waitForLine(new RegExp(`INFO healthy again: ${a.url} is taking telegrams`), 30_000);
    expect(dl.lines.filter((l) => /unhealthy: .* has delivered nothing/.test(l))).toHaveLength(1);
  });
});

describe('the token', () => {
  it('guards every path but /health: 401 without or with a wrong one, in with Bearer or Basic; never in an answer', async () => {
    const a = await server(KEY_A);
    const { pty, base } = await start([a], { DSMR_DATALOGGER_HTTP_TOKEN: TOKEN });
    await pty.write(VALID_DSMR5);
    await waitFor(() => a.telegrams.length === 1, { what: 'the telegram delivered' });
    for (const path of ['/', '/status', '/metrics', '/nope']) {
      const none = await get(`${base}${path}`);
      expect(none.status, path).toBe(401);
      expect(none.headers.get('www-authenticate')).toContain('Bearer realm="dsmr-datalogger"');
      expect((await get(`${base}${path}`, { authorization: `Bearer ${TOKEN}x` })).status).toBe(401);
      expect((await get(`${base}${path}`, { authorization: 'Bearer ' })).status).toBe(401);
    }
    const basic = `Basic ${Buffer.from(`anyone:${TOKEN}`).toString('base64')}`;
    for (const path of ['/', '/status', '/metrics']) {
      const bearer = await get(`${base}${path}`, { authorization: `Bearer ${TOKEN}` });
      expect(bearer.status, path).toBe(200);
      expect(bearer.text).not.toContain(TOKEN);
      expect(bearer.text).not.toContain(KEY_A);
      expect((await get(`${base}${path}`, { authorization: basic })).status, path).toBe(200);
    }
    expect((await get(`${base}/health`)).status).toBe(200);

    expect(await statusCommand(['--url', base], { DSMR_DATALOGGER_HTTP_TOKEN: TOKEN })).toMatchObject({ code: 0 });
    const refused = await statusCommand(['--url', base]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('wants a token: set DSMR_DATALOGGER_HTTP_TOKEN');
    // The token from the env file, like the datalogger's own.
    const envFile = join(dir, 'datalogger.env');
    await import('node:fs').then((fs) => fs.writeFileSync(envFile, `DSMR_DATALOGGER_HTTP_TOKEN=${TOKEN}\nDSMR_DATALOGGER_HTTP_LISTEN=${base.replace('http://', '')}\n`));
    const fromFile = await statusCommand(['--env-file', envFile]);
    expect(fromFile.code).toBe(0);
    expect(fromFile.stdout).not.toContain(TOKEN);
  });

  it('is required off loopback: a configuration error, one line, exit 2', async () => {
    const dl = startDatalogger({ env: { DSMR_DATALOGGER_DATA_DIR: join(dir, 'data'), DSMRREADER_REMOTE_DATALOGGER_API_HOSTS: 'http://127.0.0.1:9', DSMRREADER_REMOTE_DATALOGGER_API_KEYS: KEY_A, DSMR_DATALOGGER_HTTP_LISTEN: '0.0.0.0:0' } });
    expect((await dl.waitForExit()).code).toBe(2);
    const output = dl.lines.filter((l) => l.trim() !== '');
    expect(output).toHaveLength(1);
    expect(output[0]).toMatch(/configuration error: DSMR_DATALOGGER_HTTP_LISTEN is "0.0.0.0:0", reachable from other machines, but DSMR_DATALOGGER_HTTP_TOKEN is not set/);
  });
});

describe('the endpoint', () => {
  it('whose address is taken is said once, and delivery goes on without it', async () => {
    const taken = net.createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise((resolve) => taken.close(resolve)));
    const port = (taken.address() as net.AddressInfo).port;
    const a = await server(KEY_A);
    const pty = await openPty(dir);
    cleanups.push(() => pty.close());
    const dl = startDatalogger({ env: { DSMR_DATALOGGER_DATA_DIR: join(dir, 'data'), DSMRREADER_REMOTE_DATALOGGER_SERIAL_PORT: pty.devicePath, DSMR_DATALOGGER_DSMR_VERSION: '5', DSMR_DATALOGGER_SERIAL_BACKEND: 'stty', DSMRREADER_REMOTE_DATALOGGER_API_HOSTS: a.url, DSMRREADER_REMOTE_DATALOGGER_API_KEYS: KEY_A, DSMR_DATALOGGER_HTTP_LISTEN: `127.0.0.1:${port}` } });
    cleanups.push(() => (dl.proc.exitCode === null ? dl.stop('SIGKILL') : undefined));
    onTestFailed(() => console.log(`datalogger output:\n${dl.lines.join('\n')}`));
    await dl.waitForLine(new RegExp(`WARN status endpoint: cannot listen on 127.0.0.1:${port} \\(the address is taken; is another datalogger running on this machine\\?\\); running on without it`));
    await dl.waitForLine(/serial port .* opened/);
    await pty.write(Buffer.concat([VALID_DSMR5, VALID_DSMR5_B]));
    await waitFor(() => a.telegrams.length === 2, { what: 'delivery without the endpoint' });
    expect(dl.lines.filter((l) => /status endpoint/.test(l))).toHaveLength(1);
    // Nothing listens on a port just closed.
    const closed = net.createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const closedPort = (closed.address() as net.AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const unreachable = await statusCommand(['--url', `http://127.0.0.1:${closedPort}`]);
    expect(unreachable.code).toBe(2);
    expect(unreachable.stderr).toContain(`does not answer at http://127.0.0.1:${closedPort} (ECONNREFUSED)`);
    expect((await dl.stop('SIGTERM')).code).toBe(0);
  });

  it('is off with DSMR_DATALOGGER_HTTP_LISTEN=off, and `status` says so', async () => {
    const off = await statusCommand([], { DSMR_DATALOGGER_HTTP_LISTEN: 'off' });
    expect(off.code).toBe(2);
    expect(off.stderr).toContain('the status endpoint is turned off');
  });
});

describe('the page in a real headless Chromium', () => {
  it('renders on a phone-sized screen with the right numbers; the screenshot is kept in test-artifacts/', { timeout: 120_000 }, async () => {
    const [a, b] = [await server(KEY_A), await server(KEY_B)];
    const { pty, base } = await start([a, b], { DSMR_DATALOGGER_HTTP_TOKEN: TOKEN });
    await pty.write(FED);
    await waitFor(() => a.telegrams.length === FED_VALID && b.telegrams.length === FED_VALID, { what: 'both servers to get every valid telegram' });
    const withToken = base.replace('http://', `http://phone:${TOKEN}@`);
    const doc = await statusOf(base, { authorization: `Bearer ${TOKEN}` });

    const dom = await dumpDom(`${withToken}/`, { dir, windowSize: [390, 844] });
    expect(dom).toContain('All is well');
    expect(dom).toContain('<p class="big">Talking</p>');
    expect(dom).toContain(`<dd id="telegrams">${doc.input.telegramsAccepted}</dd>`);
    const expected = readingOf(VALID_DSMR5_B);
    const net = expected.powerDeliveredW! - expected.powerReturnedW!;
    expect(dom).toContain(`<p class="big" id="power-now">${formatPower(net)} <small>${net >= 0 ? 'from' : 'into'} the grid</small></p>`);
    expect(dom.match(/<dd class="delivered">3<\/dd>/g)).toHaveLength(2);
    expect(dom.match(/Getting its telegrams/g)).toHaveLength(2);
    expect(dom).toContain(`${expected.delivered.totalKwh!.toFixed(3)} kWh`);
    expect(dom).not.toContain(TOKEN);

    mkdirSync(ARTIFACTS, { recursive: true });
    const shot = join(ARTIFACTS, 'status-page.png');
    rmSync(shot, { force: true });
    await screenshot(`${withToken}/`, shot, { dir, windowSize: [390, 1000] });
    expect(statSync(shot).size).toBeGreaterThan(10_000);
    expect(readFileSync(shot).subarray(1, 4).toString()).toBe('PNG');

    // Without the token the browser gets the 401, not the page.
    const denied = await dumpDom(`${base}/`, { dir });
    expect(denied).not.toContain('All is well');
  });
});
