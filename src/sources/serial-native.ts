import { access } from '../platform/promised-fs.ts';
import { constants } from 'node:fs';
import type { SerialBackend } from './serial-backend.ts';

// serialport's native addon, loaded only when this backend is used: Deno and platforms without a prebuilt addon
// never touch it.
export const nativeBackend: SerialBackend = async (settings) => {
  // A missing device (cable unplugged) or one we may not use is told apart here, with a plain error code. A failed
  // serialport open of a missing device also leaves state behind that, in tests on a pty, broke the next successful open
  // of the same path in the same process: its reads never woke up.
  await access(settings.path, constants.R_OK | constants.W_OK);
  const { SerialPort } = await import('serialport');
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
  // The port can die between open and the caller's onClose (a pty whose other side is already gone): keep that news.
  let closed: { err?: Error } | undefined;
  const closeListeners: ((err?: Error) => void)[] = [];
  const fireClose = (err?: Error) => {
    if (closed) return;
    closed = { err };
    for (const cb of closeListeners) cb(err);
  };
  port.on('close', (err?: Error) => fireClose(err ?? undefined));
  port.on('error', (err: Error) => {
    fireClose(err);
    if (port.isOpen) port.close(() => undefined);
  });
  return {
    onData: (cb) => port.on('data', cb),
    onClose: (cb) => {
      if (closed) queueMicrotask(() => cb(closed!.err));
      else closeListeners.push(cb);
    },
    close: () =>
      new Promise<void>((resolve) => {
        if (!port.isOpen) return resolve();
        port.close(() => resolve());
      }),
  };
};
