import type { SerialSettings } from './serial-settings.ts';

// Two ways to drive a serial port: serialport's native addon (Node), or stty plus plain reads (Deno, or a platform
// without a prebuilt addon). The serial source owns reopening and logging; a backend only opens one connection, so a
// test scripts one (test/unit/source-serial.test.ts) to drive the source without a port. chooseSerialBackend()
// (choose-backend.ts) picks the real one.
export interface SerialConnection {
  onData(cb: (chunk: Buffer) => void): void;
  /** The port died (cable pulled, device gone) or was closed. */
  onClose(cb: (err?: Error) => void): void;
  close(): Promise<void>;
}

/** Opens the port with these settings; rejects when it cannot be opened. */
export type SerialBackend = (settings: SerialSettings) => Promise<SerialConnection>;
