import { access } from '../platform/promised-fs.ts';
import { constants } from 'node:fs';
import type { SerialBackend } from './serial-backend.ts';
import { loadSerialPort } from './serialport-module.ts';
import { openTtyReader, ttyConnection } from './tty-reader.ts';

// serialport's native addon, loaded only when this backend is used: Deno and platforms without a prebuilt addon
// never touch it.
export const nativeBackend: SerialBackend = async (settings) => {
  // A missing device (cable unplugged) or one we may not use is told apart here, with a plain error code. A failed
  // serialport open of a missing device also leaves state behind that, in tests on a pty, broke the next successful open
  // of the same path in the same process: its reads never woke up.
  await access(settings.path, constants.R_OK | constants.W_OK);
  const { SerialPort } = await loadSerialPort();
  const port = new SerialPort({
    path: settings.path,
    baudRate: settings.baudRate,
    dataBits: settings.dataBits,
    parity: settings.parity,
    stopBits: settings.stopBits,
    xon: settings.xonxoff,
    xoff: settings.xonxoff,
    rtscts: settings.rtscts,
    autoOpen: false,
  });
  await new Promise<void>((resolve, reject) => port.open((err) => (err ? reject(err) : resolve())));
  const closePort = () =>
    new Promise<void>((resolve) => {
      if (!port.isOpen) return resolve();
      port.close(() => resolve());
    });
  // serialport sets the line and holds the port (its lock, and its descriptor keeps the settings); the bytes are
  // read through a descriptor of our own that the event loop polls (tty-reader.ts). serialport's own read path does
  // each read on libuv's thread pool, twice per chunk (the second answers EAGAIN), behind a poll: at a telegram a
  // second that was a fifth of the CPU a telegram costs.
  let reader;
  try {
    reader = await openTtyReader(settings.path);
  } catch (err) {
    await closePort();
    throw err;
  }
  const connection = ttyConnection(reader, closePort);
  // serialport reports errors of calls made without a callback; none is. Should one come, the connection ends.
  port.on('error', () => void connection.close());
  return connection;
};
