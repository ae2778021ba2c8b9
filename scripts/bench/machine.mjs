// Where the figures came from: they mean little without the machine, and a busy machine makes them worse.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { availableParallelism, loadavg, release, totalmem } from 'node:os';
import { join } from 'node:path';

export function describeMachine() {
  const cpuinfo = readFileSync('/proc/cpuinfo', 'utf8');
  const osRelease = existsSync('/etc/os-release') ? readFileSync('/etc/os-release', 'utf8') : '';
  return {
    cpus: availableParallelism(),
    cpuModel: /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1]?.trim() ?? /^Model\s*:\s*(.+)$/m.exec(cpuinfo)?.[1]?.trim() ?? 'unknown',
    memoryBytes: totalmem(),
    kernel: release(),
    os: /^PRETTY_NAME="?([^"\n]+)"?$/m.exec(osRelease)?.[1] ?? 'unknown',
    benchNode: process.version,
    loadAverage: loadavg(),
  };
}

/** The first line a command prints for --version (ours) or what the interpreter says; '' when it says nothing. */
export function subjectVersion(command, { isSeed, python }) {
  try {
    if (isSeed) {
      return execFileSync(
        python,
        ['-c', "import sys, serial, requests; print('Python %s, pyserial %s, requests %s' % (sys.version.split()[0], serial.__version__, requests.__version__))"],
        { encoding: 'utf8', timeout: 10_000 },
      ).trim();
    }
    return execFileSync('/bin/sh', ['-c', `exec ${command} --version`], { encoding: 'utf8', timeout: 10_000, stdio: ['ignore', 'pipe', 'ignore'] })
      .split('\n')[0]
      .trim();
  } catch {
    return '';
  }
}

/**
 * The file a command runs, for its size: the last argument that is an existing file (the script after an
 * interpreter, or the executable itself).
 */
export function programFile(command, cwd) {
  const words = command.split(/\s+/).filter(Boolean);
  for (const word of [...words].reverse()) {
    const path = word.startsWith('/') ? word : join(cwd, word);
    try {
      if (statSync(path).isFile()) return path;
    } catch {
      // not a file
    }
  }
  try {
    const found = execFileSync('/bin/sh', ['-c', `command -v ${words[0]}`], { encoding: 'utf8' }).trim();
    return found && statSync(found).isFile() ? found : undefined;
  } catch {
    return undefined;
  }
}

export function fileSize(path) {
  try {
    return statSync(path).size;
  } catch {
    return Number.NaN;
  }
}
