// The same mixed real-world stream through every way the program ships: the single executables as `npm run build`
// leaves them (arm64 under qemu-user), the 32-bit ARM archive's bundle on this machine's Node, and Deno running the
// TypeScript source.
import { afterEach, beforeEach, describe, expect, it, onTestFailed } from 'vitest';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startApiServer } from '../helpers/api-server.ts';
import { arm64Command, startDatalogger } from '../helpers/datalogger.ts';
import { repoRoot } from '../helpers/fixtures.ts';
import { openPty } from '../helpers/pty.ts';
import { mixedStream } from '../helpers/streams.ts';
import { waitFor } from '../helpers/wait.ts';

const dist = join(repoRoot, 'dist');
let dir: string;
let cleanups: (() => unknown)[];

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'dsmr-runtimes-'));
  cleanups = [];
});

afterEach(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
  rmSync(dir, { recursive: true, force: true });
});

function portableCommand(): string[] {
  const unpacked = join(dir, 'portable');
  execFileSync('mkdir', ['-p', unpacked]);
  execFileSync('tar', ['-xzf', join(dist, 'dsmr-datalogger-linux-arm.tar.gz'), '-C', unpacked]);
  // The archive's launcher runs the bundle with whatever `node` is on PATH, as Debian's nodejs does on the Pi.
  return [join(unpacked, 'dsmr-datalogger', 'bin', 'dsmr-datalogger')];
}

const subjects: [string, () => string[], Record<string, string>][] = [
  ['linux-x64 executable', () => [join(dist, 'dsmr-datalogger-linux-x64')], {}],
  ['linux-arm64 executable under qemu', () => arm64Command(join(dist, 'dsmr-datalogger-linux-arm64')), {}],
  // Its serial addon is for 32-bit ARM, so on this x64 machine the archive's bundle must fall back to stty by itself.
  ['32-bit ARM archive on this Node', portableCommand, {}],
  ['Deno running src/main.ts', () => [join(repoRoot, 'node_modules', '.bin', 'deno'), 'run', '-A', join(repoRoot, 'src', 'main.ts')], {}],
];

describe.each(subjects)('%s', (_name, command, extraEnv) => {
  it('forwards exactly the valid telegrams of a mixed stream to two servers, in order', async () => {
    const a = await startApiServer({ key: 'key-a' });
    const b = await startApiServer({ key: 'key-b' });
    cleanups.push(() => a.close(), () => b.close());
    const pty = await openPty(dir);
    cleanups.push(() => pty.close());
    const cmd = command();
    expect(existsSync(cmd[0]) || cmd[0] === 'qemu-aarch64-static').toBe(true);
    const dl = startDatalogger({
      command: cmd,
      env: {
        DSMRREADER_REMOTE_DATALOGGER_SERIAL_PORT: pty.devicePath,
        DSMRREADER_REMOTE_DATALOGGER_API_HOSTS: `${a.url},${b.url}`,
        DSMRREADER_REMOTE_DATALOGGER_API_KEYS: 'key-a,key-b',
        DSMR_DATALOGGER_DATA_DIR: join(dir, 'data'),
        // Where supervisor runs it: no usable HOME, so the addon must not need one.
        HOME: '/nonexistent',
        DSMR_DATALOGGER_HTTP_LISTEN: '127.0.0.1:0',
        ...extraEnv,
      },
    });
    cleanups.push(() => (dl.proc.exitCode === null && dl.proc.signalCode === null ? dl.stop('SIGKILL') : undefined));
    onTestFailed(() => console.log(`output:\n${dl.lines.join('\n')}`));
    const endpoint = /status endpoint on (http:\/\/127\.0\.0\.1:\d+)/.exec(await dl.waitForLine(/status endpoint on http:/, 60_000))![1];
    await dl.waitForLine(/serial port .* opened/, 60_000);
    const { stream, expected } = mixedStream();
    await pty.write(stream);
    await waitFor(() => a.telegrams.length >= expected.length && b.telegrams.length >= expected.length, { what: 'both servers to receive every valid telegram', timeoutMs: 60_000 });
    await Promise.all([a.quietFor(500), b.quietFor(500)]);
    const latin1 = (list: Buffer[]) => list.map((t) => t.toString('latin1'));
    expect(latin1(a.telegrams)).toEqual(latin1(expected));
    expect(latin1(b.telegrams)).toEqual(latin1(expected));
    // The status endpoint listens the way each runtime allows (src/status/listener.ts) and answers alike.
    const health = await fetch(`${endpoint}/health`);
    expect(health.status).toBe(200);
    expect(await health.text()).toMatch(/^ok/);
    expect((await dl.stop('SIGTERM', 15_000)).code).toBe(0);
  }, 120_000);
});

describe('Deno', () => {
  it('type-checks the whole program as Deno sees it', () => {
    execFileSync(join(repoRoot, 'node_modules', '.bin', 'deno'), ['check', join(repoRoot, 'src', 'main.ts')], { cwd: repoRoot, stdio: 'pipe' });
  }, 120_000);
});

describe('dist/', () => {
  it('SHA256SUMS covers every artifact and verifies', () => {
    const out = execFileSync('sha256sum', ['-c', 'SHA256SUMS'], { cwd: dist }).toString();
    const files = execFileSync('ls', [dist]).toString().trim().split('\n').filter((f) => f !== 'SHA256SUMS');
    for (const file of files) expect(out).toContain(`${file}: OK`);
  });
});
