// The status endpoint's listening socket. node:net's Server loads node:cluster the first time it listens, only to ask
// whether this process is a cluster worker, and cluster brings child_process, dgram and dns: 1.7 MiB resident on
// Node 24, for a datalogger that runs none of them (docs/BENCHMARK.md). Node's TCP handle, the one its Server wraps,
// listens without them, and node:net still makes each accepted connection an ordinary Socket.
// Where that handle is not offered (Deno's is a stand-in, a later Node may stop handing it out) or the host is a name
// to look up, node:net's Server listens as before: the endpoint is the same either way, only its cost differs.
import net, { type Socket } from 'node:net';
import { getSystemErrorName } from 'node:util';
import { runningUnderDeno } from '../platform/runtime.ts';
import type { ListenAddress } from './address.ts';

export interface Listener {
  readonly port: number;
  /** Stops accepting; resolves once the connections already made have ended too (they are the caller's to end). */
  close(): Promise<void>;
}

export interface ListenOptions {
  /** Connections beyond this many at once are closed as they arrive. */
  maxConnections: number;
  /** Each accepted connection, paused: nothing is read before the caller resumes it. */
  onSocket(socket: Socket): void;
  /** A fault after listening began (such as running out of descriptors); the listener goes on. */
  onError(err: NodeJS.ErrnoException): void;
}

/** Resolves once listening, never keeping the process alive; rejects with the system error (err.code, e.g. EADDRINUSE). */
export function listen(address: ListenAddress, options: ListenOptions): Promise<Listener> {
  return listenOnHandle(address, options) ?? listenWithServer(address, options);
}

// The parts of node's tcp_wrap binding used here, as net.js itself uses them.
interface TcpHandle {
  bind(host: string, port: number): number;
  bind6(host: string, port: number, flags: number): number;
  listen(backlog: number): number;
  getsockname(out: { port?: number }): number;
  unref(): void;
  close(done?: () => void): void;
  onconnection: ((status: number, client: TcpHandle) => void) | null;
}
interface TcpBinding {
  TCP: new (type: number) => TcpHandle;
  constants: { SERVER: number };
}

function tcpBinding(): TcpBinding | undefined {
  if (runningUnderDeno()) return undefined;
  try {
    const binding = (process as unknown as { binding(name: string): TcpBinding }).binding('tcp_wrap');
    return typeof binding?.TCP === 'function' && typeof binding.constants?.SERVER === 'number' ? binding : undefined;
  } catch {
    return undefined;
  }
}

function systemError(status: number, syscall: string): NodeJS.ErrnoException {
  const code = getSystemErrorName(status);
  return Object.assign(new Error(`${syscall} ${code}`), { code, errno: status, syscall });
}

/** On Node's TCP handle; undefined where the runtime offers none, or the host is a name. */
export function listenOnHandle(address: ListenAddress, options: ListenOptions): Promise<Listener> | undefined {
  const binding = net.isIP(address.host) ? tcpBinding() : undefined;
  return binding && listenOn(binding, address, options);
}

function listenOn(binding: TcpBinding, address: ListenAddress, options: ListenOptions): Promise<Listener> {
  const handle = new binding.TCP(binding.constants.SERVER);
  const failed = (status: number, syscall: string) => {
    handle.close();
    return Promise.reject(systemError(status, syscall));
  };
  const bound = net.isIPv6(address.host) ? handle.bind6(address.host, address.port, 0) : handle.bind(address.host, address.port);
  if (bound) return failed(bound, 'bind');
  // node:net's backlog.
  const listening = handle.listen(511);
  if (listening) return failed(listening, 'listen');
  const name: { port?: number } = {};
  handle.getsockname(name);
  handle.unref();

  const open = new Set<net.Socket>();
  handle.onconnection = (status, client) => {
    if (status < 0) return options.onError(systemError(status, 'accept'));
    // As net's Server does: a connection over the limit is closed before it becomes a Socket.
    if (open.size >= options.maxConnections) return client.close();
    const socket = new net.Socket({ handle: client, pauseOnCreate: true, readable: true, writable: true } as net.SocketConstructorOpts);
    open.add(socket);
    socket.once('close', () => open.delete(socket));
    options.onSocket(socket);
  };
  const ended = (socket: net.Socket) => new Promise((resolve) => (socket.closed ? resolve(undefined) : socket.once('close', resolve)));
  return Promise.resolve({
    port: name.port ?? address.port,
    close: async () => {
      await new Promise<void>((resolve) => handle.close(resolve));
      await Promise.all([...open].map(ended));
    },
  });
}

export function listenWithServer(address: ListenAddress, options: ListenOptions): Promise<Listener> {
  const server = net.createServer({ pauseOnConnect: true }, options.onSocket);
  server.maxConnections = options.maxConnections;
  server.unref();
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: address.host, port: address.port }, () => {
      server.off('error', reject);
      server.on('error', options.onError);
      resolve({
        port: (server.address() as net.AddressInfo).port,
        close: () => new Promise<void>((done) => server.close(() => done())),
      });
    });
  });
}
