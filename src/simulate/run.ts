// `dsmr-datalogger simulate`: runs the simulated meter and sends its telegrams to stdout, a file or device, TCP
// clients or a pty. Logs go to stderr because stdout may be the telegram stream. Returns the exit status:
// 0 done or stopped by SIGINT/SIGTERM, 1 the output failed, 2 bad options.
import { createWriteStream, existsSync } from 'node:fs';
import { dirname, resolve as resolvePath } from 'node:path';
import type { Writable } from 'node:stream';
import { setImmediate as nextTurn, setTimeout as delay } from 'node:timers/promises';
import { createLogger, writeQuietly, type Logger } from '../log/logger.ts';
import { SimulatedMeter } from './meter.ts';
import { ConfigError } from '../config/config-error.ts';
import { parseSimulateOptions, SIMULATE_USAGE, type SimulateOptions } from './options.ts';
import { StreamOutput, type OutputFailure, type TelegramOutput } from './output.ts';
import { PtyOutput } from './pty-output.ts';
import { TcpOutput } from './tcp-output.ts';

export interface SimulateIo {
  /** Where telegrams go without --tcp-port, --pty or --output; default process.stdout. */
  stdout?: Writable;
  /** Receives log lines; default process.stderr. */
  stderr?: (line: string) => void;
  /** Stops the simulator as SIGTERM would (for running it in-process). */
  signal?: AbortSignal;
  /** Listen for SIGINT/SIGTERM; default true. */
  handleSignals?: boolean;
}

// In --fast mode writes often complete at once; give signals and sockets a turn now and then.
const YIELD_EVERY_MS = 20;

function createOutput(options: SimulateOptions, io: SimulateIo, log: Logger, onFailure: OutputFailure): TelegramOutput {
  const target = options.target;
  switch (target.kind) {
    case 'stdout':
      return new StreamOutput('stdout', io.stdout ?? process.stdout, false, onFailure);
    case 'file': {
      // Writing to a device that is not there would quietly create a regular file in /dev.
      if (resolvePath(dirname(resolvePath(target.path))) === '/dev' && !existsSync(target.path)) {
        throw new ConfigError(`--output ${target.path} does not exist`);
      }
      return new StreamOutput(`output ${target.path}`, createWriteStream(target.path, { flags: 'w' }), true, onFailure);
    }
    case 'tcp':
      return new TcpOutput(target.host, target.port, options.fast, log);
    case 'pty':
      return new PtyOutput(target.path, options.fast, log, onFailure, target.group);
  }
}

export async function runSimulate(argv: string[], io: SimulateIo = {}): Promise<number> {
  const writeErr = io.stderr ?? ((line: string) => void writeQuietly(process.stderr, line));
  let options: SimulateOptions;
  try {
    options = parseSimulateOptions(argv);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    writeErr(`dsmr-datalogger simulate: ${error.message}\n`);
    return 2;
  }
  if (options.help) {
    (io.stdout ?? process.stdout).write(SIMULATE_USAGE);
    return 0;
  }

  const log = createLogger('info', writeErr);
  const meter = new SimulatedMeter({
    seed: options.seed,
    start: options.start,
    intervalSeconds: options.intervalSeconds,
    solarPeakKw: options.solarPeakKw,
  });

  // Everything that ends the run aborts `stopping`; the first reason wins.
  const stopping = new AbortController();
  let exitCode = 0;
  const stop = (code: number, message?: string) => {
    if (stopping.signal.aborted) return;
    if (message) (code === 0 ? log.info : log.error)(message);
    exitCode = code;
    stopping.abort();
  };
  const onSignal = (signal: NodeJS.Signals) => stop(0, `${signal} received, stopping`);
  const handleSignals = io.handleSignals ?? true;
  if (handleSignals) {
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  }
  // main.ts owns the signals and aborts with the signal's name as the reason.
  const onAbort = () => stop(0, typeof io.signal?.reason === 'string' ? `${io.signal.reason} received, stopping` : 'stop requested');
  io.signal?.addEventListener('abort', onAbort);
  if (io.signal?.aborted) onAbort();
  const stopped = new Promise<void>((resolve) => stopping.signal.addEventListener('abort', () => resolve()));

  let output: TelegramOutput | undefined;
  let written = 0;
  try {
    output = createOutput(options, io, log, (error) =>
      error ? stop(1, `output failed: ${error.message}`) : stop(0, 'the reader closed the output, stopping'),
    );
    await Promise.race([output.open(), stopped]);
    if (stopping.signal.aborted) return exitCode;

    log.info(
      `simulated DSMR 5 meter (seed ${meter.seed}): ${options.fast ? 'as fast as possible' : `one telegram every ${options.intervalSeconds} s`}` +
        `${options.count === undefined ? '' : `, ${options.count} in all`}, to ${output.description}`,
    );
    if (options.fast && output instanceof TcpOutput) {
      log.info('waiting for a client before starting (--fast)');
      await Promise.race([output.waitForClient(), stopped]);
    }

    let paceFrom = performance.now();
    let lastYield = paceFrom;
    while (!stopping.signal.aborted && (options.count === undefined || written < options.count)) {
      if (!options.fast) {
        const now = performance.now();
        const due = paceFrom + written * meter.intervalMs;
        // Behind by more than an interval (a suspended laptop, a stalled reader): carry on at the normal pace, no burst.
        if (now - due > meter.intervalMs) paceFrom = now - written * meter.intervalMs;
        else if (due > now) await delay(due - now, undefined, { signal: stopping.signal }).catch(() => {});
        if (stopping.signal.aborted) break;
      } else if (performance.now() - lastYield > YIELD_EVERY_MS) {
        await nextTurn();
        lastYield = performance.now();
        if (stopping.signal.aborted) break;
      }
      await Promise.race([output.write(meter.next()), stopped]);
      written++;
    }
    if (!stopping.signal.aborted) log.info(`sent ${written} telegrams, done`);
    else log.info(`stopped after ${written} telegrams`);
    return exitCode;
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    writeErr(`dsmr-datalogger simulate: ${message}\n`);
    return error instanceof ConfigError ? 2 : 1;
  } finally {
    await output?.close().catch((error: Error) => log.error(`closing the output failed: ${error.message}`));
    if (handleSignals) {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
    io.signal?.removeEventListener('abort', onAbort);
  }
}
