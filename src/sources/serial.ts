import { realpathSync } from 'node:fs';
import { type Clock, systemClock, type Timer } from '../core/clock.ts';
import type { Logger } from '../log/logger.ts';
import { backoffDelay, type BackoffPolicy } from '../policy/backoff.ts';
import { type DeviceWatch, type DeviceWatcher, watchDevice } from './device-watch.ts';
import { InputStateTracker } from './input-state.ts';
import { describeHolders, findPortHolders, isPortBusy, type PortHolder, stopAdvice } from './port-holder.ts';
import type { Source, SourceEvents, SourceStatus } from './source.ts';
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
  /** The slow poll for a missing port, behind the watch on its directory. */
  reopenMs?: number;
  /** How long to listen at one setting before trying the next: longer than a DSMR 2.2 meter's 10 s between telegrams. */
  autoWindowMs?: number;
  /** An open port silent this long is closed and reopened (meters send every 1 to 10 s); default 20 s. */
  silenceMs?: number;
  clock?: Clock;
  /** Tells when a missing port may be back; default: inotify on its directories. */
  watch?: DeviceWatch;
  /** Who holds a busy port; default: a scan of /proc. */
  findHolders?: (path: string) => Promise<PortHolder[]>;
}

const AUTO_CANDIDATES = [LINE_115200_8N1, LINE_9600_7E1];
const DEFAULT_SILENCE_MS = 20_000;
/** A port that stays silent after being reopened is reopened ever more rarely, up to every 5 minutes. */
const STALL_CAP_MS = 5 * 60_000;

/**
 * The P1 port. A missing or vanished device is a state, not an error: its directory is watched so it is reopened
 * as soon as it is back, with a slow poll behind that. A port that stays open but goes silent (a hung USB adapter)
 * is reopened by the watchdog.
 */
export class SerialSource implements Source {
  private connection: SerialConnection | undefined;
  private events: SourceEvents | undefined;
  private stopped = false;
  private readonly clock: Clock;
  private readonly state: InputStateTracker;
  private pollTimer: Timer | undefined;
  private opening = false;
  /** The port may have come back while an open was under way: try again when it fails. */
  private retryWhenDone = false;
  private watcher: DeviceWatcher | undefined;
  /** The device the configured path led to when last open (a by-id link's /dev/ttyUSB0), watched for too. */
  private lastDevice: string | undefined;
  private lastOpenError = '';
  private candidate = 0;
  private detected: LineSettings | undefined;
  private autoTimer: Timer | undefined;
  private autoAnnounced = false;
  private everOpened = false;
  private watchdogTimer: Timer | undefined;
  private lastDataAt = 0;
  /** Reopens for silence since data last flowed; 0 when not stalled. */
  private stallReopens = 0;
  private stallStartedAt = 0;
  private stalls = 0;

  constructor(private readonly options: SerialSourceOptions) {
    this.clock = options.clock ?? systemClock;
    this.state = new InputStateTracker(this.clock);
  }

  get description(): string {
    const line = this.options.line === 'auto' ? 'auto-detected line settings' : describeLine(this.options.line);
    return `serial ${this.options.path} (${line}, ${this.options.backendName})`;
  }

  status(): SourceStatus {
    const auto = this.options.line === 'auto' && !this.detected;
    return {
      kind: 'serial',
      target: this.options.path,
      line: auto ? 'auto' : describeLine(this.currentLine),
      state: this.state.state,
      since: this.state.since,
      stalls: this.stalls,
    };
  }

  private get currentLine(): LineSettings {
    if (this.options.line !== 'auto') return this.options.line;
    return this.detected ?? AUTO_CANDIDATES[this.candidate];
  }

  start(events: SourceEvents): void {
    this.events = events;
    this.state.set('waiting');
    void this.open();
  }

  /** A valid telegram arrived: with auto-detection, these settings are the meter's. */
  confirmed(): void {
    if (this.options.line !== 'auto' || this.detected) return;
    this.detected = AUTO_CANDIDATES[this.candidate];
    this.clock.clearTimeout(this.autoTimer);
    this.options.log.info(`meter found on ${this.options.path} at ${describeLine(this.detected)}`);
    if (this.connection) this.armWatchdog(this.connection);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.state.set('closed');
    this.clock.clearTimeout(this.pollTimer);
    this.clock.clearTimeout(this.autoTimer);
    this.clock.clearTimeout(this.watchdogTimer);
    this.stopWatching();
    const connection = this.connection;
    this.connection = undefined;
    await connection?.close();
  }

  private async open(): Promise<void> {
    if (this.stopped || this.connection) return;
    if (this.opening) {
      this.retryWhenDone = true;
      return;
    }
    this.opening = true;
    this.retryWhenDone = false;
    this.clock.clearTimeout(this.pollTimer);
    const { path } = this.options;
    const line = this.currentLine;
    let connection: SerialConnection | undefined;
    let failure: unknown;
    try {
      connection = await this.options.backend({ path, ...line });
    } catch (err) {
      failure = err;
    }
    this.opening = false;
    if (this.stopped) return void connection?.close();
    if (connection) return this.opened(connection, line);
    await this.openFailed(failure);
    if (this.retryWhenDone && !this.stopped && !this.connection) void this.open();
  }

  private async openFailed(err: unknown): Promise<void> {
    const { path, log } = this.options;
    let reason = errorText(err);
    let message = `serial port ${path} cannot be opened (${reason}); waiting for it, reopened as soon as it is back`;
    if (isPortBusy(err)) {
      const holders = await (this.options.findHolders ?? findPortHolders)(path);
      // Said again only when the holder changes: another program that keeps the port is one state.
      reason = `busy ${holders.map((h) => h.pid).join(',')}`;
      message = `serial port ${path} is in use by ${holders.length ? describeHolders(holders) : 'another program'}; only one program can read the meter: ${stopAdvice(holders)}; retrying every ${this.reopenMs / 1000} s`;
    }
    if (reason !== this.lastOpenError) log.warn(message);
    else log.debug(`serial port ${path} still cannot be opened (${errorText(err)}); trying again within ${this.reopenMs / 1000} s`);
    this.lastOpenError = reason;
    if (this.stopped) return;
    this.wait();
  }

  /** Until the port is back: its directories are watched, and polled slowly in case a watch misses it. */
  private wait(): void {
    this.state.set('waiting');
    this.watcher ??= (this.options.watch ?? watchDevice)(
      [this.options.path, ...(this.lastDevice ? [this.lastDevice] : [])],
      () => void this.open(),
    );
    this.clock.clearTimeout(this.pollTimer);
    this.pollTimer = this.clock.setTimeout(() => void this.open(), this.reopenMs);
  }

  private stopWatching(): void {
    this.watcher?.close();
    this.watcher = undefined;
  }

  private opened(connection: SerialConnection, line: LineSettings): void {
    const { path, log } = this.options;
    this.connection = connection;
    this.stopWatching();
    this.clock.clearTimeout(this.pollTimer);
    this.state.set('open');
    this.lastDevice = resolvedDevice(path) ?? this.lastDevice;
    // Reopening to try the next auto-detection setting or after silence is routine; the first open and a recovery are news.
    if (!this.everOpened || this.lastOpenError !== '') log.info(`serial port ${path} opened at ${describeLine(line)}`);
    else log.debug(`serial port ${path} reopened at ${describeLine(line)}`);
    this.everOpened = true;
    this.lastOpenError = '';
    connection.onData((chunk) => {
      if (this.connection !== connection) return;
      this.lastDataAt = this.clock.now();
      if (this.stallReopens > 0) {
        log.info(`serial port ${path} receiving again after ${formatSeconds(this.lastDataAt - this.stallStartedAt)} of silence`);
        this.stallReopens = 0;
        this.armWatchdog(connection);
      }
      this.events?.data(chunk);
    });
    connection.onClose((err) => {
      if (this.connection !== connection) return;
      this.dropConnection();
      if (this.stopped) return;
      log.warn(`serial port ${path} lost (${err ? errorText(err) : 'closed'}); waiting for it to come back`);
      this.lastOpenError = 'lost';
      this.wait();
    });
    if (this.options.line === 'auto' && !this.detected) this.listenForAutoDetection(connection);
    else this.armWatchdog(connection);
  }

  /** Forgets the connection (without closing it) and tells the reader the byte stream broke. */
  private dropConnection(): void {
    this.connection = undefined;
    this.clock.clearTimeout(this.autoTimer);
    this.clock.clearTimeout(this.watchdogTimer);
    this.state.set('waiting');
    this.events?.discontinuity();
  }

  // While auto-detection is still trying settings it reopens the port every window anyway; the watchdog starts
  // once the settings are known.
  private listenForAutoDetection(connection: SerialConnection): void {
    const window = this.options.autoWindowMs ?? 12_000;
    this.autoTimer = this.clock.setTimeout(() => {
      if (this.connection !== connection || this.detected) return;
      const tried = AUTO_CANDIDATES[this.candidate];
      this.candidate = (this.candidate + 1) % AUTO_CANDIDATES.length;
      // Said once: a meter that is simply not connected yet would otherwise fill the log.
      const message = `no valid telegram at ${describeLine(tried)} within ${window / 1000} s; trying ${describeLine(AUTO_CANDIDATES[this.candidate])}`;
      if (this.autoAnnounced) this.options.log.debug(message);
      else this.options.log.info(message);
      this.autoAnnounced = true;
      void this.reopen(connection);
    }, window);
  }

  private armWatchdog(connection: SerialConnection): void {
    const limit = this.silenceLimit();
    const armedAt = this.clock.now();
    const check = () => {
      if (this.connection !== connection) return;
      const silent = this.clock.now() - Math.max(this.lastDataAt, armedAt);
      // Data resets no timer (that would be a timer per chunk); the check simply comes back when it is due.
      if (silent < limit) {
        this.watchdogTimer = this.clock.setTimeout(check, limit - silent);
        return;
      }
      this.stalled(connection, silent);
    };
    this.clock.clearTimeout(this.watchdogTimer);
    this.watchdogTimer = this.clock.setTimeout(check, limit);
  }

  private stalled(connection: SerialConnection, silentMs: number): void {
    const { path, log } = this.options;
    if (this.stallReopens === 0) {
      this.stalls++;
      this.stallStartedAt = this.clock.now() - silentMs;
      log.warn(`serial port ${path} silent for ${formatSeconds(silentMs)}; reopening it (and again, ever more rarely, while it stays silent)`);
    } else {
      log.debug(`serial port ${path} still silent after ${formatSeconds(this.clock.now() - this.stallStartedAt)}; reopening it`);
    }
    this.stallReopens++;
    void this.reopen(connection);
  }

  private async reopen(connection: SerialConnection): Promise<void> {
    this.dropConnection();
    await connection.close().catch(() => undefined);
    void this.open();
  }

  /** The silence tolerated before the next reopen: the timeout, then doubling while the port stays silent. */
  private silenceLimit(): number {
    if (this.stallReopens === 0) return this.silenceMs;
    const policy: BackoffPolicy = { baseMs: this.silenceMs, capMs: Math.max(this.silenceMs, STALL_CAP_MS), jitter: false };
    return backoffDelay(policy, this.stallReopens);
  }

  private get silenceMs(): number {
    return this.options.silenceMs ?? DEFAULT_SILENCE_MS;
  }

  private get reopenMs(): number {
    return this.options.reopenMs ?? 3000;
  }
}

function resolvedDevice(path: string): string | undefined {
  try {
    return realpathSync(path);
  } catch {
    return undefined;
  }
}

function formatSeconds(ms: number): string {
  return `${Math.round(ms / 100) / 10} s`;
}

function errorText(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  return e?.code ?? e?.message ?? String(err);
}
