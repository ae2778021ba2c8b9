import type { Logger } from '../log/logger.ts';
import type { Source, SourceEvents } from './source.ts';
import type { SerialBackend, SerialConnection } from './serial-backend.ts';
import type { LineSettings } from './serial-settings.ts';
import { describeLine, LINE_115200_8N1, LINE_9600_7E1 } from './serial-settings.ts';

export interface SerialSourceOptions {
  path: string;
  /** Fixed line settings, or 'auto': try DSMR 4/5's and then DSMR 2.2/3's until a valid telegram arrives. */
  line: LineSettings | 'auto';
  backend: SerialBackend;
  backendName: string;
  log: Logger;
  reopenMs?: number;
  /** How long to listen at one setting before trying the next: longer than a DSMR 2.2 meter's 10 s between telegrams. */
  autoWindowMs?: number;
}

const AUTO_CANDIDATES = [LINE_115200_8N1, LINE_9600_7E1];

/** The P1 port. A missing or vanished device is a state, not an error: it is retried until the cable is back. */
export class SerialSource implements Source {
  private connection: SerialConnection | undefined;
  private events: SourceEvents | undefined;
  private stopped = false;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private lastOpenError = '';
  private candidate = 0;
  private detected: LineSettings | undefined;
  private autoTimer: ReturnType<typeof setTimeout> | undefined;
  private autoAnnounced = false;
  private everOpened = false;

  constructor(private readonly options: SerialSourceOptions) {}

  get description(): string {
    const line = this.options.line === 'auto' ? 'auto-detected line settings' : describeLine(this.options.line);
    return `serial ${this.options.path} (${line}, ${this.options.backendName})`;
  }

  private get currentLine(): LineSettings {
    if (this.options.line !== 'auto') return this.options.line;
    return this.detected ?? AUTO_CANDIDATES[this.candidate];
  }

  start(events: SourceEvents): void {
    this.events = events;
    void this.open();
  }

  /** A valid telegram arrived: with auto-detection, these settings are the meter's. */
  confirmed(): void {
    if (this.options.line !== 'auto' || this.detected) return;
    this.detected = AUTO_CANDIDATES[this.candidate];
    clearTimeout(this.autoTimer);
    this.options.log.info(`meter found on ${this.options.path} at ${describeLine(this.detected)}`);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    clearTimeout(this.autoTimer);
    const connection = this.connection;
    this.connection = undefined;
    await connection?.close();
  }

  private async open(): Promise<void> {
    if (this.stopped) return;
    const { path, log } = this.options;
    const line = this.currentLine;
    let connection: SerialConnection;
    try {
      connection = await this.options.backend({ path, ...line });
    } catch (err) {
      const reason = errorText(err);
      if (reason !== this.lastOpenError) {
        log.warn(`serial port ${path} cannot be opened (${reason}); retrying every ${(this.reopenMs / 1000).toFixed(0)} s`);
        this.lastOpenError = reason;
      }
      this.schedule(() => this.open(), this.reopenMs);
      return;
    }
    if (this.stopped) return void connection.close();
    this.connection = connection;
    // Reopening to try the next auto-detection setting is routine; the first open and a recovery are news.
    if (!this.everOpened || this.lastOpenError !== '') log.info(`serial port ${path} opened at ${describeLine(line)}`);
    else log.debug(`serial port ${path} reopened at ${describeLine(line)}`);
    this.everOpened = true;
    this.lastOpenError = '';
    connection.onData((chunk) => this.events?.data(chunk));
    connection.onClose((err) => {
      if (this.connection !== connection) return;
      this.connection = undefined;
      clearTimeout(this.autoTimer);
      this.events?.discontinuity();
      if (this.stopped) return;
      log.warn(`serial port ${path} lost (${err ? errorText(err) : 'closed'}); waiting for it to come back`);
      this.lastOpenError = 'lost';
      this.schedule(() => this.open(), this.reopenMs);
    });
    if (this.options.line === 'auto' && !this.detected) this.listenForAutoDetection(connection);
  }

  private listenForAutoDetection(connection: SerialConnection): void {
    const window = this.options.autoWindowMs ?? 12_000;
    this.autoTimer = setTimeout(async () => {
      if (this.connection !== connection || this.detected) return;
      const tried = AUTO_CANDIDATES[this.candidate];
      this.candidate = (this.candidate + 1) % AUTO_CANDIDATES.length;
      // Said once: a meter that is simply not connected yet would otherwise fill the log.
      const message = `no valid telegram at ${describeLine(tried)} within ${window / 1000} s; trying ${describeLine(AUTO_CANDIDATES[this.candidate])}`;
      if (this.autoAnnounced) this.options.log.debug(message);
      else this.options.log.info(message);
      this.autoAnnounced = true;
      this.connection = undefined;
      this.events?.discontinuity();
      await connection.close();
      void this.open();
    }, window);
  }

  private get reopenMs(): number {
    return this.options.reopenMs ?? 3000;
  }

  private schedule(fn: () => void, ms: number): void {
    clearTimeout(this.timer);
    if (!this.stopped) this.timer = setTimeout(fn, ms);
  }
}

function errorText(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  return e?.code ?? e?.message ?? String(err);
}
