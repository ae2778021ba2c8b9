// The built bundle against a real pty (socat), real HTTP servers on 127.0.0.1 and a real TCP bridge.
import { afterEach, beforeEach, describe, expect, it, onTestFailed } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startApiServer, type ApiServer } from '../helpers/api-server.ts';
import { startDatalogger, type Datalogger } from '../helpers/datalogger.ts';
import { CRC_LESS_DSMR22, mixedStream, VALID_BELGIAN, VALID_DSMR5, VALID_DSMR5_B, VALID_KAIFA } from '../helpers/streams.ts';
import { openPty } from '../helpers/pty.ts';
import { sleep, waitFor } from '../helpers/wait.ts';

const KEY_A = 'key-for-server-a-0123456789';
const KEY_B = 'key-for-server-b-9876543210';

let dir: string;
let cleanups: (() => Promise<unknown> | unknown)[];

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'dsmr-forwarding-'));
  cleanups = [];
});

afterEach(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
  rmSync(dir, { recursive: true, force: true });
});

async function servers(): Promise<[ApiServer, ApiServer]> {
  const a = await startApiServer({ key: KEY_A });
  const b = await startApiServer({ key: KEY_B });
  cleanups.push(() => a.close(), () => b.close());
  return [a, b];
}

function run(env: Record<string, string>, args: string[] = []): Datalogger {
  const dl = startDatalogger({ env: { DSMR_DATALOGGER_DATA_DIR: join(dir, 'data'), ...env }, args });
  cleanups.push(() => (dl.proc.exitCode === null && dl.proc.signalCode === null ? dl.stop('SIGKILL') : undefined));
  onTestFailed(() => console.log(`datalogger output:\n${dl.lines.join('\n')}`));
  return dl;
}

const latin1 = (buffers: Buffer[]) => buffers.map((b) => b.toString('latin1'));

describe('forwarding from a serial port', () => {
  it('forwards exactly the valid telegrams of a mixed stream to two servers, byte for byte and in order', async () => {
    const [a, b] = await servers();
    const pty = await openPty(dir);
    cleanups.push(() => pty.close());
    const dl = run({
      DSMRREADER_REMOTE_DATALOGGER_INPUT_METHOD: 'serial',
      DSMRREADER_REMOTE_DATALOGGER_SERIAL_PORT: pty.devicePath,
      DSMRREADER_REMOTE_DATALOGGER_API_HOSTS: `${a.url},${b.url}`,
      DSMRREADER_REMOTE_DATALOGGER_API_KEYS: `${KEY_A},${KEY_B}`,
    });
    await dl.waitForLine(/serial port .* opened/);
    const { stream, expected } = mixedStream();
    await pty.write(stream);
    await waitFor(() => a.telegrams.length >= expected.length && b.telegrams.length >= expected.length, { what: 'both servers to receive every valid telegram', timeoutMs: 20_000 });
    // Anything extra would arrive right behind: wait until both servers have had a quiet moment before comparing.
    await Promise.all([a.quietFor(500), b.quietFor(500)]);
    expect(latin1(a.telegrams)).toEqual(latin1(expected));
    expect(latin1(b.telegrams)).toEqual(latin1(expected));
    expect(a.requests.every((r) => r.key === KEY_A)).toBe(true);
    expect(b.requests.every((r) => r.key === KEY_B)).toBe(true);
    expect(dl.lines.join('\n')).not.toContain(KEY_A);
    const result = await dl.stop('SIGTERM');
    expect(result.code).toBe(0);
  });

  // Both serial backends; on a pty, serialport's addon does not wake for a device that appeared only after start-up
  // (see the closing note of issue 2), so "missing at start" runs on the stty backend, "vanishes and comes back" on both.
  it.each([
    ['stty', true],
    ['stty', false],
    ['native', false],
  ])('backend %s, port missing at start %s: waits for it, and carries on when it vanishes and comes back', async (backend, missingAtStart) => {
    const [a] = await servers();
    const devicePath = join(dir, 'ttyDSMR');
    const early = missingAtStart ? undefined : await openPty(dir);
    const dl = run({
      DSMRREADER_REMOTE_DATALOGGER_SERIAL_PORT: devicePath,
      DSMR_DATALOGGER_DSMR_VERSION: '5',
      DSMR_DATALOGGER_SERIAL_BACKEND: backend as string,
      DSMRREADER_REMOTE_DATALOGGER_API_HOSTS: a.url,
      DSMRREADER_REMOTE_DATALOGGER_API_KEYS: KEY_A,
    });
    if (missingAtStart) await dl.waitForLine(/cannot be opened/);
    // The cable is plugged in after start-up.
    const pty = early ?? (await openPty(dir));
    cleanups.push(() => pty.close());
    onTestFailed(() => console.log(`socat:\n${pty.log()}`));
    await dl.waitForLine(/serial port .* opened/, 15_000);
    await pty.write(VALID_DSMR5);
    await waitFor(() => a.telegrams.length === 1, { what: 'the first telegram' });
    // Pulled mid-telegram: the half telegram must not be joined to what comes after the port is back.
    await pty.write(VALID_KAIFA.subarray(0, 300));
    await sleep(200);
    await pty.vanish();
    await dl.waitForLine(/serial port .* lost/);
    await dl.waitForLine(/cannot be opened/, 10_000, dl.lines.length);
    // Counted before the restore: the port is watched, so it is reopened within milliseconds of its return.
    const reopened = dl.lines.length;
    await pty.restore();
    await dl.waitForLine(/serial port .* opened/, 15_000, reopened);
    await pty.write(Buffer.concat([VALID_KAIFA.subarray(300), VALID_DSMR5_B]));
    await waitFor(() => a.telegrams.length === 2, { what: 'the telegram after the port came back' });
    await a.quietFor(300);
    expect(latin1(a.telegrams)).toEqual(latin1([VALID_DSMR5, VALID_DSMR5_B]));
    // Retrying is quiet: one line when the port goes, one when it is back.
    expect(dl.lines.filter((l) => /cannot be opened/.test(l)).length).toBeLessThanOrEqual(2);
    expect((await dl.stop('SIGTERM')).code).toBe(0);
  });
});

describe('servers', () => {
  it('a server that does not answer never delays the other one, and gets everything later, in order', async () => {
    const [a, b] = await servers();
    let bDown = true;
    b.setResponder(() => (bDown ? { status: 200, delayMs: 30_000 } : undefined));
    const pty = await openPty(dir);
    cleanups.push(() => pty.close());
    const dl = run({
      DSMRREADER_REMOTE_DATALOGGER_SERIAL_PORT: pty.devicePath,
      DSMRREADER_REMOTE_DATALOGGER_API_HOSTS: `${a.url},${b.url}`,
      DSMRREADER_REMOTE_DATALOGGER_API_KEYS: `${KEY_A},${KEY_B}`,
      DSMRREADER_REMOTE_DATALOGGER_TIMEOUT: '1',
      DSMR_DATALOGGER_LOG_LEVEL: 'debug',
    });
    await dl.waitForLine(/serial port .* opened/);
    const sent = [VALID_DSMR5, VALID_KAIFA, VALID_DSMR5_B, VALID_BELGIAN, CRC_LESS_DSMR22];
    for (const t of sent) {
      const before = a.telegrams.length;
      await pty.write(t);
      // Each one reaches A while B hangs on the first.
      await waitFor(() => a.telegrams.length === before + 1, { what: `server A to receive telegram ${before + 1}`, timeoutMs: 5000 });
    }
    expect(b.telegrams).toHaveLength(0);
    await dl.waitForLine(/unavailable/);
    bDown = false;
    await waitFor(() => b.telegrams.length >= sent.length, { what: 'server B to catch up', timeoutMs: 30_000 });
    await Promise.all([a.quietFor(300), b.quietFor(300)]);
    expect(latin1(a.telegrams)).toEqual(latin1(sent));
    expect(latin1(b.telegrams)).toEqual(latin1(sent));
    await dl.waitForLine(/is back/);
    expect((await dl.stop('SIGTERM')).code).toBe(0);
  });

  it('says once that an API key is rejected, keeps the telegrams, and delivers them when the key is right', async () => {
    const [a] = await servers();
    let keyAccepted = false;
    a.setResponder(() => (keyAccepted ? undefined : { status: 403, body: '{"detail":"Invalid token."}' }));
    const pty = await openPty(dir);
    cleanups.push(() => pty.close());
    const dl = run({
      DSMRREADER_REMOTE_DATALOGGER_SERIAL_PORT: pty.devicePath,
      DSMRREADER_REMOTE_DATALOGGER_API_HOSTS: a.url,
      DSMRREADER_REMOTE_DATALOGGER_API_KEYS: KEY_A,
    });
    await dl.waitForLine(/serial port .* opened/);
    await pty.write(Buffer.concat([VALID_DSMR5, VALID_KAIFA]));
    await dl.waitForLine(/API key rejected by/);
    await pty.write(VALID_DSMR5_B);
    keyAccepted = true;
    await waitFor(() => a.telegrams.length === 3, { what: 'the kept telegrams', timeoutMs: 30_000 });
    expect(latin1(a.telegrams)).toEqual(latin1([VALID_DSMR5, VALID_KAIFA, VALID_DSMR5_B]));
    expect(dl.lines.filter((l) => /API key rejected/.test(l))).toHaveLength(1);
    expect((await dl.stop('SIGTERM')).code).toBe(0);
  });

  it('sets a telegram the server cannot parse aside and goes on', async () => {
    const [a] = await servers();
    a.setResponder(({ index }) => (index === 0 ? { status: 500, body: 'Failed to parse telegram: invalid literal' } : undefined));
    const dl = run({
      DSMRREADER_REMOTE_DATALOGGER_INPUT_METHOD: 'file',
      DSMR_DATALOGGER_INPUT_FILE: '-',
      DSMRREADER_REMOTE_DATALOGGER_API_HOSTS: a.url,
      DSMRREADER_REMOTE_DATALOGGER_API_KEYS: KEY_A,
    });
    dl.proc.stdin!.end(Buffer.concat([VALID_DSMR5, VALID_KAIFA]));
    const exit = await dl.waitForExit(15_000);
    expect(exit.code).toBe(0);
    expect(latin1(a.telegrams)).toEqual(latin1([VALID_KAIFA]));
    expect(dl.lines.some((l) => /rejected a telegram: HTTP 500: Failed to parse telegram/.test(l))).toBe(true);
  });
});

describe('forwarding from a network bridge', () => {
  it('rides out a bridge that drops the connection, mid-telegram too', async () => {
    const [a] = await servers();
    const connections: net.Socket[] = [];
    const bridge = net.createServer((socket) => connections.push(socket));
    await new Promise<void>((resolve) => bridge.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise((resolve) => { for (const s of connections) s.destroy(); bridge.close(resolve); }));
    const port = (bridge.address() as net.AddressInfo).port;
    const dl = run({
      DSMRREADER_REMOTE_DATALOGGER_INPUT_METHOD: 'ipv4',
      DSMRREADER_REMOTE_DATALOGGER_NETWORK_HOST: '127.0.0.1',
      DSMRREADER_REMOTE_DATALOGGER_NETWORK_PORT: String(port),
      DSMRREADER_REMOTE_DATALOGGER_API_HOSTS: a.url,
      DSMRREADER_REMOTE_DATALOGGER_API_KEYS: KEY_A,
    });
    await waitFor(() => connections.length === 1, { what: 'the datalogger to connect' });
    connections[0].write(Buffer.concat([VALID_DSMR5, VALID_KAIFA.subarray(0, 250)]));
    await waitFor(() => a.telegrams.length === 1, { what: 'the first telegram' });
    connections[0].destroy();
    await dl.waitForLine(/connection to 127\.0\.0\.1:\d+ lost/);
    await waitFor(() => connections.length === 2, { what: 'the datalogger to reconnect', timeoutMs: 10_000 });
    // The rest of the cut telegram arrives on the new connection: it must not be glued to the first part.
    connections[1].write(Buffer.concat([VALID_KAIFA.subarray(250), VALID_BELGIAN]));
    await waitFor(() => a.telegrams.length === 2, { what: 'the telegram after the reconnect' });
    await a.quietFor(300);
    expect(latin1(a.telegrams)).toEqual(latin1([VALID_DSMR5, VALID_BELGIAN]));
    expect((await dl.stop('SIGTERM')).code).toBe(0);
  });
});

describe('bad settings', () => {
  const base = { DSMRREADER_REMOTE_DATALOGGER_API_HOSTS: 'http://127.0.0.1:9', DSMRREADER_REMOTE_DATALOGGER_API_KEYS: 'k' };
  it.each([
    [{ ...base, DSMRREADER_REMOTE_DATALOGGER_SERIAL_BAUDRATE: 'fast' }, [], /DSMRREADER_REMOTE_DATALOGGER_SERIAL_BAUDRATE is "fast": expected a baud rate/],
    [{ ...base, DSMRREADER_REMOTE_DATALOGGER_API_KEYS: 'k1,k2' }, [], /has 2 key\(s\) but .* has 1 host\(s\)/],
    [{ ...base, DSMRREADER_REMOTE_DATALOGGER_INPUT_METHOD: 'ipv4' }, [], /DSMRREADER_REMOTE_DATALOGGER_NETWORK_HOST .*is not set/],
    [{ ...base, DSMRREADER_REMOTE_DATALOGGER_API_HOSTS: 'dsmr.local' }, [], /DSMRREADER_REMOTE_DATALOGGER_API_HOSTS is "dsmr.local": expected scheme:\/\/host/],
    [{ ...base, DSMRREADER_REMOTE_DATALOGGER_SLEEP: '-1' }, [], /DSMRREADER_REMOTE_DATALOGGER_SLEEP is "-1": expected a number of seconds/],
    [base, ['--serial-parity', 'X'], /--serial-parity is "X": expected N \(none\), E \(even\) or O \(odd\)/],
    [base, ['--api-keys', 'secret'], /--api-keys is not taken on the command line/],
    [base, ['--no-such-thing'], /unknown option --no-such-thing/],
    [base, ['--env-file', 'test/fixtures/config/broken.env'], /test\/fixtures\/config\/broken.env:3: expected KEY=VALUE, found "DSMRREADER_REMOTE_DATALOGGER_SLEEP 5"/],
  ])('%j %j', async (env, args, message) => {
    const dl = run(env as Record<string, string>, args as string[]);
    const exit = await dl.waitForExit(10_000);
    expect(exit.code).toBe(2);
    const errors = dl.lines.filter((l) => l.trim() !== '');
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(message);
    expect(errors[0]).not.toContain('secret');
  });
});
