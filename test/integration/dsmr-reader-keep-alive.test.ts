// The DSMR-reader sink's own HTTP/1.1 connection against raw TCP servers on 127.0.0.1: each way a server may frame
// its answer, a server that closes the kept-alive connection between requests, and the deadline.
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { KeepAliveConnection, type PostError } from '../../src/sinks/dsmr-reader/keep-alive.ts';
import { waitFor } from '../helpers/wait.ts';

interface RawServer {
  url: URL;
  requests: string[];
  connections: number;
  /** Connections that have closed, from either side. */
  closed: number;
  close(): Promise<void>;
}

const servers: RawServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

/** A server that answers each whole request (head and Content-Length body) with what `answer` writes to the socket. */
async function rawServer(answer: (socket: net.Socket, index: number) => void): Promise<RawServer> {
  const sockets = new Set<net.Socket>();
  const state: RawServer = { url: new URL('http://127.0.0.1/'), requests: [], connections: 0, closed: 0, close: async () => undefined };
  const server = net.createServer((socket) => {
    state.connections++;
    sockets.add(socket);
    socket.on('close', () => {
      sockets.delete(socket);
      state.closed++;
    });
    let pending = '';
    socket.on('data', (chunk) => {
      pending += chunk.toString('latin1');
      for (;;) {
        const end = pending.indexOf('\r\n\r\n');
        if (end < 0) return;
        const length = Number(/content-length: (\d+)/i.exec(pending.slice(0, end))?.[1] ?? 0);
        if (pending.length < end + 4 + length) return;
        state.requests.push(pending.slice(0, end + 4 + length));
        pending = pending.slice(end + 4 + length);
        answer(socket, state.requests.length - 1);
      }
    });
    socket.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  state.url = new URL(`http://127.0.0.1:${(server.address() as net.AddressInfo).port}/api/v1/datalogger/dsmrreading`);
  state.close = () =>
    new Promise((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    });
  servers.push(state);
  return state;
}

const body = 'telegram=%2FISK5';

describe('the DSMR-reader connection', () => {
  it('writes one request with the key and the form, and reuses the connection', async () => {
    const server = await rawServer((s) => s.write('HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok'));
    const connection = new KeepAliveConnection(server.url, 'secret-key');
    expect(await connection.post(body, 5000)).toEqual({ status: 201, body: 'ok', retryAfter: undefined });
    expect(await connection.post(body, 5000)).toEqual({ status: 201, body: 'ok', retryAfter: undefined });
    connection.close();
    expect(server.connections).toBe(1);
    expect(server.requests[0]).toBe(
      `POST /api/v1/datalogger/dsmrreading HTTP/1.1\r\nHost: ${server.url.host}\r\nX-AUTHKEY: secret-key\r\n` +
        'Content-Type: application/x-www-form-urlencoded\r\nConnection: keep-alive\r\nContent-Length: 16\r\n\r\ntelegram=%2FISK5',
    );
  });

  it('reads chunked answers (with an interim 100 first), Retry-After, and answers split across reads', async () => {
    const server = await rawServer((s) => {
      s.write('HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 503 Service Unavailable\r\nretry-after: 7\r\nTRANSFER-ENCODING: chunked\r\n\r\n5\r\nbus');
      setTimeout(() => s.write('y \r\n4;x=1\r\nnow!\r\n0\r\nX-Trailer: 1\r\n\r\n'), 20);
    });
    const connection = new KeepAliveConnection(server.url, 'k');
    expect(await connection.post(body, 5000)).toEqual({ status: 503, body: 'busy now!', retryAfter: '7' });
    expect(await connection.post(body, 5000)).toEqual({ status: 503, body: 'busy now!', retryAfter: '7' });
    connection.close();
    expect(server.connections).toBe(1);
  });

  it('takes a new connection after "Connection: close" (in any case), and reads an HTTP/1.0 answer that runs until the close', async () => {
    const server = await rawServer((s, i) => {
      if (i === 0) s.write('HTTP/1.1 200 OK\r\nX-Close: no\r\nCONNECTION: Close\r\ncontent-length: 0\r\n\r\n');
      else s.end('HTTP/1.0 200\r\n\r\nuntil the end');
    });
    const connection = new KeepAliveConnection(server.url, 'k');
    expect((await connection.post(body, 5000)).status).toBe(200);
    expect(await connection.post(body, 5000)).toEqual({ status: 200, body: 'until the end', retryAfter: undefined });
    expect((await connection.post(body, 5000)).status).toBe(200);
    expect(server.connections).toBe(3);
  });

  it('says a connection closed before the answer was reused, and one that stays silent ran out of time', async () => {
    const server = await rawServer((s, i) => {
      if (i === 0) s.write('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n');
      else if (i === 1) s.destroy();
    });
    const connection = new KeepAliveConnection(server.url, 'k');
    await connection.post(body, 5000);
    const reset = (await connection.post(body, 5000).catch((err: unknown) => err)) as PostError;
    expect(reset.code).toBe('ECONNRESET');
    expect(reset.reusedSocket).toBe(true);
    const silent = (await connection.post(body, 200).catch((err: unknown) => err)) as PostError;
    expect(silent.code).toBe('ETIMEDOUT');
    expect(silent.reusedSocket).toBe(false);
    connection.close();
  });

  it('drops a connection on which the server sends what nobody asked for, and answers the next request on a new one', async () => {
    const server = await rawServer((s, i) => {
      if (i === 0) {
        s.write('HTTP/1.1 201 Created\r\nContent-Length: 5\r\n\r\nfirst');
        // A stray answer after the one asked for: on this connection, the next request would read it as its own.
        setTimeout(() => s.write('HTTP/1.1 403 Forbidden\r\nContent-Length: 5\r\n\r\nstray'), 20);
      } else s.write('HTTP/1.1 201 Created\r\nContent-Length: 6\r\n\r\nsecond');
    });
    const connection = new KeepAliveConnection(server.url, 'k');
    expect((await connection.post(body, 5000)).body).toBe('first');
    await waitFor(() => server.closed === 1, { timeoutMs: 5000, what: 'the connection with the stray answer to be dropped' });
    expect(await connection.post(body, 5000)).toEqual({ status: 201, body: 'second', retryAfter: undefined });
    connection.close();
    expect(server.connections).toBe(2);
  });

  it('refuses an answer that is not HTTP, and a server that is not there', async () => {
    const server = await rawServer((s) => s.write('SSH-2.0-OpenSSH\r\n\r\n'));
    const bad = (await new KeepAliveConnection(server.url, 'k').post(body, 5000).catch((err: unknown) => err)) as PostError;
    expect(bad.code).toBe('EPROTO');
    const port = Number(server.url.port);
    await server.close();
    const refused = (await new KeepAliveConnection(new URL(`http://127.0.0.1:${port}/`), 'k').post(body, 5000).catch((err: unknown) => err)) as PostError;
    expect(refused.code).toBe('ECONNREFUSED');
  });
});
