// A real mosquitto on 127.0.0.1 for the MQTT tests, configured under the test's temp dir: an anonymous listener, a
// password-protected one (mosquitto_passwd) and a TLS one (a self-signed certificate made by openssl, which is its
// own CA). mosquitto_sub, a client that is not ours, is the subscriber that says what reached the broker.
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { freePort, portOpen } from '../../scripts/lib/ports.mjs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { waitFor } from './wait.ts';

export { freePort };

export const MQTT_USER = 'meter';
export const MQTT_PASSWORD = 'p1-secret, with spaces';

export interface Mosquitto {
  /** mqtt://127.0.0.1:port, no login. */
  anonymousUrl: string;
  /** mqtt://127.0.0.1:port, MQTT_USER / MQTT_PASSWORD only. */
  passwordUrl: string;
  /** mqtts://127.0.0.1:port, trusted through caFile. */
  tlsUrl: string;
  caFile: string;
  ports: { anonymous: number; password: number; tls: number };
  /** Stops the broker (SIGTERM: it saves its persistence file) and waits until it is gone. */
  stop(): Promise<void>;
  /** Starts it again on the same ports, with what it had persisted. */
  start(): Promise<void>;
  readonly running: boolean;
}

export async function startMosquitto(dir: string): Promise<Mosquitto> {
  mkdirSync(dir, { recursive: true });
  const ports = { anonymous: await freePort(), password: await freePort(), tls: await freePort() };
  const caFile = join(dir, 'cert.pem');
  const keyFile = join(dir, 'key.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', keyFile, '-out', caFile, '-days', '2', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1', '-addext', 'basicConstraints=critical,CA:TRUE'], { stdio: 'pipe' });
  const passwordFile = join(dir, 'passwd');
  execFileSync('mosquitto_passwd', ['-b', '-c', passwordFile, MQTT_USER, MQTT_PASSWORD], { stdio: 'pipe' });
  const configFile = join(dir, 'mosquitto.conf');
  writeFileSync(
    configFile,
    [
      // Started as root, mosquitto would drop to the user "mosquitto", who cannot read the test's files.
      `user ${userInfo().username}`,
      'per_listener_settings true',
      // Retained messages and the subscribers' sessions survive a restart, as on a real broker with persistence.
      'persistence true',
      `persistence_location ${dir}/`,
      'log_dest stderr',
      'log_type error',
      'log_type warning',
      'log_type notice',
      `listener ${ports.anonymous} 127.0.0.1`,
      'allow_anonymous true',
      `listener ${ports.password} 127.0.0.1`,
      'allow_anonymous false',
      `password_file ${passwordFile}`,
      `listener ${ports.tls} 127.0.0.1`,
      'allow_anonymous true',
      `certfile ${caFile}`,
      `keyfile ${keyFile}`,
      '',
    ].join('\n'),
  );

  let proc: ChildProcess | undefined;
  const output: string[] = [];
  const start = async () => {
    const child = spawn('mosquitto', ['-c', configFile], { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout!.on('data', (d: Buffer) => output.push(d.toString()));
    child.stderr!.on('data', (d: Buffer) => output.push(d.toString()));
    proc = child;
    await waitFor(async () => !child.exitCode && (await portOpen(ports.anonymous)) && (await portOpen(ports.password)) && (await portOpen(ports.tls)), {
      what: `mosquitto listening (${output.join('').slice(-500)})`,
      timeoutMs: 10_000,
    });
  };
  const stop = async () => {
    const child = proc;
    proc = undefined;
    if (!child || child.exitCode !== null) return;
    const gone = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    await gone;
  };
  await start();
  running.add(stop);
  return {
    anonymousUrl: `mqtt://127.0.0.1:${ports.anonymous}`,
    passwordUrl: `mqtt://127.0.0.1:${ports.password}`,
    tlsUrl: `mqtts://127.0.0.1:${ports.tls}`,
    caFile,
    ports,
    stop,
    start,
    get running() {
      return proc !== undefined && proc.exitCode === null;
    },
  };
}

const running = new Set<() => Promise<void>>();

export interface Message {
  topic: string;
  payload: Buffer;
  retained: boolean;
}

export interface Subscriber {
  messages: Message[];
  on(topic: string): Message[];
  stop(): Promise<void>;
}

/**
 * mosquitto_sub on `topics`, QoS 1. With `clientId` it keeps a session on the broker (-c), so what is published
 * while it is reconnecting (the broker restarted) is still delivered to it.
 */
export async function subscribe(port: number, topics: string[], opts: { clientId?: string } = {}): Promise<Subscriber> {
  const probe = `test-probe/${process.pid}-${Math.random().toString(16).slice(2)}`;
  const args = ['-h', '127.0.0.1', '-p', String(port), '-q', '1', '-F', '%r %t %x', '-t', probe];
  if (opts.clientId) args.push('-c', '-i', opts.clientId);
  for (const t of topics) args.push('-t', t);
  const child = spawn('mosquitto_sub', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const messages: Message[] = [];
  let probed = false;
  let partial = '';
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (text: string) => {
    const lines = (partial + text).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) {
      const message = parseLine(line);
      if (message.topic === probe) probed = true;
      else messages.push(message);
    }
  });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const stop = async () => {
    if (child.exitCode !== null) return;
    const gone = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    await gone;
  };
  running.add(stop);
  // mosquitto_sub says nothing once subscribed: it is listening once it hears its own probe.
  await waitFor(
    () => {
      if (child.exitCode !== null) throw new Error(`mosquitto_sub exited with ${child.exitCode}: ${stderr}`);
      if (!probed) execFileSync('mosquitto_pub', ['-h', '127.0.0.1', '-p', String(port), '-t', probe, '-m', 'probe'], { stdio: 'pipe' });
      return probed;
    },
    { what: 'mosquitto_sub subscribed', timeoutMs: 10_000, intervalMs: 100 },
  );
  return { messages, on: (t) => messages.filter((m) => m.topic === t), stop };
}

function parseLine(line: string): Message {
  const [retain, topic, hex = ''] = line.split(' ');
  return { topic, payload: Buffer.from(hex, 'hex'), retained: retain === '1' };
}

/** Every retained message under `topic` (a filter), as a fresh subscriber gets them. */
export function retained(port: number, topic: string): Message[] {
  // --retained-only ends at the first live message; -W 1 ends it when the retained ones have all arrived.
  const args = ['-h', '127.0.0.1', '-p', String(port), '-t', topic, '-F', '%r %t %x', '--retained-only', '-W', '1'];
  let out: string;
  try {
    out = execFileSync('mosquitto_sub', args, { stdio: ['ignore', 'pipe', 'pipe'] }).toString();
  } catch (err) {
    // The -W timeout is its normal end here, with exit status 27.
    const e = err as { status?: number; stdout?: Buffer };
    if (e.status !== 27) throw err;
    out = e.stdout?.toString() ?? '';
  }
  return out.split('\n').filter((l) => l).map(parseLine);
}

process.once('exit', () => {
  for (const stop of running) void stop();
});
