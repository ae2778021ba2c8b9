// The signals that ask the program to stop. main.ts alone listens for them and hands the first one to the running
// command, which stops in its own way (the datalogger keeps what is queued for the next start).
export const STOP_SIGNALS = ['SIGTERM', 'SIGINT', 'SIGHUP'] as const;
export type StopSignal = (typeof STOP_SIGNALS)[number];

export interface StopSignals {
  /** `handler` runs once, with the signal's name, at the first stop signal (at once if one came already). */
  onStopSignal(handler: (signal: StopSignal) => void): void;
}

/**
 * Listens for the stop signals from now on. A signal that comes before the command registers its handler (while it
 * starts up) is kept for it; later ones are left to the command's own deadline. Without a listener SIGHUP (a closed
 * terminal, an ssh session that ends) would end the process on the spot, losing what is queued in memory.
 */
export function watchStopSignals(): StopSignals {
  let handler: ((signal: StopSignal) => void) | undefined;
  let received: StopSignal | undefined;
  for (const signal of STOP_SIGNALS) {
    process.on(signal, () => {
      if (received !== undefined) return;
      received = signal;
      handler?.(signal);
    });
  }
  return {
    onStopSignal(h) {
      if (handler) throw new Error('onStopSignal: a handler is registered already');
      handler = h;
      if (received !== undefined) h(received);
    },
  };
}

