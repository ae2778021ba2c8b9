// Types for pty.mjs, so the TypeScript tests type-check under strict.

export interface PtyOptions {
  /** How long a write waits before trying again when the pty is full (default 5 ms; the bench takes 1). */
  retryMs?: number;
}

export interface Pty {
  /** The path the datalogger opens, as if it were /dev/ttyUSB0. */
  devicePath: string;
  /** The path the test writes to, as if it were the meter. */
  meterPath: string;
  /** The /dev/pts/N behind devicePath now: what /proc/PID/fd shows once a program has the port open. */
  readonly devicePts: string;
  /** socat's process id, while it runs. */
  readonly socatPid: number | undefined;
  /**
   * Writes to the meter side; resolves once every byte is accepted by the pty, with performance.now() taken right
   * then. Fails after opts.timeoutMs (default 30 s) when the pty stays full.
   */
  write(bytes: Buffer | string, opts?: { timeoutMs?: number }): Promise<number>;
  /** Kills socat: both links disappear and the datalogger's port dies. */
  vanish(): Promise<void>;
  /** Starts socat again with the same link paths. */
  restore(): Promise<void>;
  close(): Promise<void>;
  /** socat's -d -d output so far, for failure messages. */
  log(): string;
}

export function openPty(dir: string, opts?: PtyOptions): Promise<Pty>;
