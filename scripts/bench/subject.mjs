// One run of a datalogger under test: started through `sh -c "exec COMMAND"` (so the PID we watch is the program
// itself, and the command may carry quoting), configured only by the environment given, with its output followed.
import { spawn } from 'node:child_process';
import { appendFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { hasOpen, processTree } from './procfs.mjs';

const KEPT_LINES = 200;

// Each subject leads its own process group, so a wrapper's children get the signals too; whatever is still
// running when the bench ends (an error, Ctrl-C) is killed with it.
const running = new Set();
process.once('exit', () => {
  for (const pid of running) signalGroup(pid, 'SIGKILL');
});

function signalGroup(pid, signal) {
  try {
    process.kill(-pid, signal);
  } catch {
    // already gone
  }
}

/** What supervisor or systemd would pass on besides the settings; nothing else from the bench's shell. */
const PASSED_ON = ['PATH', 'HOME', 'USER', 'LANG', 'LC_ALL', 'TZ', 'TMPDIR'];

/**
 * The subject's environment: the few variables above plus its settings. Leaving out the rest keeps the developer's
 * shell out of the figures: NODE_OPTIONS or NODE_EXTRA_CA_CERTS change what Node loads, a proxy variable would send
 * requests' (the seed's) traffic to 127.0.0.1 through a proxy.
 */
export function subjectEnvironment(settings) {
  const env = {};
  for (const name of PASSED_ON) if (process.env[name] !== undefined) env[name] = process.env[name];
  return { ...env, ...settings };
}

/**
 * Starts `command` with `env` as its settings. Its output is kept (the last lines) for error messages and, when
 * `logFile` is given, written there in full (look at it with --keep-work-dir).
 */
export function startSubject(command, env, { cwd, logFile } = {}) {
  const spawnedAt = performance.now();
  const child = spawn('/bin/sh', ['-c', `exec ${command}`], {
    env: subjectEnvironment(env),
    cwd,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  running.add(child.pid);
  const lines = [];
  const listeners = new Set();
  let exit;
  let spawnError;
  child.once('error', (err) => (spawnError = err));
  child.once('close', (code, signal) => {
    running.delete(child.pid);
    exit = { code, signal, at: performance.now() };
    for (const listener of [...listeners]) listener();
  });
  for (const stream of [child.stdout, child.stderr]) {
    let partial = '';
    stream.setEncoding('utf8');
    stream.on('data', (text) => {
      if (logFile) appendFileSync(logFile, text);
      const parts = (partial + text).split('\n');
      partial = parts.pop() ?? '';
      lines.push(...parts);
      // Keep a tail for error messages; the seed prints three lines per telegram.
      if (lines.length > KEPT_LINES * 2) lines.splice(0, lines.length - KEPT_LINES);
      if (parts.length) for (const listener of [...listeners]) listener();
    });
  }

  const describe = () => {
    const how = spawnError ? `could not start: ${spawnError.message}` : exit ? `exited (${exit.code ?? exit.signal})` : 'still running';
    return `${command} ${how}; last output:\n  ${lines.slice(-15).join('\n  ')}`;
  };

  return {
    pid: child.pid,
    spawnedAt,
    get exited() {
      return exit;
    },
    lines,
    describe,

    /**
     * Milliseconds from spawn until the program has `devicePts` open, watched in /proc/PID/fd about every
     * millisecond (its descendants every 20 ms, for subjects started through a wrapper).
     */
    async waitUntilOpen(devicePts, timeoutMs = 15_000) {
      for (let i = 0; ; i++) {
        if (hasOpen(child.pid, devicePts)) return performance.now() - spawnedAt;
        if (i % 20 === 19 && processTree(child.pid).slice(1).some((pid) => hasOpen(pid, devicePts))) return performance.now() - spawnedAt;
        if (exit || spawnError) throw new Error(`it never opened the serial port: ${describe()}`);
        if (performance.now() - spawnedAt > timeoutMs) throw new Error(`it did not open ${devicePts} within ${timeoutMs} ms: ${describe()}`);
        await sleep(1);
      }
    },

    /** Resolves with the first output line matching `re`; rejects when the program ends first or time runs out. */
    waitForLine(re, timeoutMs) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const line = lines.find((l) => re.test(l));
          if (line !== undefined) return done(() => resolve(line));
          if (exit || spawnError) return done(() => reject(new Error(`no line matching ${re}: ${describe()}`)));
        };
        const timer = setTimeout(() => done(() => reject(new Error(`no line matching ${re} within ${timeoutMs} ms: ${describe()}`))), timeoutMs);
        const done = (finish) => {
          clearTimeout(timer);
          listeners.delete(check);
          finish();
        };
        listeners.add(check);
        check();
      });
    },

    /** SIGTERM, then the milliseconds until it exited; SIGKILL after timeoutMs. */
    async stop(timeoutMs = 12_000) {
      if (exit) return { ms: 0, ...exit };
      const sentAt = performance.now();
      const exited = new Promise((resolve) => {
        if (exit) resolve();
        else listeners.add(() => exit && resolve());
      });
      signalGroup(child.pid, 'SIGTERM');
      await Promise.race([exited, sleep(timeoutMs)]);
      if (!exit) {
        signalGroup(child.pid, 'SIGKILL');
        await exited;
        return { ms: Number.NaN, killed: true, ...exit };
      }
      return { ms: exit.at - sentAt, ...exit };
    },
  };
}
