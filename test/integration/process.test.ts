// The process itself: nothing lost to a signal, a pipe or a setting. Each test runs the built program
// (dist/dsmr-datalogger.cjs under this Node, and for the settings file also the x64 single executable).
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, readFileSync, rmdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cleanEnv, defaultCommand, type Datalogger } from '../helpers/datalogger.ts';
import { repoRoot } from '../helpers/fixtures.ts';
import { expectDelivered, KEY, makeTelegrams, RETRY_DEADLINE_MS, Scene, waitForDelivery, waitForReads } from './faults-kit.ts';

const BUNDLE = join(repoRoot, 'dist/dsmr-datalogger.cjs');
const X64 = join(repoRoot, 'dist/dsmr-datalogger-linux-x64');
const NOBODY = 65534;

let scene: Scene;

beforeEach(() => {
  scene = new Scene();
});

afterEach(async () => {
  await scene.close();
});

interface Result {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs the program to its end with a clean environment plus `env`. */
function runToEnd(command: string[], args: string[], opts: { env?: Record<string, string>; uid?: number; cwd?: string } = {}): Result {
  const [program, ...leading] = command;
  const result = spawnSync(program, [...leading, ...args], {
    cwd: opts.cwd ?? scene.dir,
    env: cleanEnv(opts.env),
    encoding: 'utf8',
    timeout: 30_000,
    input: '',
    ...(opts.uid === undefined ? {} : { uid: opts.uid, gid: opts.uid }),
  });
  return { code: result.status, signal: result.signal, stdout: result.stdout, stderr: result.stderr };
}

const SERVER_ENV = { DSMRREADER_REMOTE_DATALOGGER_API_HOSTS: 'http://127.0.0.1:9', DSMRREADER_REMOTE_DATALOGGER_API_KEYS: KEY };

function expectConfigError(result: Result, pattern: RegExp): void {
  expect(result.stderr.trim().split('\n'), result.stderr).toEqual([expect.stringMatching(/^dsmr-datalogger: configuration error: /)]);
  expect(result.stderr).toMatch(pattern);
  expect(result.code, result.stderr).toBe(2);
}

describe('a pipe that goes away', () => {
  it('stdout closed by its reader (| head -1): delivery goes on, every telegram arrives, exit 0 at the end of input', async () => {
    const api = await scene.server();
    const sent = makeTelegrams(40, 31);
    const dl = scene.startOnStdin(api);
    await dl.waitForLine(/starting: input stdin/);
    // The reader takes the first line and leaves, as `head -1` does; debug logging writes a line per telegram.
    dl.proc.stdout!.destroy();
    for (const telegram of sent) dl.proc.stdin!.write(telegram);
    await waitForDelivery(api, sent.length, 20_000);
    dl.proc.stdin!.end();
    const exit = await dl.waitForExit(15_000);
    expect(exit).toEqual({ code: 0, signal: null });
    expect(dl.lines.filter((l) => /EPIPE|Unhandled/.test(l))).toEqual([]);
    expectDelivered(api.stored, sent, 0);
  });

  it('inspect FILE | head -1 ends quietly with status 0', async () => {
    const capture = join(scene.dir, 'capture.txt');
    writeFileSync(capture, Buffer.concat(makeTelegrams(300, 4)));
    const [program, ...leading] = defaultCommand();
    const child = spawn(program, [...leading, 'inspect', capture], { env: cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.stdout.once('data', () => child.stdout.destroy());
    const code = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
    expect(stderr).toBe('');
    expect(code).toBe(0);
  });
});

describe('signals', () => {
  it('SIGHUP while the server is down: a clean stop that keeps all 30 telegrams; the next run delivers each exactly once', async () => {
    const api = await scene.server({ up: false });
    const sent = makeTelegrams(30, 12);
    let dl: Datalogger = scene.startOnStdin(api);
    await dl.waitForLine(/starting: input stdin/);
    for (const telegram of sent) dl.proc.stdin!.write(telegram);
    await waitForReads(dl, sent.length);
    const exit = await dl.stop('SIGHUP');
    expect(exit).toEqual({ code: 0, signal: null });
    await dl.waitForLine(/SIGHUP received: stopping/);
    await dl.waitForLine(/stopped; 30 telegram\(s\) kept for the next start/);

    await api.up();
    dl = scene.startOnStdin(api);
    await dl.waitForLine(/30 telegram\(s\) from an earlier run go out first/);
    await waitForDelivery(api, sent.length, RETRY_DEADLINE_MS);
    dl.proc.stdin!.end();
    expect(await dl.waitForExit(15_000)).toEqual({ code: 0, signal: null });
    expectDelivered(api.stored, sent, 0);
  });

});

describe('one datalogger per data directory', () => {
  it('a second instance names the one holding the directory and exits 2; after kill -9 of the first, the lock is taken over', async () => {
    const api = await scene.server({ up: false });
    const first = scene.startOnStdin(api);
    await first.waitForLine(/starting: input stdin/);

    const second = scene.startOnStdin(api);
    expect(await second.waitForExit(15_000)).toEqual({ code: 2, signal: null });
    expect(second.lines.filter((l) => l !== '')).toEqual([expect.stringContaining(`which another dsmr-datalogger uses: PID ${first.proc.pid} (`)]);

    expect((await first.stop('SIGKILL')).signal).toBe('SIGKILL');
    const third = scene.startOnStdin(api);
    await third.waitForLine(/starting: input stdin/);
    third.proc.stdin!.end();
    expect(await third.waitForExit(15_000)).toEqual({ code: 0, signal: null });
    expect(existsSync(join(scene.dataDir, 'dsmr-datalogger.lock')), 'the lock is removed at exit').toBe(false);
  });

  it('a lock left by a process whose PID now belongs to another process is taken over (PID reuse)', async () => {
    const api = await scene.server();
    mkdirSync(scene.dataDir, { recursive: true });
    // This test runner is alive, but it is not the process that wrote the lock: its start time differs.
    const stale = { pid: process.pid, boot: readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim(), start: '1', since: '2020-01-01T00:00:00.000Z' };
    writeFileSync(join(scene.dataDir, 'dsmr-datalogger.lock'), JSON.stringify(stale));
    const dl = scene.startOnStdin(api);
    await dl.waitForLine(/starting: input stdin/);
    dl.proc.stdin!.end();
    expect(await dl.waitForExit(15_000)).toEqual({ code: 0, signal: null });
  });
});

describe('settings that pass a glance but cannot work: exit 2 at start, one line', () => {
  const run = (env: Record<string, string>, args: string[] = []) =>
    runToEnd(defaultCommand(), args, { env: { ...SERVER_ENV, DSMR_DATALOGGER_DATA_DIR: scene.dataDir, DSMRREADER_REMOTE_DATALOGGER_INPUT_METHOD: 'file', DSMR_DATALOGGER_INPUT_FILE: '-', ...env } });

  it('a stats interval beyond what a timer holds', () => {
    expectConfigError(run({ DSMR_DATALOGGER_STATS_INTERVAL: '2200000' }), /DSMR_DATALOGGER_STATS_INTERVAL is "2200000": expected a number of seconds from 1 to 604800/);
  });

  it('an input file that is a directory', () => {
    expectConfigError(run({ DSMR_DATALOGGER_INPUT_FILE: scene.dir }), /DSMR_DATALOGGER_INPUT_FILE is ".*": expected a readable capture file, or - for stdin \(it is a directory\)/);
  });

  it('a blank data directory, and no folder of spaces made', () => {
    expectConfigError(run({}, ['--data-dir', '   ']), /--data-dir is " {3}": expected a directory path/);
    expect(existsSync(join(scene.dir, '   '))).toBe(false);
  });

  it('a relative data directory is resolved against the working directory, as the start line says', async () => {
    const api = await scene.server();
    const result = runToEnd(defaultCommand(), ['--data-dir', 'rel/data'], { env: { ...SERVER_ENV, DSMRREADER_REMOTE_DATALOGGER_API_HOSTS: api.url, DSMRREADER_REMOTE_DATALOGGER_INPUT_METHOD: 'file', DSMR_DATALOGGER_INPUT_FILE: '-' } });
    expect(result.code, result.stdout + result.stderr).toBe(0);
    expect(result.stdout).toContain(`data in ${join(scene.dir, 'rel/data')} (rel/data resolved against the working directory)`);
    expect(statSync(join(scene.dir, 'rel/data/spool')).isDirectory()).toBe(true);
  });

  it('a host with a user and password: refused, the password not shown', () => {
    const result = run({ DSMRREADER_REMOTE_DATALOGGER_API_HOSTS: 'http://admin:Sup3rSecret@127.0.0.1:9' });
    expectConfigError(result, /"http:\/\/admin:\(hidden\)@127\.0\.0\.1:9": expected an http:\/\/ or https:\/\/ address without query, fragment or credentials/);
    expect(result.stderr + result.stdout).not.toContain('Sup3rSecret');
  });

  it('a read-only file system is reported as EROFS, for a data directory to create and for one that exists', () => {
    const mountPoint = join(scene.dir, 'ro');
    mkdirSync(mountPoint);
    mkdirSync(join(scene.dir, 'seed'));
    const mount = spawnSync('mount', ['-t', 'tmpfs', '-o', 'ro', 'tmpfs', mountPoint], { encoding: 'utf8' });
    expect(mount.status, `mount a read-only tmpfs (needs root): ${mount.stderr}`).toBe(0);
    scene.onCleanup(() => {
      spawnSync('umount', [mountPoint]);
      rmdirSync(mountPoint);
    });
    expectConfigError(run({ DSMR_DATALOGGER_DATA_DIR: join(mountPoint, 'a/b') }), /which cannot be created \(EROFS: a read-only file system\)/);
    // The mount point itself exists: the lock file is what cannot be written.
    expectConfigError(run({ DSMR_DATALOGGER_DATA_DIR: mountPoint }), /which cannot be written \(EROFS: a read-only file system\)/);
  });
});

describe('the settings file reaches our code, on Node 20 and in the x64 single executable', () => {
  const programs: [string, string[]][] = [
    ['the bundle', [process.execPath, BUNDLE]],
    ['the x64 executable', [X64]],
  ];

  function settingsFile(content: string, mode: number): string {
    const dir = join(scene.dir, 'etc');
    mkdirSync(dir, { recursive: true });
    chmodSync(scene.dir, 0o755);
    const file = join(dir, 'datalogger.env');
    writeFileSync(file, content);
    chownSync(file, 0, 0);
    chmodSync(file, mode);
    return file;
  }

  for (const [name, command] of programs) {
    it(`${name}: --settings with a missing file: our line, exit 2`, () => {
      expectConfigError(runToEnd(command, ['--settings', join(scene.dir, 'missing.env')]), /--settings \S+missing\.env cannot be read: no such file \(ENOENT\)$/m);
    });

    it(`${name}: --settings the user may not read: permission denied, with what to do`, () => {
      const file = settingsFile('DSMRREADER_REMOTE_DATALOGGER_API_KEYS=k\n', 0o640);
      const result = runToEnd(command, ['check', '--settings', file], { uid: NOBODY });
      expectConfigError(result, /cannot be read: permission denied \(EACCES; it is root:root, mode 0640\): run it with sudo, or as a member of group root/);
    });

    it(`${name}: --settings FILE is read, and a bad line in it is named`, () => {
      const file = settingsFile('DSMRREADER_REMOTE_DATALOGGER_API_HOSTS=http://127.0.0.1:9\nDSMRREADER_REMOTE_DATALOGGER_SLEEP=soon\nDSMRREADER_REMOTE_DATALOGGER_API_KEYS=k\n', 0o644);
      expectConfigError(runToEnd(command, ['check', '--settings', file]), /DSMRREADER_REMOTE_DATALOGGER_SLEEP \(\S+datalogger\.env:2\) is "soon"/);
    });
  }

  it('the x64 executable: --env-file with a missing or unreadable file gets our line too (Node does not claim it there)', () => {
    expectConfigError(runToEnd([X64], ['--env-file', join(scene.dir, 'missing.env')]), /--env-file \S+ cannot be read: no such file \(ENOENT\)/);
    const file = settingsFile('X=1\n', 0o640);
    expectConfigError(runToEnd([X64], ['check', '--env-file', file], { uid: NOBODY }), /--env-file \S+ cannot be read: permission denied/);
  });

  it("the bundle behind install.sh's launcher (node -- bundle): --env-file with a missing file gets our line", () => {
    expectConfigError(runToEnd([process.execPath, '--', BUNDLE], ['--env-file', join(scene.dir, 'missing.env')]), /--env-file \S+ cannot be read: no such file \(ENOENT\)/);
  });
});

describe('one command-line layer', () => {
  it.each([
    [[], /unknown option --frobnicate \(see dsmr-datalogger --help\)/],
    [['check'], /unknown option --frobnicate \(see dsmr-datalogger check --help\)/],
    [['inspect'], /unknown option --frobnicate \(see dsmr-datalogger inspect --help\)/],
    [['detect'], /unknown option --frobnicate \(see dsmr-datalogger detect --help\)/],
  ])('%j --frobnicate: one line naming the flag, exit 2', (command, pattern) => {
    expectConfigError(runToEnd(defaultCommand(), [...command, '--frobnicate']), pattern);
  });

  it('simulate names it too, exit 2', () => {
    const result = runToEnd(defaultCommand(), ['simulate', '--frobnicate']);
    expect(result.stderr.trim()).toBe('dsmr-datalogger simulate: unknown option --frobnicate (see dsmr-datalogger simulate --help)');
    expect(result.code).toBe(2);
  });

  it.each([[[]], [['check']], [['inspect']], [['detect']], [['simulate']]])('%j --help: the usage, exit 0', (command) => {
    const result = runToEnd(defaultCommand(), [...command, '--help']);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/Usage:/);
  });
});
