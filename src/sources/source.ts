// A source delivers raw bytes from the meter, exactly as they came off the wire.
// It owns reconnecting: a missing cable or an absent bridge is a state, never an exit.
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

export interface Source {
  /** Human-readable description for the start-up summary, e.g. "serial /dev/ttyUSB0 115200 8N1". */
  readonly description: string;
  start(events: SourceEvents): void;
  /** Stop reading and release the device or connection. */
  stop(): Promise<void>;
  /** A telegram proved the input's settings: serial auto-detection keeps the line settings it is trying. */
  confirmed?(): void;
  status?(): SourceStatus;
}

export interface SourceStatus {
  kind: 'serial' | 'network' | 'file';
  target: string;
  /** Line settings in use (serial). */
  line?: string;
  state: 'open' | 'waiting' | 'closed';
  since: number;
  /** Times the input went silent past the timeout and was reopened. */
  stalls: number;
}
