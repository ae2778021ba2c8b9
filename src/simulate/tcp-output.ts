// Streams telegrams to every connected client, like a P1-to-WiFi bridge: a client that connects gets the telegrams
// from the next one on, each one whole.
import { createServer, type Server, type Socket } from 'node:net';
import type { Logger } from '../log/logger.ts';
import { waitForDrain, type TelegramOutput } from './output.ts';

const CLIENT_CLOSE_GRACE_MS = 2000;

export class TcpOutput implements TelegramOutput {
  private readonly server: Server;
  private readonly clients = new Set<Socket>();
  private readonly lagging = new Set<Socket>();
  private boundPort: number;
  private clientArrived: () => void = () => {};
  private readonly firstClient = new Promise<void>((resolve) => (this.clientArrived = resolve));

  /** `lossless`: wait for slow clients instead of skipping telegrams for them (benchmarks). */
  constructor(
    private readonly host: string,
    port: number,
    private readonly lossless: boolean,
    private readonly log: Logger,
  ) {
    this.boundPort = port;
    this.server = createServer((socket) => this.accept(socket));
  }

  get description(): string {
    return `tcp ${this.host.includes(':') ? `[${this.host}]` : this.host}:${this.boundPort}`;
  }

  get port(): number {
    return this.boundPort;
  }

  open(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.server.once('error', (error: NodeJS.ErrnoException) =>
        reject(new Error(`cannot listen on ${this.host}:${this.boundPort}: ${error.code === 'EADDRINUSE' ? 'the port is in use' : error.message}`)),
      );
      this.server.listen(this.boundPort, this.host, () => {
        const address = this.server.address();
        if (address && typeof address === 'object') this.boundPort = address.port;
        resolve();
      });
    });
  }

  /** Resolves when at least one client is connected. */
  waitForClient(): Promise<void> {
    return this.firstClient;
  }

  private accept(socket: Socket): void {
    const peer = `${socket.remoteAddress}:${socket.remotePort}`;
    socket.setNoDelay(true);
    this.clients.add(socket);
    this.clientArrived();
    this.log.info(`client ${peer} connected (${this.clients.size} connected)`);
    socket.on('data', () => {}); // a bridge ignores what clients send
    socket.on('error', (error) => this.log.debug(`client ${peer}: ${error.message}`));
    socket.on('drain', () => this.lagging.delete(socket));
    socket.on('close', () => {
      this.clients.delete(socket);
      this.lagging.delete(socket);
      this.log.info(`client ${peer} disconnected (${this.clients.size} connected)`);
    });
  }

  async write(telegram: Buffer): Promise<void> {
    const full: Socket[] = [];
    for (const socket of this.clients) {
      if (!socket.writable) continue;
      if (this.lagging.has(socket) && !this.lossless) continue; // it missed this telegram, as from a real bridge
      if (!socket.write(telegram)) {
        this.lagging.add(socket);
        full.push(socket);
      }
    }
    if (this.lossless && full.length > 0) await Promise.all(full.map((socket) => waitForDrain(socket)));
  }

  async close(): Promise<void> {
    const serverClosed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    const clientsClosed = [...this.clients].map(
      (socket) =>
        new Promise<void>((resolve) => {
          socket.once('close', () => resolve());
          socket.end();
          setTimeout(() => socket.destroy(), CLIENT_CLOSE_GRACE_MS).unref();
        }),
    );
    await Promise.all([serverClosed, ...clientsClosed]);
  }
}
