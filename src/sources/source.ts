// A source delivers raw bytes from the meter, exactly as they came off the wire.
// It owns reconnecting: a missing cable or an absent bridge is a state, never an exit.
import type { InputState } from '../core/status.ts';

export interface SourceEvents {
  /** Raw bytes from the meter, in order. */
  data(chunk: Buffer): void;
  /** The byte stream was interrupted (port lost, connection dropped): a partial telegram must not be joined to what follows. */
  discontinuity(): void;
  /** The input has no more data (end of a file or stdin); live sources never end. */
  end(): void;
  /** The input cannot be read at all (a capture file that fails mid-read); live sources retry instead. */
  failed?(err: Error): void;
}

/** The input's part of /status (InputStatus in src/core/status.ts); the core adds the telegram counts. */
export interface SourceStatus {
  kind: 'serial' | 'network' | 'file';
  /** Port path, host:port, file path or "stdin". */
  target: string;
  /** Serial only: the line settings in use, e.g. "115200 8N1"; "auto" while still detecting. */
  line?: string;
  /** open: reading; waiting: missing port or bridge, reconnecting; closed: not started, stopped or ended. */
  state: InputState;
  /** Epoch ms of the last state change. */
  since: number;
  /** Times the input went silent past the timeout and was reopened. */
  stalls: number;
}

export interface Source {
  /** Human-readable description for the start-up summary, e.g. "serial /dev/ttyUSB0 115200 8N1". */
  readonly description: string;
  start(events: SourceEvents): void;
  /** Stop reading and release the device or connection. */
  stop(): Promise<void>;
  status(): SourceStatus;
  /** A telegram proved the input's settings (with serial auto-detection: these line settings are the meter's). */
  confirmed?(): void;
}
