// The status endpoint's listening socket (src/status/listener.ts), both ways it listens, on real sockets of
// 127.0.0.1 and ::1; and, in a process of its own, that listening on an address does not load node:cluster.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net, { type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from 'esbuild';
import { listenOnHandle, listenWithServer, type Listener, type ListenOptions } from '../../src/status/listener.ts';
import type { ListenAddress } from '../../src/status/address.ts';
import { repoRoot } from '../helpers/fixtures.ts';
import { waitFor } from '../helpers/wait.ts';

let cleanups: (() => unknown)[];
beforeEach(() => {
  cleanups = [];
});
afterEach(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

interface Accepted {
  sockets: Socket[];
  errors: Error[];
  options: ListenOptions;
}

function accepting(maxConnections = 16): Accepted {
  const accepted: Accepted = {
    sockets: [],
    errors: [],
    options: { maxConnections, onSocket: (s) => void accepted.sockets.push(s), onError: (e) => void accepted.errors.push(e) },
  };
  return accepted;
}

/** Closed after each test, once the connections it handed over are ended. */
async function opened(listener: Promise<Listener>, accepted: Accepted): Promise<Listener> {
  const l = await listener;
  cleanups.push(() => {
    for (const socket of accepted.sockets) socket.destroy();
    return l.close();
  });
  return l;
}

function connect(host: string, port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host, port }, () => resolve(socket));
    socket.once('error', reject);
    cleanups.push(() => socket.destroy());
  });
}

const closedBy = (socket: Socket) => new Promise<void>((resolve) => socket.once('close', () => resolve()));

const ways: [string, (address: ListenAddress, options: ListenOptions) => Promise<Listener>][] = [
  ["Node's TCP handle", (address, options) => {
    const listening = listenOnHandle(address, options);
    if (!listening) throw new Error('this Node offers no TCP handle');
    return listening;
  }],
  ["node:net's Server", listenWithServer],
];

describe.each(ways)('listening on %s', (_name, listenOn) => {
  it('takes a free port, hands over each connection paused, and sends and receives once resumed', async () => {
    const accepted = accepting();
    const listener = await opened(listenOn({ host: '127.0.0.1', port: 0 }, accepted.options), accepted);
    expect(listener.port).toBeGreaterThan(0);
    const client = await connect('127.0.0.1', listener.port);
    client.write('ping');
    await waitFor(() => accepted.sockets.length === 1, { what: 'the connection to be handed over' });
    const socket = accepted.sockets[0];
    const received: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => received.push(chunk));
    // Paused: the request waits in the kernel until the parser is there.
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(received).toEqual([]);
    socket.resume();
    await waitFor(() => Buffer.concat(received).toString() === 'ping', { what: 'the bytes sent before resume' });
    const answer = new Promise<string>((resolve) => client.once('data', (chunk) => resolve(chunk.toString())));
    socket.write('pong');
    expect(await answer).toBe('pong');
    expect(socket.remoteAddress).toBe('127.0.0.1');
    expect(accepted.errors).toEqual([]);
  });

  it('listens on ::1', async () => {
    const accepted = accepting();
    const listener = await opened(listenOn({ host: '::1', port: 0 }, accepted.options), accepted);
    await connect('::1', listener.port);
    await waitFor(() => accepted.sockets.length === 1, { what: 'the IPv6 connection' });
    expect(accepted.sockets[0].remoteAddress).toBe('::1');
  });

  it('rejects with EADDRINUSE when the address is taken', async () => {
    const held = accepting();
    const taken = await opened(listenWithServer({ host: '127.0.0.1', port: 0 }, held.options), held);
    await expect(listenOn({ host: '127.0.0.1', port: taken.port }, accepting().options)).rejects.toMatchObject({ code: 'EADDRINUSE' });
  });

  it('closes connections beyond the limit as they arrive, and takes new ones once others end', async () => {
    const accepted = accepting(2);
    const listener = await opened(listenOn({ host: '127.0.0.1', port: 0 }, accepted.options), accepted);
    const first = await connect('127.0.0.1', listener.port);
    await connect('127.0.0.1', listener.port);
    await waitFor(() => accepted.sockets.length === 2, { what: 'two connections' });
    const third = await connect('127.0.0.1', listener.port);
    await closedBy(third);
    expect(accepted.sockets).toHaveLength(2);
    first.destroy();
    accepted.sockets[0].destroy();
    await waitFor(() => accepted.sockets[0].destroyed, { what: 'the first to end' });
    await new Promise((resolve) => setImmediate(resolve));
    await connect('127.0.0.1', listener.port);
    await waitFor(() => accepted.sockets.length === 3, { what: 'a new connection once one ended' });
  });

  it('refuses connections once closed', async () => {
    const listener = await listenOn({ host: '127.0.0.1', port: 0 }, accepting().options);
    await listener.close();
    await expect(connect('127.0.0.1', listener.port)).rejects.toMatchObject({ code: 'ECONNREFUSED' });
  });

  it('does not keep the process alive', async () => {
    const before = process.getActiveResourcesInfo().filter((r) => r === 'TCPServerWrap').length;
    const accepted = accepting();
    await opened(listenOn({ host: '127.0.0.1', port: 0 }, accepted.options), accepted);
    expect(process.getActiveResourcesInfo().filter((r) => r === 'TCPServerWrap').length).toBe(before);
  });
});

describe('listen()', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'dsmr-listener-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  });

  /** Listens in a Node process of its own and says which built-in modules that loaded. */
  async function modulesLoadedByListening(host: string): Promise<{ port: number; cluster: boolean }> {
    const entry = join(dir, 'entry.ts');
    writeFileSync(
      entry,
      `import { listen } from ${JSON.stringify(join(repoRoot, 'src/status/listener.ts'))};
       const l = await listen({ host: ${JSON.stringify(host)}, port: 0 }, { maxConnections: 1, onSocket() {}, onError() {} });
       console.log(JSON.stringify({ port: l.port, cluster: process.moduleLoadList.includes('NativeModule cluster') }));
       await l.close();`,
    );
    const out = join(dir, 'entry.mjs');
    await build({ entryPoints: [entry], bundle: true, platform: 'node', format: 'esm', target: 'node18', outfile: out, logLevel: 'error' });
    return JSON.parse(execFileSync(process.execPath, [out], { encoding: 'utf8', timeout: 20_000 }));
  }

  it('listens on an address without loading node:cluster (nor child_process, dgram, dns through it)', async () => {
    const result = await modulesLoadedByListening('127.0.0.1');
    expect(result.port).toBeGreaterThan(0);
    expect(result.cluster).toBe(false);
  });

  it('listens on a host name with node:net, which looks it up', async () => {
    const result = await modulesLoadedByListening('localhost');
    expect(result.port).toBeGreaterThan(0);
    expect(result.cluster).toBe(true);
  });
});
