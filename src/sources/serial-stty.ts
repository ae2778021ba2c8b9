// Serial backend without native code: stty configures the line, the device file is read directly (tty-reader.ts).
// The serial source picks it automatically under Deno, where serialport's addon delivers no data, and on request on
// Node (a platform without a prebuilt serialport addon). Linux only (`stty -F`).
import { realpath } from '../platform/promised-fs.ts';
import type { SerialBackend } from './serial-backend.ts';
import type { SerialSettings } from './serial-settings.ts';
import { runStty, sttyArguments } from './stty.ts';
import { openTtyReader, ttyConnection } from './tty-reader.ts';

export const sttyBackend: SerialBackend = async (settings: SerialSettings) => {
  const operands = sttyArguments(settings);
  // Open first and configure while our descriptor holds the port: a driver may reset the settings of a port
  // nobody has open, which is what the port would be right after a lone stty process exits.
  const reader = await openTtyReader(settings.path);
  try {
    await runStty(settings.path, operands.line);
    await runStty(settings.path, operands.framing).catch(async (err: unknown) => {
      // A pseudo-terminal (socat, ser2net-style bridges, tests) carries whole bytes with no framing on a wire;
      // Linux may refuse cs7/parenb there, and the framing is irrelevant for it anyway.
      if (!(await isPseudoTerminal(settings.path))) throw err;
    });
  } catch (err) {
    await reader.close();
    throw err;
  }
  return ttyConnection(reader);
};

async function isPseudoTerminal(path: string): Promise<boolean> {
  try {
    return (await realpath(path)).startsWith('/dev/pts/');
  } catch {
    return false;
  }
}
