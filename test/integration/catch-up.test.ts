// Catching up at once: whatever the length of an outage, a server that is back has everything waiting within
// seconds, and a server that trickles its answer cannot hold a telegram past the request deadline.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createServer, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { sleep, waitFor } from '../helpers/wait.ts';
import { expectDelivered, KEY, makeTelegrams, Scene, waitForDelivery, type FlakyServer } from './faults-kit.ts';

let scene: Scene;

beforeEach(() => {
  scene = new Scene();
});

afterEach(async () => {
  await scene.close();
});

/** The time at which the server had stored `count` distinct telegrams. */
async function deliveredAt(server: FlakyServer, count: number, timeoutMs: number): Promise<number> {
  await waitForDelivery(server, count, timeoutMs);
  return Date.now();
}

describe('catching up', () => {
  it('three servers down for 45 s: each has everything within 10 s of its return', async () => {
    const servers = [await scene.server(), await scene.server(), await scene.server()];
    const sent = makeTelegrams(100, 31);
    const dl = scene.startOnStdin({ url: servers.map((s) => s.url).join(',') }, { DSMRREADER_REMOTE_DATALOGGER_API_KEYS: [KEY, KEY, KEY].join(','), DSMR_DATALOGGER_LOG_LEVEL: 'info' });
    dl.proc.stdin!.write(Buffer.concat(sent.slice(0, 10)));
    for (const s of servers) await waitForDelivery(s, 10, 20_000);
    for (const s of servers) await s.down();
    // 45 s away, a telegram every half second all along (90 of them).
    const downAt = Date.now();
    for (let i = 10; i < 100; i++) {
      dl.proc.stdin!.write(sent[i]);
      await sleep(Math.max(0, downAt + (i - 9) * 500 - Date.now()));
    }
    for (const s of servers) await s.up();
    const upAt = Date.now();
    const caughtUp = await Promise.all(servers.map((s) => deliveredAt(s, sent.length, 30_000)));
    const lags = caughtUp.map((t) => t - upAt);
    console.log(`three servers down for ${((upAt - downAt) / 1000).toFixed(1)} s: caught up ${lags.map((ms) => `${(ms / 1000).toFixed(1)} s`).join(', ')} after their return`);
    for (const lag of lags) expect(lag).toBeLessThan(10_000);
    for (const s of servers) expectDelivered(s.stored, sent, 2);
    dl.proc.stdin!.end();
    expect((await dl.waitForExit(15_000)).code).toBe(0);
  }, 120_000);

  it('a server that trickles its answer a byte a second is given up at the request deadline, not held', async () => {
    // Reads the request, then sends the status line one byte per second: an idle timeout would never fire.
    const sockets = new Set<Socket>();
    const accepted: number[] = [];
    const closed: number[] = [];
    const trickler = createServer((socket) => {
      sockets.add(socket);
      accepted.push(Date.now());
      const reply = Buffer.from('HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n');
      let i = 0;
      const timer = setInterval(() => {
        if (i < reply.length && !socket.destroyed) socket.write(reply.subarray(i, ++i));
      }, 1000);
      socket.on('close', () => {
        clearInterval(timer);
        closed.push(Date.now());
      });
      socket.on('error', () => {});
    });
    await new Promise<void>((resolve) => trickler.listen(0, '127.0.0.1', resolve));
    scene.onCleanup(async () => {
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => trickler.close(resolve));
    });
    const url = `http://127.0.0.1:${(trickler.address() as AddressInfo).port}`;
    const dl = scene.startOnStdin({ url }, { DSMRREADER_REMOTE_DATALOGGER_TIMEOUT: '2' });
    dl.proc.stdin!.write(makeTelegrams(1, 32)[0]);
    await dl.waitForLine(/unavailable \(ETIMEDOUT/, 20_000);
    const heldMs = Date.now() - accepted[0];
    // The connection is let go of too, not left to trickle on.
    await waitFor(() => closed.length > 0, { timeoutMs: 10_000, what: 'the trickling connection to be closed' });
    console.log(`trickling server: request given up after ${(heldMs / 1000).toFixed(1)} s (deadline 2 s)`);
    expect(heldMs).toBeGreaterThanOrEqual(1900);
    expect(heldMs).toBeLessThan(4000);
    await dl.stop('SIGTERM');
  }, 60_000);
});
