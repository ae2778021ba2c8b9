// The diagnostic commands of the built bundle: `inspect` field by field against the corpus, `detect` on real ptys
// (fed by the simulator or by the test) and a TCP bridge, `check` against fake DSMR-readers on 127.0.0.1.
import { afterEach, beforeEach, describe, expect, it, onTestFailed } from 'vitest';
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startApiServer, type ApiServer } from '../helpers/api-server.ts';
import { cleanEnv, defaultCommand, startDatalogger } from '../helpers/datalogger.ts';
import { fixture, repoRoot, streamEntries, telegramEntries, telegramsDir } from '../helpers/fixtures.ts';
import { openPty, type Pty } from '../helpers/pty.ts';
import { sleep, waitFor } from '../helpers/wait.ts';

interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the bundle to its end; `whileRunning` may feed it (a pty, a bridge) until it exits. */
function cli(args: string[], opts: { env?: Record<string, string>; stdin?: Buffer; timeoutMs?: number; whileRunning?: (exited: () => boolean) => Promise<void> } = {}): Promise<CliResult> {
  const [program, ...leading] = defaultCommand();
  const child = spawn(program!, [...leading, ...args], { cwd: repoRoot, env: cleanEnv(opts.env), stdio: ['pipe', 'pipe', 'pipe'] });
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  child.stdout.on('data', (b: Buffer) => out.push(b));
  child.stderr.on('data', (b: Buffer) => err.push(b));
  child.stdin.on('error', () => undefined);
  child.stdin.end(opts.stdin ?? Buffer.alloc(0));
  let exited = false;
  const done = new Promise<CliResult>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`dsmr-datalogger ${args.join(' ')} did not finish within ${opts.timeoutMs ?? 30_000} ms; output so far:\n${Buffer.concat(out)}${Buffer.concat(err)}`));
    }, opts.timeoutMs ?? 30_000);
    child.once('close', (code) => {
      exited = true;
      clearTimeout(timer);
      resolve({ code, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') });
    });
  });
  const feeding = opts.whileRunning?.(() => exited);
  return Promise.all([done, feeding]).then(([result]) => result);
}

function telegram(file: string): Buffer {
  const bytes = fixture(file);
  return bytes.subarray(bytes.indexOf(0x2f));
}

const DSMR5 = telegram('nielsbasjes-dsmr-tools/ttyUSB0-raw__telegram1.txt');
const DSMR22 = telegram('nielsbasjes-dsmr-tools/TestDsmrParserOnRealDSMR2__L43.txt');
const ESPHOME_FRAME = fixture('esphome-libs-dsmr_parser/encrypted/encrypted_packet.bin');
const ESPHOME_KEY = 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA';

let dir: string;
let cleanups: (() => Promise<unknown> | unknown)[];

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'dsmr-diagnose-'));
  cleanups = [];
});

afterEach(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
  rmSync(dir, { recursive: true, force: true });
});

// ---------------------------------------------------------------------------------------------------------------
// inspect

interface Expected {
  file: string;
  objectCount?: number;
  values?: Record<string, unknown[]>;
  names?: Record<string, string>;
  errors?: string[];
  [section: string]: unknown;
}

interface Inspected {
  offset: number | null;
  complete: boolean;
  encryption: { systemTitle: string; frameCounter: number } | null;
  header: { raw: string } | null;
  crc: { given: string | null; computed: string | null; valid: boolean | null };
  version: { dsmr: string | null } | null;
  variant: string | null;
  objects: { obis: string; name: string | null; values: unknown[] }[];
  errors: { message: string }[];
  [section: string]: unknown;
}

const SECTIONS = ['header', 'crc', 'version', 'variant', 'timestamp', 'equipmentId', 'mbus', 'powerFailureLog', 'messages', 'peaks'] as const;
const expectedDir = join(repoRoot, 'test/fixtures/expected');
const expectations = readdirSync(expectedDir)
  .filter((f) => f.endsWith('.json'))
  .map((f) => [f, JSON.parse(readFileSync(join(expectedDir, f), 'utf8')) as Expected] as const);

async function inspect(args: string[], env: Record<string, string> = {}, stdin?: Buffer): Promise<{ result: CliResult; telegrams: Inspected[] }> {
  const result = await cli(['inspect', ...args], { env, stdin });
  onTestFailed(() => console.log(`inspect ${args.join(' ')} → ${result.code}\n${result.stderr}`));
  const ndjson = args.includes('--ndjson');
  const telegrams = result.stdout.trim() === '' ? [] : ndjson ? result.stdout.trim().split('\n').map((l) => JSON.parse(l) as Inspected) : (JSON.parse(result.stdout) as Inspected[]);
  return { result, telegrams };
}

describe('inspect', () => {
  it('has the hand-written expectations to check against', () => {
    expect(expectations.length).toBeGreaterThanOrEqual(15);
  });

  it.each(expectations)('%s: every field as written by hand in test/fixtures/expected', async (_name, exp) => {
    const { result, telegrams } = await inspect([join(telegramsDir, exp.file)]);
    expect(result.code).toBe(0);
    expect(telegrams).toHaveLength(1);
    const [t] = telegrams;
    expect(t.offset).toBe(fixture(exp.file).indexOf(0x2f));
    expect(t.encryption).toBeNull();
    for (const section of SECTIONS) {
      if (section in exp) expect(t[section], section).toEqual(exp[section]);
    }
    if (exp.objectCount !== undefined) expect(t.objects.length, 'objectCount').toBe(exp.objectCount);
    for (const [obis, values] of Object.entries(exp.values ?? {})) {
      const object = t.objects.find((o) => o.obis === obis);
      expect(object, obis).toBeDefined();
      expect(object!.values, obis).toMatchObject(values);
    }
    for (const [obis, name] of Object.entries(exp.names ?? {})) {
      expect(t.objects.find((o) => o.obis === obis)?.name, obis).toBe(name);
    }
    if (exp.errors) {
      expect(t.errors.map((e) => e.message), 'errors').toHaveLength(exp.errors.length);
      exp.errors.forEach((fragment, i) => expect(t.errors[i].message).toContain(fragment));
    }
  });

  // This file is a telegram cut short by the next one (two "/" header lines): inspect shows both pieces.
  const CUT_SHORT = 'nielsbasjes-dsmr-tools/TestDsmrParserOnBadTelegram__L35.txt';

  it.each(telegramEntries().map((e) => [e.file, e] as const))('%s: header and CRC as in the manifest', async (file, entry) => {
    const { result, telegrams } = await inspect(['--ndjson', join(telegramsDir, file)]);
    expect(result.code).toBe(0);
    if (file === CUT_SHORT) {
      expect(telegrams.map((t) => [t.complete, t.header?.raw])).toEqual([
        [false, entry.header],
        [true, entry.header],
      ]);
      expect(telegrams[1].crc.given).toBe(entry.crc_given);
      return;
    }
    expect(telegrams).toHaveLength(1);
    const [t] = telegrams;
    expect(t.header?.raw).toBe(entry.header);
    expect(t.complete).toBe(entry.complete);
    expect(t.crc).toEqual({ given: entry.crc_given, computed: entry.crc_calc, valid: entry.crc_valid });
  });

  it.each(streamEntries().map((e) => [e.file, e] as const))('stream %s: every telegram, CRCs counted as in the manifest', async (file, entry) => {
    const { result, telegrams } = await inspect(['--ndjson', join(telegramsDir, file)]);
    expect(result.code).toBe(0);
    const complete = telegrams.filter((t) => t.complete);
    expect(complete.length).toBe(entry.telegrams);
    expect(complete.filter((t) => t.crc.valid === true).length).toBe(entry.crc_valid_count);
    expect(complete.filter((t) => t.crc.valid === false).length).toBe(entry.crc_invalid_count);
    expect(complete.filter((t) => t.crc.valid === null).length).toBe(entry.no_crc_count);
    expect(complete[0].header?.raw).toBe(entry.header);
    const offsets = telegrams.map((t) => t.offset!);
    expect([...offsets].sort((a, b) => a - b)).toEqual(offsets);
  });

  it('reads stdin with "-" and prints the same as from the file', async () => {
    const file = join(telegramsDir, 'dsmr_parser/TELEGRAM_V5.txt');
    const fromFile = await inspect([file]);
    const fromStdin = await inspect(['-'], {}, readFileSync(file));
    expect(fromStdin.result.code).toBe(0);
    expect(fromStdin.telegrams).toEqual(fromFile.telegrams);
  });

  it('decrypts an encrypted capture with the key from the environment', async () => {
    const plain = await inspect([join(telegramsDir, 'dsmr_parser/TELEGRAM_SAGEMCOM_T210_D_R.txt')]);
    const { result, telegrams } = await inspect([join(telegramsDir, 'esphome-libs-dsmr_parser/encrypted/encrypted_packet.bin')], { DSMR_DATALOGGER_DECRYPTION_KEY: ESPHOME_KEY });
    expect(result.code).toBe(0);
    expect(telegrams).toHaveLength(1);
    expect(telegrams[0].encryption).toEqual({ systemTitle: 'SYSTEMID', frameCounter: 0x10000001 });
    const { offset: _o, encryption: _e, ...decoded } = telegrams[0];
    const { offset: _o2, encryption: _e2, ...expected } = plain.telegrams[0];
    expect(decoded).toEqual(expected);
    expect(decoded.crc.valid).toBe(true);
  });

  it('decrypts the athombv vector with the AAD setting from an env file, and names the key when it is missing', async () => {
    const frame = Buffer.from(fixture('athombv-node-dsmr-parser/encrypted/dsmr-luxembourgh-spec-example-with-aad.hex.txt').toString('latin1').replace(/\s+/g, ''), 'hex');
    const capture = join(dir, 'lu.bin');
    writeFileSync(capture, frame);
    const envFile = join(dir, 'lu.env');
    writeFileSync(envFile, 'DSMR_DATALOGGER_DECRYPTION_KEY=0123456789abcdef0123456789abcdef\nDSMR_DATALOGGER_DECRYPTION_AAD=ffeeddccbbaa99887766554433221100\n');
    const { result, telegrams } = await inspect([capture, '--env-file', envFile]);
    expect(result.code).toBe(0);
    const header = fixture('athombv-node-dsmr-parser/dsmr-luxembourgh-spec-example.txt').toString('latin1').split('\r\n')[0];
    expect(telegrams.map((t) => [t.header?.raw, t.variant, t.encryption?.systemTitle])).toEqual([[header, 'lu', 'systitle']]);

    const without = await inspect([capture]);
    expect(without.result.code).toBe(1);
    expect(without.telegrams).toEqual([]);
    expect(without.result.stderr).toContain('DSMR_DATALOGGER_DECRYPTION_KEY');
  });

  it('exit status 1 without a telegram, 2 for a wrong option or a missing file, each with one line', async () => {
    const empty = await cli(['inspect', '-'], { stdin: Buffer.from('no telegram here\r\n') });
    expect(empty.code).toBe(1);
    expect(empty.stdout.trim()).toBe('[]');
    expect(empty.stderr.trim().split('\n')).toHaveLength(1);
    const option = await cli(['inspect', '--frobnicate']);
    expect(option.code).toBe(2);
    expect(option.stderr.trim().split('\n')).toEqual([expect.stringContaining('--frobnicate')]);
    const missing = await cli(['inspect', join(dir, 'nope.txt')]);
    expect(missing.code).toBe(2);
    expect(missing.stderr.trim().split('\n')).toEqual([expect.stringContaining('ENOENT')]);
  });
});

// ---------------------------------------------------------------------------------------------------------------
// detect

interface DetectJson {
  found: boolean;
  input: string;
  line: { text: string } | null;
  header: string | null;
  dsmrVersion: string | null;
  variant: string | null;
  telegrams: number;
  crcValid: number;
  crcInvalid: number;
  crcAbsent: number;
  intervalSeconds: number | null;
  encrypted: boolean;
  decryption: string | null;
  dsmrVersionSetting: string | null;
  notes: string[];
}

async function pty(): Promise<Pty> {
  const p = await openPty(dir);
  cleanups.push(() => p.close());
  return p;
}

/** Writes `bytes` every `everyMs` until the command has exited, like a meter that keeps sending. */
function meter(p: Pty, bytes: Buffer, everyMs: number) {
  return async (exited: () => boolean) => {
    while (!exited()) {
      await p.write(bytes);
      await sleep(everyMs);
    }
  };
}

async function detect(args: string[], opts: Parameters<typeof cli>[1] = {}): Promise<{ result: CliResult; report: DetectJson }> {
  const result = await cli(['detect', '--json', ...args], { timeoutMs: 60_000, ...opts });
  onTestFailed(() => console.log(`detect ${args.join(' ')} → ${result.code}\n${result.stdout}\n${result.stderr}`));
  return { result, report: JSON.parse(result.stdout) as DetectJson };
}

describe('detect', () => {
  it('finds the simulated DSMR 5 meter on a pty: 115200 8N1, header, version 5.0, CRCs, interval', async () => {
    const link = join(dir, 'p1');
    const sim = startDatalogger({ args: ['simulate', '--pty', link, '--interval', '1'] });
    cleanups.push(() => (sim.proc.exitCode === null ? sim.stop('SIGTERM') : undefined));
    await sim.waitForLine(/pty ready/);
    const { result, report } = await detect(['--serial-port', link, '--seconds', '15']);
    expect(result.code).toBe(0);
    expect(report).toMatchObject({
      found: true,
      input: `serial ${link}`,
      line: { text: '115200 8N1', baudRate: 115200, dataBits: 8, parity: 'none', stopBits: 1 },
      header: '/ISK5\\2M550T-1012',
      dsmrVersion: '5.0',
      crcInvalid: 0,
      crcAbsent: 0,
      encrypted: false,
      dsmrVersionSetting: '5',
    });
    expect(report.telegrams).toBeGreaterThanOrEqual(2);
    expect(report.crcValid).toBe(report.telegrams);
    expect(report.intervalSeconds).toBeGreaterThanOrEqual(0.5);
    expect(report.intervalSeconds).toBeLessThanOrEqual(2);

    const text = await cli(['detect', '--serial-port', link, '--seconds', '15'], { timeoutMs: 60_000 });
    expect(text.code).toBe(0);
    expect(text.stdout).toContain(`meter found on serial ${link} at 115200 8N1`);
    expect(text.stdout).toMatch(/header: +\/ISK5\\2M550T-1012/);
    expect(text.stdout).toMatch(/version: +DSMR 5\.0/);
    expect(text.stdout).toMatch(/CRC: +ok/);
    expect(text.stdout).toMatch(/interval: +[\d.]+ s between telegrams/);
    expect(text.stdout).toContain('--dsmr-version 5');
  });

  it('takes the port from the datalogger settings, and reports a CRC-less DSMR 2.2 meter as such', async () => {
    const p = await pty();
    const { result, report } = await detect(['--seconds', '15'], { env: { DSMRREADER_REMOTE_DATALOGGER_SERIAL_PORT: p.devicePath, DSMR_DATALOGGER_SERIAL_BACKEND: 'stty' }, whileRunning: meter(p, DSMR22, 700) });
    expect(result.code).toBe(0);
    expect(report).toMatchObject({ found: true, input: `serial ${p.devicePath}`, header: DSMR22.toString('latin1').split('\r\n')[0], dsmrVersion: null, crcValid: 0, crcInvalid: 0, dsmrVersionSetting: '2.2' });
    expect(report.crcAbsent).toBe(report.telegrams);
    // No timestamps in DSMR 2.2: measured by arrival, about the 0.7 s the test writes at.
    expect(report.intervalSeconds).toBeGreaterThanOrEqual(0.5);
    expect(report.intervalSeconds).toBeLessThan(3);
  });

  it('recognises an encrypted meter: decrypted with the key, and found but flagged without it', async () => {
    const p = await pty();
    const withKey = await detect(['--serial-port', p.devicePath, '--seconds', '15'], { env: { DSMR_DATALOGGER_DECRYPTION_KEY: ESPHOME_KEY }, whileRunning: meter(p, ESPHOME_FRAME, 700) });
    expect(withKey.result.code).toBe(0);
    expect(withKey.report).toMatchObject({ found: true, encrypted: true, decryption: 'decrypting', header: '/EST5\\253710000_A', variant: 'lu', crcInvalid: 0, dsmrVersionSetting: 'lu' });
    expect(withKey.report.crcValid).toBeGreaterThanOrEqual(2);

    const withoutKey = await detect(['--serial-port', p.devicePath, '--seconds', '15'], { whileRunning: meter(p, ESPHOME_FRAME, 700) });
    expect(withoutKey.result.code).toBe(0);
    expect(withoutKey.report).toMatchObject({ found: true, encrypted: true, decryption: 'no-key', header: null, line: { text: '115200 8N1' }, dsmrVersionSetting: 'lu' });
    expect(withoutKey.report.intervalSeconds).not.toBeNull();
    expect(withoutKey.report.notes.join('\n')).toContain('DSMR_DATALOGGER_DECRYPTION_KEY');
  });

  it('reports a meter whose CRCs all fail as found, with the reason', async () => {
    const p = await pty();
    const badCrc = telegram('hansij66-dsmr2mqtt/dsmr.raw__telegram1.txt');
    const { result, report } = await detect(['--serial-port', p.devicePath, '--seconds', '2'], { whileRunning: meter(p, badCrc, 700) });
    expect(result.code).toBe(0);
    expect(report).toMatchObject({ found: true, crcValid: 0, header: badCrc.toString('latin1').split('\r\n')[0] });
    expect(report.crcInvalid).toBeGreaterThan(0);
    expect(report.notes.join('\n')).toContain('CRC that does not check out');
  });

  it('reads a network bridge', async () => {
    const sockets = new Set<net.Socket>();
    const timers = new Set<NodeJS.Timeout>();
    const bridge = net.createServer((socket) => {
      sockets.add(socket);
      socket.on('error', () => undefined);
      const timer = setInterval(() => socket.write(DSMR5), 700);
      timers.add(timer);
      socket.on('close', () => clearInterval(timer));
    });
    await new Promise<void>((resolve) => bridge.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise((resolve) => {
      for (const t of timers) clearInterval(t);
      for (const s of sockets) s.destroy();
      bridge.close(resolve);
    }));
    const port = (bridge.address() as net.AddressInfo).port;
    const { result, report } = await detect(['--network', `127.0.0.1:${port}`, '--seconds', '15']);
    expect(result.code).toBe(0);
    expect(report).toMatchObject({ found: true, input: `network 127.0.0.1:${port}`, line: null, dsmrVersion: '5.0', crcInvalid: 0, dsmrVersionSetting: '5' });
  });

  it('exit status 1 with the reason when nothing answers: a silent port, a missing device, a closed TCP port', async () => {
    const p = await pty();
    const silent = await detect(['--serial-port', p.devicePath, '--seconds', '1']);
    expect(silent.result.code).toBe(1);
    expect(silent.report.found).toBe(false);
    expect(silent.report.notes).toEqual(['115200 8N1: no data at all within 1 s', '9600 7E1: no data at all within 1 s']);

    const missing = await detect(['--serial-port', join(dir, 'ttyNONE'), '--seconds', '1']);
    expect(missing.result.code).toBe(1);
    expect(missing.report.notes.join('\n')).toContain('ENOENT');

    const closed = net.createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as net.AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const refused = await detect(['--network', `127.0.0.1:${port}`, '--seconds', '5']);
    expect(refused.result.code).toBe(1);
    expect(refused.report.notes.join('\n')).toContain('ECONNREFUSED');
  });

  it.each([[['--seconds', 'soon']], [['--network', 'nocolon']], [['--bogus']], [['--serial-port', '/dev/x', '--network', 'h:1']]])('a wrong option %j is one line and exit status 2', async (args) => {
    const result = await cli(['detect', ...args]);
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
  });
});

// ---------------------------------------------------------------------------------------------------------------
// check

const KEY = 'the-right-key-0123456789';

async function apiServer(opts: Parameters<typeof startApiServer>[0] = {}): Promise<ApiServer> {
  const api = await startApiServer(opts);
  cleanups.push(() => api.close());
  return api;
}

async function closedUrl(): Promise<string> {
  const api = await startApiServer();
  await api.close();
  return api.url;
}

describe('check', () => {
  it('one line per server: good, wrong key (403), API disabled (405), no API there (404), unreachable; exit 1', async () => {
    const good = await apiServer({ key: KEY });
    const wrongKey = await apiServer({ key: 'another-key-altogether' });
    // DSMR-reader's datalogger view answers 405 "API is disabled" before it looks at the key.
    const disabled = await apiServer({ key: KEY, respond: () => ({ status: 405, body: 'API is disabled' }) });
    const elsewhere = await apiServer({ key: KEY });
    const unreachable = await closedUrl();
    const hosts = [good.url, wrongKey.url, disabled.url, `${elsewhere.url}/not-here`, unreachable];
    const result = await cli(['check'], { env: { DSMRREADER_REMOTE_DATALOGGER_API_HOSTS: hosts.join(','), DSMRREADER_REMOTE_DATALOGGER_API_KEYS: hosts.map(() => KEY).join(','), DSMRREADER_REMOTE_DATALOGGER_TIMEOUT: '5' } });
    onTestFailed(() => console.log(result.stdout, result.stderr));
    expect(result.code).toBe(1);
    const lines = result.stdout.trim().split('\n');
    expect(lines).toHaveLength(6);
    expect(lines[0]).toMatch(/^configuration ok: input serial \/dev\/ttyUSB0 .*; 5 server\(s\)$/);
    expect(lines[1]).toBe(`ok   ${good.url}: API enabled and the key is accepted`);
    expect(lines[2]).toMatch(new RegExp(`^FAIL ${wrongKey.url}: the API key is rejected \\(HTTP 403 .*\\): compare key 2 of DSMRREADER_REMOTE_DATALOGGER_API_KEYS`));
    expect(lines[3]).toMatch(new RegExp(`^FAIL ${disabled.url}: the API is disabled \\(HTTP 405 "API is disabled"\\): enable it`));
    expect(lines[4]).toMatch(new RegExp(`^FAIL ${elsewhere.url}/not-here: no DSMR-reader datalogger API at ${elsewhere.url}/not-here/api/v1/datalogger/dsmrreading \\(HTTP 404`));
    expect(lines[5]).toMatch(new RegExp(`^FAIL ${unreachable}: unreachable \\(ECONNREFUSED`));
    expect(result.stdout).not.toContain(KEY);
    // What was asked: one POST with the key and no telegram field, so nothing can have been stored.
    for (const api of [good, wrongKey, disabled]) {
      expect(api.requests.map((r) => [r.method, r.path, r.key, r.telegram.length])).toEqual([['POST', '/api/v1/datalogger/dsmrreading', KEY, 0]]);
      expect(api.telegrams).toEqual([]);
    }
  });

  it('exit status 0 when every server is good', async () => {
    const a = await apiServer({ key: KEY });
    const b = await apiServer({ key: 'key-b-0123456789' });
    const envFile = join(dir, 'datalogger.env');
    writeFileSync(envFile, `DSMRREADER_REMOTE_DATALOGGER_API_HOSTS=${a.url},${b.url}\nDSMRREADER_REMOTE_DATALOGGER_API_KEYS=${KEY},key-b-0123456789\n`);
    const result = await cli(['check', '--env-file', envFile, '--input-method', 'ipv4', '--network-host', '127.0.0.1', '--network-port', '8088']);
    expect(result.code).toBe(0);
    const lines = result.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^configuration ok: input network 127\.0\.0\.1:8088; 2 server\(s\)/);
    expect(lines.slice(1)).toEqual([`ok   ${a.url}: API enabled and the key is accepted`, `ok   ${b.url}: API enabled and the key is accepted`]);
    await waitFor(() => a.requests.length === 1 && b.requests.length === 1, { what: 'one request each' });
  });

  it('a configuration error is one line naming the setting, exit status 2, no request made', async () => {
    const a = await apiServer({ key: KEY });
    const result = await cli(['check'], { env: { DSMRREADER_REMOTE_DATALOGGER_API_HOSTS: `${a.url},${a.url}`, DSMRREADER_REMOTE_DATALOGGER_API_KEYS: KEY } });
    expect(result.code).toBe(2);
    expect(result.stderr.trim().split('\n')).toEqual([expect.stringContaining('DSMRREADER_REMOTE_DATALOGGER_API_KEYS')]);
    expect(a.requests).toEqual([]);
  });
});
