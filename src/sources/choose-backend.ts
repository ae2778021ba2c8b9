// The one place that decides how the serial port is driven, for the datalogger and for `detect` alike.
import type { SerialBackendChoice } from '../config/config.ts';
import type { SerialBackend } from './serial-backend.ts';
import { loadSerialPort } from './serialport-module.ts';
import { runningUnderDeno } from '../platform/runtime.ts';

export interface ChosenBackend {
  backend: SerialBackend;
  /** As shown in the start-up line: "serialport" or "stty". */
  name: 'serialport' | 'stty';
  /** Why auto did not take serialport although this is Node: a line to log or report. */
  fallback?: string;
}

/**
 * auto: serialport's addon on Node, stty under Deno (the addon delivers no data there) and on a platform where the
 * addon does not load (an unusual ARM board, a musl system): stty is there, and an open that can never work is not.
 * `prepareNative` runs before the addon is first loaded (the single executables extract it then).
 */
export async function chooseSerialBackend(choice: SerialBackendChoice, prepareNative: () => void = () => undefined): Promise<ChosenBackend> {
  if (choice === 'stty' || (choice === 'auto' && runningUnderDeno())) return sttyChoice();
  prepareNative();
  let fallback: string | undefined;
  if (choice === 'auto') {
    try {
      await loadSerialPort();
    } catch (err) {
      fallback = `serialport's native addon does not load here (${(err as Error).message.split('\n')[0]}); reading the serial port through stty instead`;
    }
  }
  if (fallback) return { ...(await sttyChoice()), fallback };
  const { nativeBackend } = await import('./serial-native.ts');
  return { backend: nativeBackend, name: 'serialport' };
}

async function sttyChoice(): Promise<ChosenBackend> {
  const { sttyBackend } = await import('./serial-stty.ts');
  return { backend: sttyBackend, name: 'stty' };
}
