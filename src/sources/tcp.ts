import net from 'node:net';
import { type Clock, systemClock, type Timer } from '../core/clock.ts';
import { InputStateTracker } from './input-state.ts';
import type { Logger } from '../log/logger.ts';
import type { Source, SourceEvents, SourceStatus } from './source.ts';
import { backoffDelay, RECONNECT_POLICY } from '../policy/backoff.ts';

export interface TcpSourceOptions {
  host: string;
  port: number;
  /** A bridge silent this long is presumed dead (WiFi gone, bridge rebooted) and the connection is made anew. */
  silenceMs: number;
  log: Logger;
  clock?: Clock;
}

/** A P1 network bridge (ser2net, ESP-link, P1 WiFi dongles): one persistent connection, remade with backoff. */
export class TcpSource implements Source {
  private socket: net.Socket | undefined;
  private events: SourceEvents | undefined;
  private stopped = false;
  private attempt = 0;
  private timer: Timer | undefined;
  private down = false;
  private readonly clock: Clock;
  private readonly state: InputStateTracker;
  private stalls = 0;

  constructor(private readonly options: TcpSourceOptions) {
    this.clock = options.clock ?? systemClock;
    this.state = new InputStateTracker(this.clock);
  }

  get description(): string {
    return `network ${this.options.host}:${this.options.port}`;
  }

  status(): SourceStatus {
    return { kind: 'network', target: `${this.options.host}:${this.options.port}`, state: this.state.state, since: this.state.since, stalls: this.stalls };
  }

  start(events: SourceEvents): void {
    this.events = events;
    this.state.set('waiting');
    this.connect();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.state.set('closed');
    this.clock.clearTimeout(this.timer);
    this.socket?.destroy();
  }

  private connect(): void {
    if (this.stopped) return;
    const { host, port, log, silenceMs } = this.options;
    const socket = net.connect({ host, port });
    this.socket = socket;
    let receivedData = false;
    socket.setKeepAlive(true, 10_000);
    socket.setNoDelay(true);
    socket.setTimeout(silenceMs, () => {
      // A connected bridge that stopped sending is a stall, the serial port's watchdog case.
      if (this.state.state === 'open') this.stalls++;
      socket.destroy(Object.assign(new Error(`silent for ${silenceMs / 1000} s`), { code: 'ETIMEDOUT' }));
    });
    socket.on('connect', () => {
      if (this.down || this.attempt === 0) log.info(`connected to ${host}:${port}`);
      this.down = false;
      this.state.set('open');
    });
    socket.on('data', (chunk: Buffer) => {
      // Only a connection that delivers counts as recovered: some bridges accept and then stay mute.
      if (!receivedData) this.attempt = 0;
      receivedData = true;
      this.events?.data(chunk);
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      if (this.socket !== socket) return;
      this.socket = undefined;
      this.events?.discontinuity();
      if (this.stopped) return;
      this.state.set('waiting');
      const reason = (socket as net.Socket & { errored?: NodeJS.ErrnoException }).errored;
      const delay = backoffDelay(RECONNECT_POLICY, this.attempt++);
      if (!this.down) {
        log.warn(`connection to ${host}:${port} ${receivedData ? 'lost' : 'failed'} (${reason?.code ?? reason?.message ?? 'closed by the bridge'}); reconnecting with backoff up to ${RECONNECT_POLICY.capMs / 1000} s`);
        this.down = true;
      }
      this.timer = this.clock.setTimeout(() => this.connect(), delay);
    });
  }
}
