// The MQTT output against a real mosquitto on 127.0.0.1 (anonymous, password and TLS listeners), with mosquitto_sub
// as the independent subscriber: what reaches the broker, byte for byte and in meter order, across wrong passwords,
// a broker that is away while the datalogger is killed, and a DSMR-reader server that hangs beside it.
import { afterEach, beforeEach, describe, expect, it, onTestFailed } from 'vitest';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startApiServer } from '../helpers/api-server.ts';
import { arm64Command, cleanEnv, defaultCommand, startDatalogger, type Datalogger } from '../helpers/datalogger.ts';
import { repoRoot } from '../helpers/fixtures.ts';
import { freePort, MQTT_PASSWORD, MQTT_USER, retained, startMosquitto, subscribe, type Message, type Mosquitto } from '../helpers/mosquitto.ts';
import { inspectSpool, spoolDirs } from '../helpers/spool-inspect.ts';
import { mixedStream, VALID_KAIFA } from '../helpers/streams.ts';
import { waitFor } from '../helpers/wait.ts';
import { spawnSync } from 'node:child_process';

const dist = join(repoRoot, 'dist');
let dir: string;
let broker: Mosquitto;
let cleanups: (() => Promise<unknown> | unknown)[];

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'dsmr-mqtt-'));
  cleanups = [];
  broker = await startMosquitto(join(dir, 'broker'));
  cleanups.push(() => broker.stop());
});

afterEach(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
  rmSync(dir, { recursive: true, force: true });
});

/** A capture of the given bytes for the file input; the datalogger exits 0 once all of it is delivered. */
function capture(bytes: Buffer, name = 'capture.bin'): string {
  const path = join(dir, name);
  writeFileSync(path, bytes);
  return path;
}

function run(env: Record<string, string>, command?: string[]): Datalogger {
  const dl = startDatalogger({ command, env: { DSMR_DATALOGGER_DATA_DIR: join(dir, 'data'), DSMRREADER_REMOTE_DATALOGGER_INPUT_METHOD: 'file', ...env } });
  cleanups.push(() => (dl.proc.exitCode === null && dl.proc.signalCode === null ? dl.stop('SIGKILL') : undefined));
  onTestFailed(() => console.log(`datalogger output:\n${dl.lines.join('\n')}`));
  return dl;
}

const latin1 = (list: (Buffer | Message)[]) => list.map((t) => (Buffer.isBuffer(t) ? t : t.payload).toString('latin1'));

/**
 * At least once: a telegram whose acknowledgements the broker did not finish sending (it stopped, or the datalogger
 * was killed) is sent again, right behind the copy that got through. Anything else out of order is a failure.
 */
const atLeastOnce = (list: Message[]) => latin1(list).filter((t, i, all) => i === 0 || t !== all[i - 1]);

async function subscriber(topics = ['dsmr/#']) {
  const sub = await subscribe(broker.ports.anonymous, topics);
  cleanups.push(() => sub.stop());
  return sub;
}

/** A TCP port that accepts connections and never says a word: a broker or server that hangs. */
async function silentServer(): Promise<{ url: (scheme: string) => string; close: () => Promise<void> }> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((s) => {
    sockets.add(s);
    s.on('error', () => {});
  });
  const port = await freePort();
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  const close = () => {
    for (const s of sockets) s.destroy();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  };
  cleanups.push(close);
  return { url: (scheme) => `${scheme}://127.0.0.1:${port}`, close };
}

describe('MQTT output', () => {
  it('`check` asks each broker for the login without publishing anything: ok with the right password, FAIL with a wrong one', async () => {
    const sub = await subscriber(['#']);
    const check = (password: string) => {
      const [node, ...args] = defaultCommand();
      return spawnSync(node, [...args, 'check'], {
        encoding: 'utf8',
        env: cleanEnv({ DSMR_DATALOGGER_MQTT_URL: broker.passwordUrl, DSMR_DATALOGGER_MQTT_USERNAME: MQTT_USER, DSMR_DATALOGGER_MQTT_PASSWORD: password, DSMR_DATALOGGER_DATA_DIR: join(dir, 'data') }),
      });
    };
    const good = check(MQTT_PASSWORD);
    expect(good.stdout).toContain(`ok   MQTT broker ${broker.passwordUrl}: connected and the user name and password are accepted`);
    expect(good.status).toBe(0);
    const bad = check('not-the-password');
    expect(bad.stdout).toMatch(new RegExp(`FAIL MQTT broker ${broker.passwordUrl.replace(/\./g, '\\.')}: the broker (refused the user name or password|did not authorise this client)`));
    expect(bad.stdout).not.toContain('not-the-password');
    expect(bad.status).toBe(1);
    // Nothing published, not even an availability message: a marker sent after the checks is the first message seen.
    spawnSync('mosquitto_pub', ['-h', '127.0.0.1', '-p', String(broker.ports.anonymous), '-t', 'marker', '-m', 'after the checks']);
    await waitFor(() => sub.messages.length > 0, { what: 'the marker at the subscriber' });
    expect(sub.messages.map((m) => m.topic)).toEqual(['marker']);
  });

  it('publishes the mixed corpus stream: raw byte for byte and in order, JSON and split topics with the meter\'s values, discovery retained', async () => {
    const sub = await subscriber(['dsmr/#', 'homeassistant/#']);
    const { stream, expected } = mixedStream();
    const dl = run({ DSMR_DATALOGGER_INPUT_FILE: capture(stream), DSMR_DATALOGGER_MQTT_URL: broker.anonymousUrl });
    expect((await dl.waitForExit(30_000)).code).toBe(0);
    await waitFor(() => sub.on('dsmr/availability').some((m) => m.payload.toString() === 'offline'), { what: 'offline on a clean stop' });
    expect(latin1(sub.on('dsmr/raw'))).toEqual(latin1(expected));

    // The Kaifa DSMR 4.2 telegram of the stream, as DSMR-reader would publish it (values read off the telegram).
    const kaifa = expected.indexOf(VALID_KAIFA);
    const json = sub.on('dsmr/json').map((m) => JSON.parse(m.payload.toString()) as Record<string, string | null>);
    const kaifaJson = json.find((j) => j.timestamp === '2016-11-13T19:57:57Z')!;
    expect(kaifa).toBeGreaterThanOrEqual(0);
    expect(kaifaJson).toMatchObject({ electricity_delivered_1: '1581.123', electricity_delivered_2: '1435.706', electricity_currently_delivered: '2.027', extra_device_delivered: '981.443', extra_device_timestamp: '2016-11-29T19:00:00Z', phase_voltage_l1: null });
    const field = (name: string) => sub.on(`dsmr/reading/${name}`).map((m) => m.payload.toString());
    expect(field('electricity_delivered_1')).toContain('1581.123');
    expect(field('phase_currently_delivered_l2')).toContain('1.247');
    expect(sub.on('dsmr/meter-stats/power_failure_count').map((m) => m.payload.toString())).toContain('15');
    // The Belgian telegram: its gas meter on 24.2.3.
    expect(field('extra_device_delivered')).toContain('1414.287');
    expect(dl.lines.some((l) => /unavailable|refused/.test(l))).toBe(false);

    // What a Home Assistant that starts later finds: the configs, retained, well formed.
    const configs = retained(broker.ports.anonymous, 'homeassistant/#');
    expect(configs.length).toBeGreaterThan(20);
    for (const c of configs) {
      expect(c.retained).toBe(true);
      expect(c.topic).toMatch(/^homeassistant\/sensor\/dsmr_[A-Za-z0-9_-]+\/[a-z0-9_]+\/config$/);
      const config = JSON.parse(c.payload.toString());
      expect(config).toMatchObject({ availability_topic: 'dsmr/availability', unique_id: expect.any(String), state_topic: expect.stringMatching(/^dsmr\/(reading|meter-stats)\//) });
    }
    const kaifaTotal = configs.find((c) => c.topic === 'homeassistant/sensor/dsmr_3960221976967177082151037881335713/electricity_delivered_1/config')!;
    expect(JSON.parse(kaifaTotal.payload.toString())).toMatchObject({ device_class: 'energy', state_class: 'total_increasing', unit_of_measurement: 'kWh' });
    const state = retained(broker.ports.anonymous, 'dsmr/#');
    expect(state.find((m) => m.topic === 'dsmr/availability')?.payload.toString()).toBe('offline');
    expect(state.find((m) => m.topic === 'dsmr/raw')?.payload.equals(expected.at(-1)!)).toBe(true);
  }, 60_000);

  it('with a wrong password says so once, keeps every telegram, and delivers them all once the password is right', async () => {
    const sub = await subscriber(['dsmr/raw']);
    const { stream, expected } = mixedStream();
    const env = { DSMR_DATALOGGER_MQTT_URL: broker.passwordUrl, DSMR_DATALOGGER_MQTT_USERNAME: MQTT_USER };
    const wrong = run({ ...env, DSMR_DATALOGGER_MQTT_PASSWORD: 'not-the-password', DSMR_DATALOGGER_INPUT_FILE: capture(stream) });
    // mosquitto answers a wrong password with CONNACK 5 (not authorised), other brokers with 4.
    await wrong.waitForLine(/refused the user name or password|did not authorise this client/);
    await waitFor(() => spoolDirs(join(dir, 'data')).some((d) => inspectSpool(d).pending.length === expected.length), { what: 'every telegram in the spool' });
    expect((await wrong.stop('SIGTERM')).code).toBe(0);
    expect(wrong.lines.filter((l) => /ERROR/.test(l))).toHaveLength(1);
    expect(wrong.lines.join('\n')).not.toContain('not-the-password');
    expect(sub.messages).toHaveLength(0);

    const right = run({ ...env, DSMR_DATALOGGER_MQTT_PASSWORD: MQTT_PASSWORD, DSMR_DATALOGGER_INPUT_FILE: capture(Buffer.alloc(0), 'empty.bin') });
    expect((await right.waitForExit(30_000)).code).toBe(0);
    await waitFor(() => sub.messages.length >= expected.length, { what: 'every telegram at the broker' });
    expect(latin1(sub.messages)).toEqual(latin1(expected));
    expect(right.lines.join('\n')).not.toContain(MQTT_PASSWORD);
  }, 60_000);

  it('loses nothing while the broker is away, even when the datalogger is killed -9 meanwhile', async () => {
    const { stream, expected } = mixedStream();
    await broker.stop();
    const first = run({ DSMR_DATALOGGER_MQTT_URL: broker.anonymousUrl, DSMR_DATALOGGER_INPUT_FILE: capture(stream) });
    await first.waitForLine(/unavailable \(ECONNREFUSED/);
    await waitFor(() => spoolDirs(join(dir, 'data')).some((d) => inspectSpool(d).pending.length === expected.length), { what: 'every telegram in the spool' });
    await first.stop('SIGKILL');

    await broker.start();
    const sub = await subscriber(['dsmr/raw']);
    const second = run({ DSMR_DATALOGGER_MQTT_URL: broker.anonymousUrl, DSMR_DATALOGGER_INPUT_FILE: capture(Buffer.alloc(0), 'empty.bin') });
    await second.waitForLine(/from an earlier run go out first/);
    expect((await second.waitForExit(30_000)).code).toBe(0);
    await waitFor(() => sub.messages.length >= expected.length, { what: 'every telegram at the broker' });
    expect(atLeastOnce(sub.messages)).toEqual(latin1(expected));
  }, 60_000);

  it('rides out a broker restart while running: reconnects by itself, and what was read meanwhile follows in order', async () => {
    const connections: Socket[] = [];
    const bridge = createServer((socket) => connections.push(socket));
    await new Promise<void>((resolve) => bridge.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise((resolve) => {
      for (const s of connections) s.destroy();
      bridge.close(resolve);
    }));
    const { expected } = mixedStream();
    // The broker's own persistence keeps the subscriber's session, so it misses nothing while the broker restarts.
    const sub = await subscribe(broker.ports.anonymous, ['dsmr/raw'], { clientId: 'test-collector' });
    cleanups.push(() => sub.stop());
    const dl = run({
      DSMRREADER_REMOTE_DATALOGGER_INPUT_METHOD: 'ipv4',
      DSMRREADER_REMOTE_DATALOGGER_NETWORK_HOST: '127.0.0.1',
      DSMRREADER_REMOTE_DATALOGGER_NETWORK_PORT: String((bridge.address() as { port: number }).port),
      DSMR_DATALOGGER_MQTT_URL: broker.anonymousUrl,
    });
    await waitFor(() => connections.length > 0, { what: 'the datalogger at the bridge' });
    connections[0].write(expected[0]);
    await waitFor(() => sub.messages.length >= 1, { what: 'the first telegram at the broker' });
    await broker.stop();
    for (const t of expected.slice(1)) connections[0].write(t);
    await dl.waitForLine(/unavailable/);
    await broker.start();
    await dl.waitForLine(/is back/, 60_000);
    // The subscriber's reconnect replays the retained message: that one is the broker's, not a publish of ours.
    const live = () => atLeastOnce(sub.messages.filter((m) => !m.retained));
    await waitFor(() => live().length >= expected.length, { what: 'every telegram at the broker', timeoutMs: 30_000 });
    expect(live()).toEqual(latin1(expected));
    expect((await dl.stop('SIGTERM')).code).toBe(0);
  }, 90_000);

  it('a DSMR-reader server that hangs does not delay the broker', async () => {
    const sub = await subscriber(['dsmr/raw']);
    const hanging = await silentServer();
    const { stream, expected } = mixedStream();
    const dl = run({
      DSMR_DATALOGGER_MQTT_URL: broker.anonymousUrl,
      DSMRREADER_REMOTE_DATALOGGER_API_HOSTS: hanging.url('http'),
      DSMRREADER_REMOTE_DATALOGGER_API_KEYS: 'key',
      DSMR_DATALOGGER_INPUT_FILE: capture(stream),
    });
    // The server's timeout is 20 s a telegram: the broker has them all long before the first one times out.
    await waitFor(() => sub.messages.length >= expected.length, { what: 'every telegram at the broker', timeoutMs: 10_000 });
    expect(latin1(sub.messages)).toEqual(latin1(expected));
    expect(dl.lines.some((l) => /unavailable/.test(l))).toBe(false);
    expect((await dl.stop('SIGTERM')).code).toBe(0);
  }, 60_000);

  it('a broker that hangs does not delay the DSMR-reader server, and a broker that is down neither', async () => {
    const api = await startApiServer({ key: 'key' });
    cleanups.push(() => api.close());
    const hanging = await silentServer();
    const { stream, expected } = mixedStream();
    const dl = run({
      DSMR_DATALOGGER_MQTT_URL: `${hanging.url('mqtt')},mqtt://127.0.0.1:${await freePort()}`,
      DSMRREADER_REMOTE_DATALOGGER_API_HOSTS: api.url,
      DSMRREADER_REMOTE_DATALOGGER_API_KEYS: 'key',
      DSMR_DATALOGGER_INPUT_FILE: capture(stream),
    });
    await waitFor(() => api.telegrams.length >= expected.length, { what: 'every telegram at the server', timeoutMs: 10_000 });
    expect(latin1(api.telegrams)).toEqual(latin1(expected));
    await dl.waitForLine(/unavailable \(ECONNREFUSED/);
    expect((await dl.stop('SIGTERM')).code).toBe(0);
  }, 60_000);

  it('publishes over TLS to a broker trusted through the CA file, and not without it', async () => {
    const sub = await subscriber(['dsmr/raw']);
    const untrusted = run({ DSMR_DATALOGGER_MQTT_URL: broker.tlsUrl, DSMR_DATALOGGER_INPUT_FILE: capture(VALID_KAIFA) });
    await untrusted.waitForLine(/unavailable \(.*(certificate|CERT)/i);
    expect((await untrusted.stop('SIGTERM')).code).toBe(0);
    expect(sub.messages).toHaveLength(0);
    const trusted = run({ DSMR_DATALOGGER_MQTT_URL: broker.tlsUrl, DSMR_DATALOGGER_MQTT_CA_FILE: broker.caFile, DSMR_DATALOGGER_INPUT_FILE: capture(Buffer.alloc(0), 'empty.bin') });
    expect((await trusted.waitForExit(30_000)).code).toBe(0);
    await waitFor(() => sub.messages.length >= 1, { what: 'the telegram at the broker' });
    expect(latin1(sub.messages)).toEqual(latin1([VALID_KAIFA]));
  }, 60_000);

  it('DSMR_DATALOGGER_MQTT_INTERVAL paces the broker only, and SLEEP the DSMR-reader server only', async () => {
    const api = await startApiServer({ key: 'key' });
    cleanups.push(() => api.close());
    const sub = await subscriber(['dsmr/raw']);
    const { stream, expected } = mixedStream();
    // A file is read at once, so within any interval only its first telegram passes.
    const dl = run({
      DSMR_DATALOGGER_MQTT_URL: broker.anonymousUrl,
      DSMR_DATALOGGER_MQTT_INTERVAL: '60',
      DSMRREADER_REMOTE_DATALOGGER_API_HOSTS: api.url,
      DSMRREADER_REMOTE_DATALOGGER_API_KEYS: 'key',
      DSMR_DATALOGGER_INPUT_FILE: capture(stream),
    });
    expect((await dl.waitForExit(30_000)).code).toBe(0);
    expect(latin1(api.telegrams)).toEqual(latin1(expected));
    await waitFor(() => sub.messages.length >= 1, { what: 'the first telegram at the broker' });
    expect(latin1(sub.messages)).toEqual(latin1(expected.slice(0, 1)));

    const sub2 = await subscriber(['dsmr/json']);
    const api2 = await startApiServer({ key: 'key' });
    cleanups.push(() => api2.close());
    rmSync(join(dir, 'data'), { recursive: true, force: true });
    const sleepy = run({
      DSMR_DATALOGGER_MQTT_URL: broker.anonymousUrl,
      DSMRREADER_REMOTE_DATALOGGER_SLEEP: '60',
      DSMRREADER_REMOTE_DATALOGGER_API_HOSTS: api2.url,
      DSMRREADER_REMOTE_DATALOGGER_API_KEYS: 'key',
      DSMR_DATALOGGER_INPUT_FILE: capture(stream, 'again.bin'),
    });
    expect((await sleepy.waitForExit(30_000)).code).toBe(0);
    expect(latin1(api2.telegrams)).toEqual(latin1(expected.slice(0, 1)));
    // Every telegram with a reading gave a JSON message: SLEEP did not thin out MQTT.
    await waitFor(() => sub2.messages.length >= 6, { what: 'the JSON of every telegram' });
  }, 60_000);

  it('the bundle compiles mqtt.js only in a set-up with MQTT', async () => {
    // mqtt.js is carried deflated (scripts/lib/deferred-packages.mjs) and compiled by vm.compileFunction at the first
    // import; a preload records every such compile, so the test sees what the program did, not how the bundle looks.
    // Bundled eagerly, mqtt.js would never reach vm.compileFunction and the MQTT run below would fail.
    const probe = join(dir, 'compiles.cjs');
    writeFileSync(
      probe,
      `const vm = require('node:vm'); const compile = vm.compileFunction;
vm.compileFunction = function (code, params, options) { process.stderr.write('compiled: ' + (options && options.filename) + '\\n'); return compile.apply(this, arguments); };`,
    );
    const api = await startApiServer({ key: 'key' });
    cleanups.push(() => api.close());
    const command = [process.execPath, '-r', probe, join(dist, 'dsmr-datalogger.cjs')];
    const server = { DSMRREADER_REMOTE_DATALOGGER_API_HOSTS: api.url, DSMRREADER_REMOTE_DATALOGGER_API_KEYS: 'key' };
    const apiOnly = run({ ...server, DSMR_DATALOGGER_INPUT_FILE: capture(VALID_KAIFA) }, command);
    expect((await apiOnly.waitForExit(30_000)).code).toBe(0);
    expect(apiOnly.lines.filter((line) => line.startsWith('compiled: '))).toEqual([]);
    const withMqtt = run({ ...server, DSMR_DATALOGGER_MQTT_URL: broker.anonymousUrl, DSMR_DATALOGGER_INPUT_FILE: capture(VALID_KAIFA, 'again.bin') }, command);
    expect((await withMqtt.waitForExit(30_000)).code).toBe(0);
    expect(withMqtt.lines.filter((line) => line.startsWith('compiled: '))).toEqual(['compiled: mqtt/lib/client (deferred bundle)']);
  }, 60_000);
});

describe.each([
  ['linux-x64 executable', () => [join(dist, 'dsmr-datalogger-linux-x64')]],
  ['linux-arm64 executable under qemu', () => arm64Command(join(dist, 'dsmr-datalogger-linux-arm64'))],
  ['Deno running src/main.ts', () => [join(repoRoot, 'node_modules', '.bin', 'deno'), 'run', '-A', join(repoRoot, 'src', 'main.ts')]],
])('%s', (_name, command) => {
  it('publishes the mixed stream to the broker, with discovery', async () => {
    const cmd = command();
    expect(existsSync(cmd[0]) || cmd[0] === 'qemu-aarch64-static').toBe(true);
    const sub = await subscriber(['dsmr/raw']);
    const { stream, expected } = mixedStream();
    const dl = run({ DSMR_DATALOGGER_MQTT_URL: broker.anonymousUrl, DSMR_DATALOGGER_INPUT_FILE: capture(stream), HOME: '/nonexistent' }, cmd);
    expect((await dl.waitForExit(90_000)).code).toBe(0);
    await waitFor(() => sub.messages.length >= expected.length, { what: 'every telegram at the broker' });
    expect(latin1(sub.messages)).toEqual(latin1(expected));
    expect(retained(broker.ports.anonymous, 'homeassistant/#').length).toBeGreaterThan(20);
  }, 120_000);
});
