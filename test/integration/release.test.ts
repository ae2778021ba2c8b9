// The release on a fresh machine: two releases built with `npm run release` (the second a version bump) are served
// from 127.0.0.1 laid out as GitHub serves a release's assets, and the README's install line, run with curl inside a
// minimal Debian bookworm root made by debootstrap, installs the first: supervisor comes from apt inside the root,
// the API key is typed at a real terminal (and stands on no command line), the program runs as dsmr and forwards
// telegrams from a host pty to a stand-in DSMR-reader. Then, while that server is down and a backlog waits, the
// newer release's installer upgrades in place, keeping settings and spool, and the new version delivers the old
// backlog; a downgrade with --version works too. A wrong key, a missing port and a port dsmr cannot open are named at
// the end of an install, which then exits 3. Finally --uninstall --purge. Needs root, debootstrap, socat, script,
// and the Debian mirror (the first run makes the root, later ones unpack it from the cache).
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApiServer, type ApiServer } from '../helpers/api-server.ts';
import { openPty, type Pty } from '../helpers/pty.ts';
import { waitFor } from '../helpers/wait.ts';
import { cacheDir, DebianRoot, ensureRootTarball, fileSizeBelow, mountsBelow, runCommand, type CommandResult } from './debian-root.ts';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const OWNER_NAME = 'dsmr-datalogger/dsmr-datalogger';
const KEY = 'Release-Key-5c1e93a7d2f4';
const WRONG_KEY = 'Not-The-Key-000';
const V1 = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')).version as string;
const V2 = V1.replace(/^(\d+)\.(\d+)\.\d+.*$/, (_, major: string, minor: string) => `${major}.${Number(minor) + 1}.0`);
const ENV_FILE = 'etc/dsmr-datalogger/datalogger.env';
const DATA_DIR = 'var/lib/dsmr-datalogger';
const PROGRAM_LOG = 'var/log/supervisor/dsmr-datalogger.log';
const DIALOUT = 20; // the same in Debian's base-passwd, host and root alike

const isRoot = process.getuid?.() === 0;
const timings: string[] = [];
const log = (line: string) => {
  timings.push(line);
  process.stdout.write(`release test: ${line}\n`);
};

function show(result: CommandResult): string {
  return `exit ${result.code}${result.signal ? ` (${result.signal})` : ''}\n--- stdout\n${result.stdout}\n--- stderr\n${result.stderr}`;
}

/** The `dsmr-datalogger status` summary install.sh shows after its checks: a heading, the program, the meter, power, one line per server. */
const STATUS_LINES = 6;

function lastLines(text: string, n: number): string {
  return text.trimEnd().split('\n').slice(-n).join('\n');
}

/** The install line of the README, the form a new user copies. */
function readmeInstallLine(): string {
  const readme = readFileSync(join(REPO, 'README.md'), 'utf8');
  const line = readme.split('\n').find((l) => l.startsWith(`curl -fsSL https://github.com/${OWNER_NAME}/releases/latest/download/install.sh | sudo sh`));
  if (!line) throw new Error('README.md has no install line "curl -fsSL https://github.com/.../releases/latest/download/install.sh | sudo sh ..."');
  return line;
}

function shellQuote(word: string): string {
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

/** Distinct valid DSMR 5 telegrams (rising counters), made by the built simulator. */
function makeTelegrams(count: number): Buffer[] {
  const out = spawnSync(process.execPath, [join(REPO, 'dist/dsmr-datalogger.cjs'), 'simulate', '--fast', '--count', String(count), '--seed', '11'], { maxBuffer: 64 * 1024 * 1024 });
  if (out.status !== 0) throw new Error(`simulate failed: ${out.stderr.toString()}`);
  const text = out.stdout.toString('latin1');
  const frames = text.match(/\/[\s\S]*?![0-9A-F]{4}\r\n/g) ?? [];
  if (frames.length !== count) throw new Error(`simulate gave ${frames.length} telegrams, not ${count}`);
  return frames.map((f) => Buffer.from(f, 'latin1'));
}

/** Serves the releases as GitHub does: OWNER/NAME/releases/download/vX/FILE, and latest/download/FILE. */
async function startReleaseServer(): Promise<{
  url: string;
  requests: string[];
  publish(version: string, dir: string): void;
  setLatest(version: string): void;
  close(): Promise<void>;
}> {
  const releases = new Map<string, string>();
  let latest: string | undefined;
  const requests: string[] = [];
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '').split('?')[0] ?? '';
    requests.push(path);
    const m = new RegExp(`^/${OWNER_NAME}/releases/(?:download/(v[^/]+)|latest/download)/([^/]+)$`).exec(path);
    const dir = m ? releases.get(m[1] ?? latest ?? '') : undefined;
    const file = dir && m && readdirSync(dir).includes(m[2]!) ? join(dir, m[2]!) : undefined;
    if (!file) {
      res.writeHead(404).end('Not Found');
      return;
    }
    const body = readFileSync(file);
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': body.length }).end(body);
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', () => done()));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    publish: (version, dir) => releases.set(`v${version}`, dir),
    setLatest: (version) => {
      latest = `v${version}`;
    },
    close: () =>
      new Promise<void>((done) => {
        server.closeAllConnections();
        server.close(() => done());
      }),
  };
}

/** Keeps scanning every process's command line for a string, until stopped; reports the lines it was seen on. */
function watchCommandLines(secret: string): { stop(): string[]; scans(): number } {
  const seen: string[] = [];
  let scans = 0;
  const timer = setInterval(() => {
    scans++;
    for (const name of readdirSync('/proc')) {
      if (!/^\d+$/.test(name)) continue;
      try {
        const line = readFileSync(`/proc/${name}/cmdline`, 'latin1').replace(/\0/g, ' ');
        if (line.includes(secret)) seen.push(`${name}: ${line}`);
      } catch {
        // Gone already.
      }
    }
  }, 10);
  return {
    stop: () => {
      clearInterval(timer);
      return seen;
    },
    scans: () => scans,
  };
}

describe.skipIf(!isRoot)('the release, on a fresh Debian root', () => {
  let work: string;
  let root: DebianRoot | undefined;
  let releases: Awaited<ReturnType<typeof startReleaseServer>>;
  let api: ApiServer;
  let apiPort: number;
  let pty: Pty;
  let telegrams: Buffer[];
  const written: Buffer[] = [];
  let meter: NodeJS.Timeout | undefined;
  let meterError: Error | undefined;
  const started = Date.now();

  const received = (t: Buffer) => api.telegrams.some((r) => r.equals(t));
  const inRoot = (line: string, timeoutMs = 240_000) => root!.sh(line, { timeoutMs });
  const programLog = () => {
    try {
      return readFileSync(root!.path(PROGRAM_LOG), 'utf8');
    } catch {
      return '(no program log)';
    }
  };
  const installLine = (extra = '') => {
    const line = readmeInstallLine()
      .replace(`https://github.com/${OWNER_NAME}/releases`, `${releases.url}/${OWNER_NAME}/releases`)
      .replace(/ --api-url \S+/, api ? ` --api-url ${api.url}` : '');
    return `${line}${extra}`;
  };
  const upgradeLine = (extra = '') => `curl -fsSL ${releases.url}/${OWNER_NAME}/releases/latest/download/install.sh | sudo sh -s --${extra}`;

  function startMeter(): void {
    // One telegram a second, as a DSMR 5 meter; each one distinct, all of them recorded.
    meter = setInterval(() => {
      const next = telegrams[written.length];
      if (!next) return;
      written.push(next);
      pty.write(next).catch((error: Error) => (meterError ??= error));
    }, 1000);
  }

  beforeAll(async () => {
    for (const tool of ['debootstrap', 'socat', 'script', 'chroot', 'findmnt']) {
      if (spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0) throw new Error(`${tool} is not installed (bash .ci/run installs it)`);
    }
    work = mkdtempSync(join(tmpdir(), 'dsmr-release-test-'));
    chmodSync(work, 0o755);
    releases = await startReleaseServer();

    // Two releases, built as the release workflow builds them, each knowing where it is published.
    for (const version of [V1, V2]) {
      const t0 = Date.now();
      const out = join(work, `dist-${version}`);
      // What an earlier build left behind must not become part of this release.
      mkdirSync(out);
      writeFileSync(join(out, 'dsmr-datalogger-linux-mips'), 'stale');
      const build = await runCommand(
        process.execPath,
        [join(REPO, 'scripts/release.mjs'), '--out-dir', out, '--version', version, '--base-url', `${releases.url}/${OWNER_NAME}/releases/download/v${version}`],
        { timeoutMs: 300_000, spawn: { cwd: REPO } },
      );
      if (build.code !== 0) throw new Error(`npm run release (v${version}) failed:\n${show(build)}`);
      releases.publish(version, out);
      log(`release v${version} built in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
    }
    releases.setLatest(V1);
    telegrams = makeTelegrams(600);

    const tarball = ensureRootTarball(log);
    log(tarball.madeInSeconds === undefined ? `root from the cache (${tarball.path})` : `root made by debootstrap in ${tarball.madeInSeconds.toFixed(0)} s`);
    const t0 = Date.now();
    root = await DebianRoot.create(join(work, 'root'), tarball.path);
    // Downloaded .debs are kept between runs on this machine, as a local mirror would; the lists are fetched fresh.
    root.bind(join(cacheDir(), `apt-archives-${tarball.path.split('/').pop()}`), 'var/cache/apt/archives');
    log(`root unpacked and mounted in ${((Date.now() - t0) / 1000).toFixed(1)} s`);

    // The meter: a pty on the host, seen in the root through the dev/pts mount, at the default /dev/ttyUSB0. Like a
    // USB serial adapter's node it belongs to group dialout.
    pty = await openPty(work);
    const pts = realpathSync(pty.devicePath);
    chownSync(pts, 0, DIALOUT);
    chmodSync(pts, 0o660);
    symlinkSync(pts, root.path('dev/ttyUSB0'));
    api = await startApiServer({ key: KEY });
    apiPort = Number(new URL(api.url).port);
  }, 900_000);

  afterAll(async () => {
    if (meter) clearInterval(meter);
    const dir = root?.dir;
    try {
      await root?.destroy();
    } finally {
      await pty?.close();
      await api?.close();
      await releases?.close();
      if (dir) {
        const left = mountsBelow(dir);
        if (left.length > 0) throw new Error(`mounts left behind: ${left.join(', ')}`);
      }
      if (work && (!dir || !existsSync(dir))) rmSync(work, { recursive: true, force: true });
      log(`whole release test: ${((Date.now() - started) / 1000).toFixed(0)} s`);
    }
  }, 120_000);

  it('npm run release writes exactly one release: its files, install.sh knowing its version and URL, SHA256SUMS over them', () => {
    const dir = join(work, `dist-${V2}`);
    const files = ['dsmr-datalogger-linux-arm.tar.gz', 'dsmr-datalogger-linux-arm64', 'dsmr-datalogger-linux-x64', 'dsmr-datalogger.cjs', 'install.sh'];
    expect(readdirSync(dir).sort()).toEqual(['SHA256SUMS', ...files]);
    const sums = readFileSync(join(dir, 'SHA256SUMS'), 'utf8').trim().split('\n');
    expect(sums.map((l) => l.split('  ')[1])).toEqual(files);
    const check = spawnSync('sha256sum', ['-c', 'SHA256SUMS'], { cwd: dir, encoding: 'utf8' });
    expect(check.status, check.stdout + check.stderr).toBe(0);
    const installer = readFileSync(join(dir, 'install.sh'), 'utf8');
    expect(installer).toContain(`\nRELEASE_VERSION=v${V2}\n`);
    expect(installer).toContain(`\nRELEASE_BASE_URL=${releases.url}/${OWNER_NAME}/releases/download/v${V2}\n`);
    const version = spawnSync(join(dir, 'dsmr-datalogger-linux-x64'), ['--version'], { encoding: 'utf8' });
    expect(version.stdout).toMatch(new RegExp(`^dsmr-datalogger ${V2.replace(/\./g, '\\.')} `));
  });

  it('the README line installs the latest release, asking for the key at the terminal; the key is on no command line', async () => {
    const t0 = Date.now();
    startMeter();
    const line = installLine();
    // A real terminal: script(1) gives the command a pty as its controlling terminal; we type into it.
    const child = spawn('script', ['-qec', ['chroot', ...root!.chrootArgs(line, { TERM: 'xterm' })].map(shellQuote).join(' '), '/dev/null'], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const watcher = watchCommandLines(KEY);
    let output = '';
    const answered = new Set<string>();
    child.stdout.setEncoding('utf8').on('data', (text: string) => {
      output += text;
      if (!answered.has('key') && /API key of \S+ .*: $/m.test(output)) {
        answered.add('key');
        child.stdin.write(`${KEY}\n`);
      }
      if (!answered.has('detect') && output.includes('[Y/n]')) {
        answered.add('detect');
        child.stdin.write('n\n');
      }
    });
    child.stderr.setEncoding('utf8').on('data', (text: string) => (output += text));
    const code = await new Promise<number | null>((done) => {
      const timer = setTimeout(() => child.kill('SIGKILL'), 300_000);
      child.once('close', (c) => {
        clearTimeout(timer);
        done(c);
      });
    });
    const seen = watcher.stop();
    log(`first install (apt-get install supervisor inside) took ${((Date.now() - t0) / 1000).toFixed(0)} s; ${watcher.scans()} scans of every command line`);

    expect(answered.has('key'), output).toBe(true);
    expect(code, `${output}\n--- program log\n${programLog()}`).toBe(0);
    expect(seen, 'processes whose command line held the API key').toEqual([]);
    expect(output, 'the key was echoed').not.toContain(KEY);
    expect(output).toMatch(/apt-get install -y -q supervisor/);
    expect(output).toContain(`verified: dsmr-datalogger-linux-x64 has SHA-256`);
    const tail = lastLines(output, 8 + STATUS_LINES);
    expect(tail).toMatch(new RegExp(`ok   dsmr-datalogger ${V1.replace(/\./g, '\\.')} is RUNNING under supervisor`));
    expect(tail).toMatch(/ok +http:\/\/127\.0\.0\.1:\d+: API enabled and the key is accepted/);
    expect(tail).toContain('ok   serial port /dev/ttyUSB0: exists and user dsmr can open it');
    expect(tail).toContain('ok   a first telegram was read from serial port /dev/ttyUSB0');
    expect(tail).toMatch(/^done\. /m);
    // It came from v1's own folder, checked against v1's SHA256SUMS.
    expect(releases.requests).toContain(`/${OWNER_NAME}/releases/download/v${V1}/SHA256SUMS`);
    expect(readFileSync(root!.path(ENV_FILE), 'utf8')).toContain(`DSMRREADER_REMOTE_DATALOGGER_API_KEYS=${KEY}\n`);

    // Running as dsmr, forwarding with the key.
    const passwd = readFileSync(root!.path('etc/passwd'), 'utf8');
    const dsmrUid = Number(/^dsmr:x:(\d+):/m.exec(passwd)![1]);
    const program = root!.processesInside().find((pid) => {
      try {
        return readFileSync(`/proc/${pid}/cmdline`, 'latin1').startsWith('/usr/local/bin/dsmr-datalogger\0--env-file');
      } catch {
        return false;
      }
    });
    expect(program, 'the program among the processes inside the root').toBeDefined();
    expect(Number(/^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${program}/status`, 'utf8'))![1])).toBe(dsmrUid);
    await waitFor(() => api.telegrams.length >= 2, { timeoutMs: 30_000, what: 'telegrams at the stand-in DSMR-reader' });
    expect(api.requests.every((r) => r.key === KEY)).toBe(true);
  }, 400_000);

  it('an upgrade to the newer release keeps the settings and the spool, and the new version delivers the old backlog', async () => {
    expect(api.telegrams.length, 'the install step failed').toBeGreaterThan(0);
    const t0 = Date.now();
    const settings = readFileSync(root!.path(ENV_FILE), 'utf8');
    // The server goes away; what the meter sends from now on waits in v1's spool.
    await api.close();
    const backlogStart = written.length;
    const spoolBytes = () => fileSizeBelow(root!.path(DATA_DIR), (name) => name === '.cache');
    const before = spoolBytes();
    await waitFor(
      () => written.length - backlogStart >= 4 && spoolBytes() - before >= written.slice(backlogStart, backlogStart + 4).reduce((n, t) => n + t.length, 0),
      { timeoutMs: 60_000, what: `v1 to spool 4 telegrams while the server is down\n${lastLines(programLog(), 10)}` },
    );
    const backlog = written.slice(backlogStart);

    releases.setLatest(V2);
    const upgradeStart = written.length;
    const upgrade = await inRoot(upgradeLine());
    const upgradeEnd = written.length;
    log(`upgrade install took ${((Date.now() - t0) / 1000).toFixed(0)} s`);
    const out = `${upgrade.stdout}${upgrade.stderr}`;
    // Installed and running, but the server it forwards to is down: named, and not "done.".
    expect(upgrade.code, show(upgrade)).toBe(3);
    expect(out).toContain(`dsmr-datalogger ${V1} replaced by ${V2}; settings and spool kept`);
    expect(lastLines(upgrade.stdout, 8 + STATUS_LINES)).toMatch(/FAIL http:\/\/127\.0\.0\.1:\d+: unreachable/);
    expect(upgrade.stdout).not.toMatch(/^done\./m);
    expect(releases.requests).toContain(`/${OWNER_NAME}/releases/download/v${V2}/SHA256SUMS`);
    expect(readFileSync(root!.path(ENV_FILE), 'utf8')).toBe(settings);
    const version = await inRoot('/usr/local/bin/dsmr-datalogger --version');
    expect(version.stdout).toMatch(new RegExp(`^dsmr-datalogger ${V2.replace(/\./g, '\\.')} `));

    // The server is back: v2 delivers v1's backlog, in order, and nothing read since is lost.
    api = await startApiServer({ key: KEY, port: apiPort });
    await waitFor(() => backlog.every(received), { timeoutMs: 180_000, what: `the backlog at the server\n${lastLines(programLog(), 15)}` });
    const order = backlog.map((t) => api.telegrams.findIndex((r) => r.equals(t)));
    expect([...order].sort((a, b) => a - b)).toEqual(order);
    // From the moment v2 holds the port, nothing is lost. What the meter sent while neither version had the port open
    // (the restart) is gone, as with a real serial port: the new open flushes the input.
    const mark = written.length;
    await waitFor(() => written.slice(upgradeEnd, mark).every(received), { timeoutMs: 60_000, what: 'every telegram since the upgrade' });
    const lostInRestart = written.slice(upgradeStart, upgradeEnd).filter((t) => !received(t)).length;
    log(`telegrams the meter sent during the ${upgradeEnd - upgradeStart} s upgrade: ${lostInRestart} not read (the restart gap)`);
    expect(lostInRestart).toBeLessThanOrEqual(5);
    expect(meterError).toBeUndefined();
    log(`upgrade with backlog delivered: ${((Date.now() - t0) / 1000).toFixed(0)} s`);
  }, 400_000);

  it('--version installs an older release again (a downgrade the spool format allows)', async () => {
    const t0 = Date.now();
    const downgrade = await inRoot(upgradeLine(` --version v${V1}`));
    expect(downgrade.code, show(downgrade)).toBe(0);
    expect(downgrade.stdout).toContain(`dsmr-datalogger ${V2} replaced by ${V1}`);
    expect(lastLines(downgrade.stdout, 3)).toMatch(/^done\. /m);
    expect(releases.requests).toContain(`/${OWNER_NAME}/releases/download/v${V1}/dsmr-datalogger-linux-x64`);
    const mark = written.length;
    await waitFor(() => written.length > mark + 1 && received(written[mark]!), { timeoutMs: 60_000, what: 'forwarding after the downgrade' });
    log(`downgrade took ${((Date.now() - t0) / 1000).toFixed(0)} s`);
  }, 300_000);

  it('a wrong key, a missing port and a port dsmr cannot open are named at the end, with exit status 3', async () => {
    const t0 = Date.now();
    const purge = await inRoot(upgradeLine(' --uninstall --purge'));
    expect(purge.code, show(purge)).toBe(0);
    for (const path of ['usr/local/bin/dsmr-datalogger', ENV_FILE, DATA_DIR, 'etc/supervisor/conf.d/dsmr-datalogger.conf']) {
      expect(existsSync(root!.path(path)), path).toBe(false);
    }

    writeFileSync(root!.path('root/api-key'), `${WRONG_KEY}\n`, { mode: 0o600 });
    const wrong = await inRoot(installLine(' --api-key-file /root/api-key --serial-port /dev/ttyACM7'));
    expect(wrong.code, show(wrong)).toBe(3);
    const tail = lastLines(`${wrong.stdout}`, 6 + STATUS_LINES);
    expect(tail).toMatch(/FAIL http:\/\/127\.0\.0\.1:\d+: the API key is rejected/);
    expect(tail).toMatch(/FAIL serial port \/dev\/ttyACM7: missing/);
    expect(wrong.stdout).not.toMatch(/^done\./m);
    expect(wrong.stderr).toMatch(/does not work yet: 2 problem\(s\)/);
    expect(`${wrong.stdout}${wrong.stderr}`).not.toContain(WRONG_KEY);

    // The real port, but only root may open it.
    chmodSync(realpathSync(pty.devicePath), 0o600);
    chownSync(realpathSync(pty.devicePath), 0, 0);
    const denied = await inRoot(upgradeLine(' --serial-port /dev/ttyUSB0'));
    expect(denied.code, show(denied)).toBe(3);
    expect(lastLines(denied.stdout, 6 + STATUS_LINES)).toMatch(/FAIL serial port \/dev\/ttyUSB0: permission denied for user dsmr .*dialout/);

    const gone = await inRoot(upgradeLine(' --uninstall --purge'));
    expect(gone.code, show(gone)).toBe(0);
    expect(root!.processesInside().filter((pid) => readFileSync(`/proc/${pid}/cmdline`, 'latin1').includes('dsmr-datalogger'))).toEqual([]);
    log(`wrong key, missing port, permission denied, uninstall: ${((Date.now() - t0) / 1000).toFixed(0)} s`);
  }, 300_000);
});
