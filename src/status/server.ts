// The local status endpoint on node:http. It must never stop or delay delivery: it listens in the background, an
// address that is taken is said once and the datalogger runs on without it, and each request is a few string
// operations on a snapshot. It listens without node:net's Server (listener.ts) and loads node:http at the first
// connection: nothing else of the datalogger needs node:http, and while nobody looks that saves 1.2 MiB resident
// (measured on Node 24).
import type http from 'node:http';
import type { Socket } from 'node:net';
import type { Clock } from '../core/clock.ts';
import type { DataloggerStatus } from '../core/status.ts';
import type { StatusEndpointConfig } from '../config/config.ts';
import type { Logger } from '../log/logger.ts';
import { formatListen, localUrl } from './address.ts';
import { listen } from './listener.ts';
import { answer } from './routes.ts';
import { StatusService } from './service.ts';

export interface StatusEndpointOptions {
  config: StatusEndpointConfig;
  snapshot: () => DataloggerStatus;
  clock: Clock;
  log: Logger;
}

export interface StatusEndpoint {
  readonly service: StatusService;
  /** Resolves with the bound port once listening, or undefined when off or the address could not be had. */
  readonly listening: Promise<number | undefined>;
  close(): Promise<void>;
}

/** A phone or a scraper needs a handful of connections at most; more are refused rather than served. */
const MAX_CONNECTIONS = 16;

export function startStatusEndpoint({ config, snapshot, clock, log }: StatusEndpointOptions): StatusEndpoint {
  const service = new StatusService(snapshot, clock, { silenceMs: config.silenceMs, stallMs: config.stallMs }, log);
  service.start();
  const address = config.listen;
  if (!address) {
    return { service, listening: Promise.resolve(undefined), close: async () => service.stop() };
  }

  const sockets = new Set<Socket>();
  let failureSaid = false;
  const handle = (req: http.IncomingMessage, res: http.ServerResponse) => {
    let reply;
    try {
      reply = answer({ method: req.method ?? '', path: (req.url ?? '/').split('?')[0], authorization: req.headers.authorization }, service, config.token);
    } catch (err) {
      // A fault in a renderer costs that one answer, never the datalogger; said once.
      if (!failureSaid) log.error(`status endpoint: ${(err as Error).stack ?? String(err)}`);
      failureSaid = true;
      reply = { status: 500, headers: { 'content-type': 'text/plain; charset=utf-8' }, body: 'internal error\n' };
    }
    res.writeHead(reply.status, { ...reply.headers, 'content-length': Buffer.byteLength(reply.body) });
    res.end(req.method === 'HEAD' ? undefined : reply.body);
  };
  let httpServer: Promise<http.Server> | undefined;
  const speaksHttp = () =>
    (httpServer ??= import('node:http').then(({ default: nodeHttp }) => {
      const created = nodeHttp.createServer(handle);
      created.timeout = 10_000;
      created.requestTimeout = 10_000;
      created.headersTimeout = 5_000;
      created.keepAliveTimeout = 5_000;
      // node:http starts the timer that enforces requestTimeout and headersTimeout when its server listens; this one
      // never does (the listener below listens for it).
      created.emit('listening');
      return created;
    }));
  // Paused until node:http has the socket, so that not a byte of the request is read before its parser is there.
  const onSocket = (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    speaksHttp().then(
      (created) => {
        created.emit('connection', socket);
        socket.resume();
      },
      () => socket.destroy(),
    );
  };
  // Reaching the endpoint is a convenience: it must not keep the process alive (listen() does not), nor end it.
  const onError = (err: Error) => log.warn(`status endpoint: ${err.message}`);
  const listener = listen(address, { maxConnections: MAX_CONNECTIONS, onSocket, onError }).then(
    (opened) => {
      log.info(`status endpoint on ${localUrl({ host: address.host, port: opened.port })}: /, /status, /metrics, /health${config.token ? ' (token required but for /health)' : ''}`);
      return opened;
    },
    (err: NodeJS.ErrnoException) => {
      const why = err.code === 'EADDRINUSE' ? 'the address is taken; is another datalogger running on this machine?' : (err.code ?? err.message);
      log.warn(`status endpoint: cannot listen on ${formatListen(address)} (${why}); running on without it`);
      return undefined;
    },
  );
  const listening = listener.then((opened) => opened?.port);

  return {
    service,
    listening,
    close: async () => {
      service.stop();
      void httpServer?.then((created) => created.close());
      const opened = await listener;
      for (const socket of sockets) socket.destroy();
      await opened?.close();
    },
  };
}
