// Runs the real datalogger (bundle, single executable, or anything else) as a child process and follows its log.
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { repoRoot } from './fixtures.ts';

export interface ExitResult {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface StartOptions {
  args?: string[];
  env?: Record<string, string>;
  /** Program and leading arguments; default: this node running dist/dsmr-datalogger.cjs. */
  command?: string[];
  cwd?: string;
}

export interface Datalogger {
  proc: ChildProcess;
  /** stdout and stderr lines, without line ends, in the order they arrived. */
  lines: string[];
  /** Resolves with the first line (seen before or later, from index `fromLine` on) that matches. */
  waitForLine(re: RegExp, timeoutMs?: number, fromLine?: number): Promise<string>;
  waitForExit(timeoutMs?: number): Promise<ExitResult>;
  /** Sends `signal` and waits for the exit; SIGKILLs and throws when it takes longer than timeoutMs. */
  stop(signal?: NodeJS.Signals, timeoutMs?: number): Promise<ExitResult>;
}

export const defaultCommand = (): string[] => [process.execPath, join(repoRoot, 'dist/dsmr-datalogger.cjs')];

/** Runs a linux-arm64 executable on this machine through qemu user emulation. */
export function arm64Command(binary: string): string[] {
  return ['qemu-aarch64-static', '-L', '/usr/aarch64-linux-gnu', binary];
}

const running = new Set<ChildProcess>();

process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

/** The parent's environment without any datalogger setting, so the developer's shell cannot leak into a test. */
export function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (name.startsWith('DSMRREADER_') || name.startsWith('DSMR_DATALOGGER_')) continue;
    env[name] = value;
  }
  return { ...env, ...extra };
}

export function startDatalogger(opts: StartOptions = {}): Datalogger {
  const [program, ...leading] = opts.command ?? defaultCommand();
  if (!program) throw new Error('startDatalogger: empty command');
  const proc = spawn(program, [...leading, ...(opts.args ?? [])], {
    cwd: opts.cwd ?? repoRoot,
    env: cleanEnv(opts.env),
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  running.add(proc);

  const lines: string[] = [];
  const listeners = new Set<() => void>();
  const notify = () => {
    for (const listener of [...listeners]) listener();
  };

  let exit: ExitResult | undefined;
  let spawnError: Error | undefined;
  proc.once('error', (error) => {
    spawnError = error;
    running.delete(proc);
    notify();
  });
  // 'close' rather than 'exit': by then both pipes are drained, so `lines` is complete.
  proc.once('close', (code, signal) => {
    exit = { code, signal };
    running.delete(proc);
    notify();
  });

  for (const stream of [proc.stdout, proc.stderr]) {
    let partial = '';
    stream.setEncoding('utf8');
    stream.on('data', (text: string) => {
      const parts = (partial + text).split('\n');
      partial = parts.pop() ?? '';
      for (const line of parts) lines.push(line.replace(/\r$/, ''));
      if (parts.length > 0) notify();
    });
    stream.once('end', () => {
      if (partial) lines.push(partial);
      partial = '';
      notify();
    });
  }
  // A datalogger that exits early closes stdin; writing to it then must not crash the test process.
  proc.stdin.on('error', () => {});

  const describeEnd = () => {
    const tail = lines.slice(-20).join('\n');
    const how = spawnError
      ? `could not start ${program}: ${spawnError.message}`
      : exit
        ? `exited with code ${exit.code} signal ${exit.signal}`
        : 'still running';
    return `${how}; last output:\n${tail}`;
  };

  /** Resolves when `check` returns a value; rejects when the process ends first or time runs out. */
  const until = <T>(check: () => T | undefined, timeoutMs: number, what: string, endIsFailure: boolean) =>
    new Promise<T>((resolve, reject) => {
      const settle = () => {
        const value = check();
        if (value !== undefined) return done(() => resolve(value));
        if (spawnError || (endIsFailure && exit)) return done(() => reject(new Error(`${what}: ${describeEnd()}`)));
      };
      const timer = setTimeout(
        () => done(() => reject(new Error(`timed out after ${timeoutMs}ms waiting for ${what}; ${describeEnd()}`))),
        timeoutMs,
      );
      const done = (finish: () => void) => {
        clearTimeout(timer);
        listeners.delete(settle);
        finish();
      };
      listeners.add(settle);
      settle();
    });

  const waitForLine = (re: RegExp, timeoutMs = 15_000, fromLine = 0) =>
    until(
      // search() ignores lastIndex, so a /g regex behaves the same on every call.
      () => lines.slice(fromLine).find((line) => line.search(re) !== -1),
      timeoutMs,
      `a log line matching ${re}`,
      true,
    );

  const waitForExit = (timeoutMs = 15_000) => until(() => exit, timeoutMs, 'the datalogger to exit', false);

  const stop = async (signal: NodeJS.Signals = 'SIGTERM', timeoutMs = 12_000): Promise<ExitResult> => {
    if (exit) return exit;
    if (spawnError) throw new Error(describeEnd());
    proc.kill(signal);
    try {
      return await waitForExit(timeoutMs);
    } catch (error) {
      proc.kill('SIGKILL');
      await waitForExit(5_000).catch(() => {});
      throw new Error(`datalogger did not exit within ${timeoutMs}ms of ${signal}: ${(error as Error).message}`);
    }
  };

  return { proc, lines, waitForLine, waitForExit, stop };
}
