// A real mosquitto on 127.0.0.1 for the API+MQTT set-up: one anonymous listener on a free port, configured under the
// bench's work directory, and mosquitto_sub (a client that is not ours) counting what reaches it.
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { freePort, portOpen } from '../lib/ports.mjs';
import { waitUntil } from '../lib/wait.mjs';

function stopChild(child) {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  const gone = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  return gone;
}

/**
 * Starts mosquitto and a subscriber on `topics`; `received` counts the messages the subscriber got (one line each).
 * @returns {Promise<{ url: string, received: () => number, stop: () => Promise<void> }>}
 */
export async function startMosquitto(dir, { topics = ['#'] } = {}) {
  mkdirSync(dir, { recursive: true });
  const port = await freePort();
  const configFile = join(dir, 'mosquitto.conf');
  // Started as root, mosquitto would drop to the user "mosquitto", who cannot read the bench's files.
  writeFileSync(configFile, [`user ${userInfo().username}`, 'persistence false', 'log_dest stderr', 'log_type error', `listener ${port} 127.0.0.1`, 'allow_anonymous true', ''].join('\n'));
  const broker = spawn('mosquitto', ['-c', configFile], { stdio: ['ignore', 'ignore', 'pipe'] });
  let brokerOutput = '';
  broker.stderr.on('data', (d) => (brokerOutput += d));
  broker.once('error', (err) => (brokerOutput += err.message));
  await waitUntil(async () => {
    if (broker.exitCode !== null) throw new Error(`mosquitto exited with ${broker.exitCode}: ${brokerOutput}`);
    return portOpen(port);
  }, { what: `mosquitto listening on ${port} (${brokerOutput})`, timeoutMs: 10_000, intervalMs: 20 });

  const subscriber = spawn('mosquitto_sub', ['-h', '127.0.0.1', '-p', String(port), '-F', '%t', ...topics.flatMap((t) => ['-t', t])], { stdio: ['ignore', 'pipe', 'ignore'] });
  let lines = 0;
  subscriber.stdout.on('data', (d) => {
    for (const byte of d) if (byte === 10) lines++;
  });
  return {
    url: `mqtt://127.0.0.1:${port}`,
    received: () => lines,
    async stop() {
      await stopChild(subscriber);
      await stopChild(broker);
    },
  };
}
