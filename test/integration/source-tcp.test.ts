// The network input's status on a real loopback bridge: open while connected, a bridge that goes mute past the
// timeout is reconnected and counted as a stall, one that closes the connection leaves it waiting, and is no stall.
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/log/logger.ts';
import { TcpSource } from '../../src/sources/tcp.ts';
import { waitFor } from '../helpers/wait.ts';

describe('network source status', () => {
  const cleanups: (() => Promise<unknown> | unknown)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
    cleanups.length = 0;
  });

  it('counts a bridge that goes silent as a stall and reconnects; a bridge that closes is waiting, not a stall', async () => {
    const connections: net.Socket[] = [];
    const server = net.createServer((socket) => {
      connections.push(socket);
      socket.write('/ISK5 hello\r\n');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as net.AddressInfo).port;
    cleanups.push(() => new Promise((resolve) => server.close(resolve)));
    cleanups.push(() => connections.forEach((s) => s.destroy()));

    const received: string[] = [];
    const source = new TcpSource({ host: '127.0.0.1', port, silenceMs: 300, log: createLogger('error', () => undefined) });
    cleanups.push(() => source.stop());
    expect(source.status()).toMatchObject({ kind: 'network', target: `127.0.0.1:${port}`, state: 'closed', stalls: 0 });
    source.start({ data: (chunk) => received.push(chunk.toString('latin1')), discontinuity: () => undefined, end: () => undefined });
    await waitFor(() => received.length >= 1 && source.status().state === 'open', { what: 'the first bytes' });

    // Mute after its greeting: remade after 300 ms of silence (and 1 s of backoff), counted once per silence.
    await waitFor(() => connections.length >= 2 && source.status().state === 'open', { timeoutMs: 5_000, what: 'a reconnect after the silence' });
    expect(source.status().stalls).toBeGreaterThanOrEqual(1);
    expect(source.status().stalls).toBeLessThan(connections.length);
    expect(received.length).toBeGreaterThanOrEqual(2);

    // The bridge goes away: waiting, and a connection closed by the bridge is no stall.
    const stalls = source.status().stalls;
    const closedAt = Date.now();
    server.close();
    connections.forEach((s) => s.destroy());
    await waitFor(() => source.status().state === 'waiting', { timeoutMs: 5_000, what: 'waiting for the bridge' });
    expect(source.status().since).toBeGreaterThanOrEqual(closedAt);
    expect(source.status().stalls).toBe(stalls);
    await source.stop();
    expect(source.status().state).toBe('closed');
  }, 20_000);
});
