// install.sh for real (issue 4): shellcheck, the checks it makes before it changes anything, and then install.sh
// run as root inside a fresh Debian root made by debootstrap (test/integration/debian-root.ts), with the x64 single
// executable and the supervisor package apt installs there. The program must be RUNNING as user dsmr, forward
// telegrams from a host pty to two fake DSMR-reader servers on 127.0.0.1, stop on SIGTERM without a SIGKILL, keep
// what it queued across stop and start, change nothing on a rerun, and be gone after --uninstall. Only the root is
// changed; the host's users, /etc, /usr/local and services are not touched. Needs root, socat, shellcheck,
// debootstrap, chroot and findmnt (bash .ci/run installs them) and the Debian mirror for the first root and apt.
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import {
  chmodSync,
  chownSync,
  copyFileSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  realpathSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApiServer, type ApiServer } from '../helpers/api-server.ts';
import { openPty, type Pty } from '../helpers/pty.ts';
import { waitFor } from '../helpers/wait.ts';
import { cacheDir, DebianRoot, ensureRootTarball, mountsBelow } from './debian-root.ts';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const INSTALL_SH = join(REPO, 'install.sh');
// CI may also point this at the portable bundle (dist/dsmr-datalogger-linux-arm.tar.gz, run by Debian's nodejs).
const BINARY = resolve(REPO, process.env.DSMR_INSTALL_TEST_ARTIFACT ?? 'dist/dsmr-datalogger-linux-x64');
const IS_BUNDLE = BINARY.endsWith('.tar.gz');
const FIXTURES = join(REPO, 'test/fixtures/telegrams');

const PROGRAM = 'dsmr-datalogger';
const BIN_PATH = '/usr/local/bin/dsmr-datalogger';
const LIB_DIR = '/usr/local/lib/dsmr-datalogger';
const CONF_DIR = '/etc/dsmr-datalogger';
const ENV_FILE = '/etc/dsmr-datalogger/datalogger.env';
const DATA_DIR = '/var/lib/dsmr-datalogger';
const SUPERVISOR_CONF = '/etc/supervisor/conf.d/dsmr-datalogger.conf';
const SUPERVISORD_CONF = '/etc/supervisor/supervisord.conf';
const SUPERVISORD_LOG = '/var/log/supervisor/supervisord.log';
const PROGRAM_LOG = '/var/log/supervisor/dsmr-datalogger.log';
const INSTALLED_PATHS = [BIN_PATH, LIB_DIR, CONF_DIR, ENV_FILE, DATA_DIR, SUPERVISOR_CONF];
/** Inside the Debian root: the program and the script under test, copied there, and the meter's serial port. */
const STAGE = '/opt/install-test';
const SERIAL_PORT = '/dev/ttyUSB0';
const DIALOUT = 20; // the same in Debian's base-passwd, host and root alike

/**
 * The machine install.sh changes: the host for the checks that change nothing (an empty root path), the Debian
 * root for the installs. Paths like BIN_PATH are as the installed system sees them; `at()` is where the test finds them.
 */
let machineRoot = '';
const at = (path: string) => (machineRoot ? join(machineRoot, path) : path);

const KEY_A = 'KeyA-7f3c9e1d2b4a';
const KEY_B = 'KeyB-0a8d6c5e4f21';

interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

interface RunOptions {
  env?: NodeJS.ProcessEnv;
  input?: string | Buffer;
  uid?: number;
  gid?: number;
  timeoutMs?: number;
}

// In its own session (detached), so install.sh has no controlling terminal, as in CI: it must never prompt.
function run(command: string, args: string[], opts: RunOptions = {}): Promise<RunResult> {
  const timeoutMs = opts.timeoutMs ?? 60_000;
  return new Promise((resolvePromise, reject) => {
    const child = spawn(command, args, {
      env: opts.env ?? cleanEnv(),
      stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
      detached: true,
      cwd: '/',
      uid: opts.uid,
      gid: opts.gid,
    });
    let stdout = '';
    let stderr = '';
    child.stdout!.setEncoding('utf8').on('data', (text: string) => (stdout += text));
    child.stderr!.setEncoding('utf8').on('data', (text: string) => (stderr += text));
    const timer = setTimeout(() => {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        // Already gone.
      }
      reject(new Error(`${command} ${args.join(' ')} took longer than ${timeoutMs}ms\n${stdout}\n${stderr}`));
    }, timeoutMs);
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolvePromise({ code, signal, stdout, stderr });
    });
    if (opts.input !== undefined) child.stdin!.end(opts.input);
  });
}

// No DSMR_DATALOGGER_* from the developer's shell may leak into install.sh.
function cleanEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin', HOME: '/root', LANG: 'C', ...extra };
}

function show(result: RunResult): string {
  return `exit ${result.code}${result.signal ? ` (${result.signal})` : ''}\n--- stdout\n${result.stdout}--- stderr\n${result.stderr}`;
}

/** A command on the machine: on the host, or inside the Debian root (chroot, a clean environment). */
function onMachine(command: string, args: string[], opts: RunOptions = {}): Promise<RunResult> {
  if (!machineRoot) return run(command, args, opts);
  const env = Object.entries(opts.env ?? cleanEnv({ PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' }));
  return run('chroot', [machineRoot, '/usr/bin/env', '-i', ...env.map(([k, v]) => `${k}=${v}`), command, ...args], { ...opts, env: cleanEnv() });
}

function installSh(args: string[], opts: RunOptions = {}): Promise<RunResult> {
  return onMachine('sh', [machineRoot ? `${STAGE}/install.sh` : INSTALL_SH, ...args], { timeoutMs: 120_000, ...opts });
}

function supervisorctl(...args: string[]): Promise<RunResult> {
  return onMachine('supervisorctl', ['-c', SUPERVISORD_CONF, ...args], { timeoutMs: 60_000 });
}

async function programStatus(): Promise<{ state: string; pid: number | undefined; text: string }> {
  const result = await supervisorctl('status', PROGRAM);
  const line = result.stdout.split('\n').find((l) => l.startsWith(`${PROGRAM} `)) ?? '';
  const state = line.split(/\s+/)[1] ?? '';
  const pid = /pid (\d+)/.exec(line)?.[1];
  return { state, pid: pid === undefined ? undefined : Number(pid), text: result.stdout + result.stderr };
}

function commandExists(name: string): boolean {
  return (process.env.PATH ?? '').split(':').some((dir) => dir !== '' && existsSync(join(dir, name)));
}

function passwdEntry(user: string): string[] | undefined {
  const line = readFileSync(at('/etc/passwd'), 'utf8')
    .split('\n')
    .find((l) => l.startsWith(`${user}:`));
  return line?.split(':');
}

function groupEntry(group: string): string[] | undefined {
  const line = readFileSync(at('/etc/group'), 'utf8')
    .split('\n')
    .find((l) => l.startsWith(`${group}:`));
  return line?.split(':');
}

function uidOf(user: string): number {
  const entry = passwdEntry(user);
  if (!entry) throw new Error(`no user ${user}`);
  return Number(entry[2]);
}

function gidOfGroup(group: string): number {
  const entry = groupEntry(group);
  if (!entry) throw new Error(`no group ${group}`);
  return Number(entry[2]);
}

function processUid(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/^Uid:\s+(\d+)/m.exec(status)![1]);
}

/** Processes of the machine's uid, not of another root's user with the same number (the release test runs one). */
function pidsOfUid(uid: number): number[] {
  const pids: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      if (processUid(Number(name)) === uid && readlinkSync(`/proc/${name}/root`) === (machineRoot || '/')) pids.push(Number(name));
    } catch {
      // The process ended while we looked.
    }
  }
  return pids;
}

function allCommandLines(): string {
  const lines: string[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      lines.push(readFileSync(`/proc/${name}/cmdline`, 'latin1').replace(/\0/g, ' '));
    } catch {
      // Gone, or a kernel thread.
    }
  }
  return lines.join('\n');
}

function openFdTargets(pid: number): string[] {
  const dir = `/proc/${pid}/fd`;
  return readdirSync(dir).flatMap((fd) => {
    try {
      return [readlinkSync(join(dir, fd))];
    } catch {
      return [];
    }
  });
}

function ownerModeOf(path: string): string {
  const st = statSync(at(path));
  const user = readFileSync(at('/etc/passwd'), 'utf8').split('\n').find((l) => l.split(':')[2] === String(st.uid))?.split(':')[0];
  const group = readFileSync(at('/etc/group'), 'utf8').split('\n').find((l) => l.split(':')[2] === String(st.gid))?.split(':')[0];
  return `${user}:${group} ${(st.mode & 0o7777).toString(8).padStart(4, '0')}`;
}

/** Everything install.sh may touch, down to inode and ctime: equal snapshots mean no file was changed. */
function snapshot(): string {
  const lines: string[] = [];
  for (const path of INSTALLED_PATHS) {
    if (!existsSync(at(path))) {
      lines.push(`${path} absent`);
      continue;
    }
    const st = lstatSync(at(path));
    const owner = `${path} ino=${st.ino} mode=${st.mode.toString(8)} ${st.uid}:${st.gid}`;
    // The program itself writes its spool into the data directory.
    if (path === DATA_DIR) lines.push(owner);
    else {
      const content = st.isFile() ? createHash('sha256').update(readFileSync(at(path))).digest('hex') : 'dir';
      lines.push(`${owner} mtime=${st.mtimeMs} ctime=${st.ctimeMs} ${content}`);
    }
  }
  lines.push(`passwd: ${passwdEntry('dsmr')?.join(':') ?? 'no dsmr user'}`);
  lines.push(`group: ${groupEntry('dsmr')?.join(':') ?? 'no dsmr group'}`);
  return lines.join('\n');
}

/** Distinct real DSMR 5 telegrams with a valid CRC, from the corpus. */
function pickTelegrams(count: number): Buffer[] {
  const manifest = JSON.parse(readFileSync(join(FIXTURES, 'manifest.json'), 'utf8')) as Array<{
    file: string;
    kind: string;
    telegrams: number;
    crc_valid: boolean | null;
    complete: boolean;
    ends_crlf: boolean;
    version: string;
    sha256: string;
  }>;
  const seen = new Set<string>();
  const picked: Buffer[] = [];
  for (const entry of manifest) {
    if (entry.kind !== 'telegram' || entry.telegrams !== 1 || entry.crc_valid !== true || !entry.complete) continue;
    if (!entry.ends_crlf || !entry.version.startsWith('DSMR 5') || entry.file.includes('/derived/')) continue;
    if (seen.has(entry.sha256)) continue;
    seen.add(entry.sha256);
    picked.push(readFileSync(join(FIXTURES, entry.file)));
    if (picked.length === count) return picked;
  }
  throw new Error(`the corpus has fewer than ${count} distinct valid DSMR 5 telegrams`);
}

function received(server: ApiServer, telegram: Buffer): boolean {
  return server.telegrams.some((t) => t.equals(telegram));
}

/** A static file server on 127.0.0.1 standing in for the release download location. */
async function startFileServer(files: Map<string, Buffer>): Promise<{ url: string; close: () => Promise<void> }> {
  const server: Server = createServer((req, res) => {
    const body = files.get((req.url ?? '').split('?')[0] ?? '');
    if (body === undefined) {
      res.writeHead(404).end('not found');
      return;
    }
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': body.length }).end(body);
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', () => done()));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((done) => {
        server.closeAllConnections();
        server.close(() => done());
      }),
  };
}

/** A PATH that has every system command except the ones named, plus the given stand-in scripts. */
function fakePath(dir: string, hide: string[], scripts: Record<string, string>): string {
  mkdirSync(dir, { recursive: true });
  for (const source of ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin']) {
    if (!existsSync(source)) continue;
    for (const name of readdirSync(source)) {
      if (hide.includes(name) || name in scripts || existsSync(join(dir, name))) continue;
      try {
        symlinkSync(join(source, name), join(dir, name));
      } catch {
        // A dangling name or a race with another entry of the same name: the first one wins, as in PATH.
      }
    }
  }
  for (const [name, body] of Object.entries(scripts)) {
    writeFileSync(join(dir, name), `#!/bin/sh\n${body}\n`, { mode: 0o755 });
  }
  return dir;
}

describe('install.sh', () => {
  const isRoot = process.getuid?.() === 0;
  let work: string;

  beforeAll(() => {
    work = mkdtempSync(join(tmpdir(), 'dsmr-install-test-'));
  });

  afterAll(() => {
    rmSync(work, { recursive: true, force: true });
  });

  /** The way to hand install.sh a key without a terminal: a file, never an argument (inside the root for the installs). */
  function keyFile(key: string): string {
    const path = join(machineRoot ? at(STAGE) : work, `key-${key}`);
    writeFileSync(path, `${key}\n`, { mode: 0o600 });
    return machineRoot ? `${STAGE}/key-${key}` : path;
  }

  function requireRoot(): void {
    if (!isRoot) throw new Error('this test runs install.sh as root (it does in CI)');
  }

  it('passes shellcheck -s sh', async () => {
    if (!commandExists('shellcheck')) throw new Error('shellcheck is not installed (apt-get install shellcheck)');
    const result = await run('shellcheck', ['-s', 'sh', INSTALL_SH]);
    expect(result.code, show(result)).toBe(0);
  });

  it('runs nothing when the download breaks off anywhere', () => {
    const text = readFileSync(INSTALL_SH, 'utf8');
    // main runs on the last line, which also closes the brace group holding the whole script.
    expect(text.trimEnd().split('\n').at(-1)).toBe('main "$@"; }');
    const truncated = join(work, 'truncated.sh');
    const empty = mkdtempSync(join(work, 'cwd-'));
    // No PATH: even if a cut did run a command, it could not reach anything outside the shell.
    const runCut = (cut: number, path = '/nonexistent') => {
      writeFileSync(truncated, text.slice(0, cut));
      return spawnSync('/bin/sh', [truncated, '--help'], { cwd: empty, env: { PATH: path }, encoding: 'utf8' });
    };
    for (let cut = 0; cut < text.length - 1; cut += 23) {
      const result = runCut(cut);
      const onlyComments = result.status === 0 && result.stderr === '';
      const syntaxError = result.status === 2 && /Syntax error/.test(result.stderr);
      expect(result.stdout, `cut at byte ${cut}`).toBe('');
      expect(onlyComments || syntaxError, `cut at byte ${cut}: exit ${result.status}, ${result.stderr}`).toBe(true);
    }
    // The whole script does run: the check above can tell.
    expect(runCut(text.length, cleanEnv().PATH).stdout).toContain('Usage: sudo sh install.sh');
  });

  it('says clearly that it needs root', async () => {
    // As under `curl | sh`: the script arrives on stdin.
    const result = await run('sh', ['-s', '--', '--api-url', 'http://dsmr.local'], {
      input: readFileSync(INSTALL_SH),
      env: cleanEnv({ DSMR_DATALOGGER_API_KEY: 'K' }),
      // As nobody; a runner that is not root already is nobody to install.sh.
      ...(isRoot ? { uid: 65534, gid: 65534 } : {}),
    });
    expect(result.code, show(result)).toBe(1);
    expect(result.stderr).toMatch(/must be run as root.*sudo/);
    expect(result.stdout).toBe('');
  });

  it('rejects bad options with exit status 2 and one line naming the option', async () => {
    const cases: Array<[string[], RegExp]> = [
      // No terminal to ask at, and no key from a file or the environment.
      [['--api-url', 'http://a'], /no API key for http:\/\/a: run at a terminal to be asked, or give --api-key-file PATH/],
      [['--api-url', 'http://a', '--api-key', 'K'], /--api-key is not taken: a secret on the command line shows in ps and the shell history/],
      [['--api-url', 'http://a', '--mqtt-password=p'], /--mqtt-password is not taken/],
      [['--api-url', 'dsmr.local'], /--api-url must start with http/],
      [['--api-url', 'http://a', '--api-key-file', 'k,l'], /--api-key-file takes one value/],
      [['--api-url', 'http://a', '--api-key-file', '/nonexistent/key'], /--api-key-file \/nonexistent\/key: no such file, or not readable/],
      [['--api-url', 'http://a', '--api-url', 'http://b', '--api-key-file', '/etc/hostname'], /--api-url and --api-key-file come in pairs: got 2 URL\(s\) and 1 key file\(s\)/],
      [['--mqtt-url', 'http://broker'], /--mqtt-url must start with mqtt:\/\//],
      [['--mqtt-url', 'mqtt://broker', '--mqtt-username', 'u'], /no MQTT password for u: run at a terminal to be asked, or give --mqtt-password-file PATH/],
      [['--version', 'latest'], /--version must be a release such as v0.2.0/],
      [['--version', 'v1.2.3', '--binary', '/bin/true'], /--version picks a release to download/],
      [['--telegram-wait', 'soon'], /--telegram-wait must be a whole number of seconds/],
      [['--network', 'bridge'], /--network must be HOST:PORT/],
      [['--dsmr-version', '6'], /--dsmr-version must be auto, 2.2, 3, 4, 5, be or lu/],
      [['--interval', 'soon'], /--interval must be a number/],
      [['--sha256', 'abc'], /--sha256 must be 64 hexadecimal digits/],
      [['--purge'], /--purge only goes with --uninstall/],
      [['--frobnicate'], /unknown option: --frobnicate/],
    ];
    for (const [args, message] of cases) {
      const result = await installSh(args);
      expect(result.code, `${args.join(' ')}: ${show(result)}`).toBe(2);
      expect(result.stderr.trim().split('\n')).toHaveLength(1);
      expect(result.stderr).toMatch(message);
    }
  });

  it('--dry-run picks the artifact for the machine, prints every action and changes nothing', async () => {
    requireRoot();
    const before = snapshot();
    const machines: Array<{ uname: string; bits: string; artifact: string }> = [
      { uname: 'x86_64', bits: '64', artifact: 'dsmr-datalogger-linux-x64' },
      { uname: 'aarch64', bits: '64', artifact: 'dsmr-datalogger-linux-arm64' },
      // A Raspberry Pi with a 64-bit kernel under a 32-bit userland.
      { uname: 'aarch64', bits: '32', artifact: 'dsmr-datalogger-linux-arm.tar.gz' },
      { uname: 'armv7l', bits: '32', artifact: 'dsmr-datalogger-linux-arm.tar.gz' },
    ];
    for (const machine of machines) {
      // Without node and supervisor on PATH, the dry run must say it would install them.
      const path = fakePath(join(work, `path-${machine.uname}-${machine.bits}`), ['node', 'supervisorctl', 'supervisord'], {
        uname: `echo ${machine.uname}`,
        getconf: `[ "$1" = LONG_BIT ] && echo ${machine.bits}`,
      });
      const result = await installSh(['--dry-run', '--api-url', 'http://dsmr.local'], {
        env: cleanEnv({ PATH: path, DSMR_DATALOGGER_RELEASE_URL: 'http://127.0.0.1:9/release', DSMR_DATALOGGER_API_KEY: KEY_A }),
      });
      expect(result.code, show(result)).toBe(0);
      expect(result.stdout).toContain(`would download http://127.0.0.1:9/release/${machine.artifact} and check it`);
      const packages = machine.artifact.endsWith('.tar.gz') ? 'supervisor nodejs' : 'supervisor';
      expect(result.stdout).toMatch(new RegExp(`would run: env DEBIAN_FRONTEND=noninteractive apt-get install -y -q ${packages}\\n`));
      expect(result.stdout).toContain('would run: supervisorctl update');
      expect(result.stdout).toContain('dry run: nothing was changed');
      expect(result.stdout).not.toContain(KEY_A);
    }
    const unsupported = await installSh(['--dry-run', '--api-url', 'http://a'], {
      env: cleanEnv({ PATH: fakePath(join(work, 'path-mips'), [], { uname: 'echo mips', getconf: 'echo 32' }), DSMR_DATALOGGER_API_KEY: 'K' }),
    });
    expect(unsupported.code, show(unsupported)).toBe(1);
    expect(unsupported.stderr).toMatch(/this machine is mips/);

    // The installer's settings also come from DSMR_DATALOGGER_* variables, mapped onto the program's settings.
    const fromEnv = await installSh(['--dry-run', '--binary', process.execPath], {
      env: cleanEnv({
        DSMR_DATALOGGER_API_URL: 'http://one.local/,https://two.local/api/v1/datalogger/dsmrreading',
        DSMR_DATALOGGER_API_KEY: `${KEY_A},${KEY_B}`,
        DSMR_DATALOGGER_NETWORK: '192.168.1.50:8088',
        DSMR_DATALOGGER_DSMR_VERSION: 'be',
        DSMR_DATALOGGER_INTERVAL: '5',
      }),
    });
    expect(fromEnv.code, show(fromEnv)).toBe(0);
    for (const line of [
      'DSMRREADER_REMOTE_DATALOGGER_INPUT_METHOD=ipv4',
      'DSMRREADER_REMOTE_DATALOGGER_NETWORK_HOST=192.168.1.50',
      'DSMRREADER_REMOTE_DATALOGGER_NETWORK_PORT=8088',
      'DSMRREADER_REMOTE_DATALOGGER_API_HOSTS=http://one.local,https://two.local',
      'DSMRREADER_REMOTE_DATALOGGER_API_KEYS=(hidden)',
      'DSMR_DATALOGGER_DSMR_VERSION=be',
      'DSMRREADER_REMOTE_DATALOGGER_SLEEP=5',
      'DSMR_DATALOGGER_DATA_DIR=/var/lib/dsmr-datalogger',
    ]) {
      expect(fromEnv.stdout).toContain(`| ${line}\n`);
    }
    expect(fromEnv.stdout).not.toContain('SERIAL_PORT');

    // An MQTT broker, its password from a file: written like the keys, and hidden like them.
    const passwordFile = join(work, 'mqtt-password');
    writeFileSync(passwordFile, 'pass word#1\n', { mode: 0o600 });
    const mqtt = await installSh(['--dry-run', '--binary', process.execPath, '--mqtt-url', 'mqtt://broker.local:1883', '--mqtt-username', 'dsmr', '--mqtt-password-file', passwordFile]);
    expect(mqtt.code, show(mqtt)).toBe(0);
    for (const line of ['DSMR_DATALOGGER_MQTT_URL=mqtt://broker.local:1883', 'DSMR_DATALOGGER_MQTT_USERNAME=dsmr', 'DSMR_DATALOGGER_MQTT_PASSWORD=(hidden)']) {
      expect(mqtt.stdout).toContain(`| ${line}\n`);
    }
    expect(mqtt.stdout).not.toContain('pass word');
    expect(fromEnv.stdout).not.toContain(KEY_A);
    expect(fromEnv.stdout).not.toContain(KEY_B);
    expect(snapshot()).toBe(before);
  });

  it('checks a download against SHA256SUMS or --sha256 and installs nothing when it does not match', async () => {
    requireRoot();
    const before = snapshot();
    const artifact = Buffer.from('#!/bin/sh\necho this is not the program\n');
    const goodSum = createHash('sha256').update(artifact).digest('hex');
    const files = new Map<string, Buffer>([
      ['/bad/dsmr-datalogger-linux-x64', artifact],
      ['/bad/SHA256SUMS', Buffer.from(`${'0'.repeat(64)}  dsmr-datalogger-linux-x64\n`)],
      ['/nosums/dsmr-datalogger-linux-x64', artifact],
    ]);
    const server = await startFileServer(files);
    try {
      const args = ['--api-url', 'http://dsmr.local', '--api-key-file', keyFile(KEY_A), '--no-start'];
      const badSums = await installSh(['--url', `${server.url}/bad/`, ...args]);
      expect(badSums.code, show(badSums)).toBe(1);
      expect(badSums.stderr).toContain(`checksum mismatch for dsmr-datalogger-linux-x64: expected ${'0'.repeat(64)}, got ${goodSum}`);

      const badFlag = await installSh(['--url', `${server.url}/nosums/dsmr-datalogger-linux-x64`, '--sha256', 'f'.repeat(64), ...args]);
      expect(badFlag.code, show(badFlag)).toBe(1);
      expect(badFlag.stderr).toContain('checksum mismatch');

      const noSums = await installSh(['--url', `${server.url}/nosums/`, ...args]);
      expect(noSums.code, show(noSums)).toBe(1);
      expect(noSums.stderr).toMatch(/cannot download .*SHA256SUMS/);
    } finally {
      await server.close();
    }
    expect(snapshot()).toBe(before);
  });

  describe('with the x64 single executable under supervisord, in a fresh Debian root', () => {
    let root: DebianRoot | undefined;
    let pty: Pty;
    let ptsPath: string;
    let serverA: ApiServer;
    let serverB: ApiServer;
    let telegrams: Buffer[];
    let installArgs: string[];
    let installed = false;
    let meter: NodeJS.Timeout | undefined;
    /** The program and the script under test, as the root sees them. */
    const stagedBinary = `${STAGE}/${basename(BINARY)}`;

    // A meter sends all the time; install.sh's check at the end waits for the program's first telegram after each
    // start. The steps below write their own telegrams besides.
    /** The program has the pty open: the host names it through the root's dev/pts mount. */
    const holdsPort = (pid: number) => openFdTargets(pid).includes(at(ptsPath));

    function startMeter(): void {
      meter = setInterval(() => void pty.write(telegrams[0]!).catch(() => undefined), 1000);
    }

    beforeAll(async () => {
      serverA = await startApiServer({ key: KEY_A });
      serverB = await startApiServer({ key: KEY_B });
      telegrams = pickTelegrams(5);
      if (!isRoot) return;
      for (const tool of ['debootstrap', 'chroot', 'findmnt', 'socat']) {
        if (!commandExists(tool)) throw new Error(`${tool} is not installed (bash .ci/run installs it)`);
      }
      if (!existsSync(BINARY)) throw new Error(`${BINARY} is missing: run npm run build first`);
      const tarball = ensureRootTarball((line) => process.stdout.write(`install test: ${line}\n`));
      root = await DebianRoot.create(join(work, 'root'), tarball.path);
      // Downloaded .debs are kept between runs on this machine, as a local mirror would. Not in the release test's
      // cache: apt locks the folder, and the two tests may install at the same time.
      root.bind(join(cacheDir(), `apt-archives-install-test-${basename(tarball.path)}`), 'var/cache/apt/archives');
      machineRoot = root.dir;
      mkdirSync(at(STAGE), { recursive: true });
      copyFileSync(INSTALL_SH, at(`${STAGE}/install.sh`));
      copyFileSync(BINARY, at(stagedBinary));
      chmodSync(at(stagedBinary), 0o755);
      // The meter: a pty on the host, seen in the root through its dev/pts mount. The program runs as dsmr, a member
      // of dialout, like a USB serial adapter's device node.
      pty = await openPty(work);
      ptsPath = realpathSync(pty.devicePath);
      chownSync(ptsPath, 0, DIALOUT);
      chmodSync(ptsPath, 0o660);
      symlinkSync(ptsPath, at(SERIAL_PORT));
    }, 600_000);

    afterAll(async () => {
      clearInterval(meter);
      const dir = root?.dir;
      try {
        await root?.destroy();
      } finally {
        machineRoot = '';
        await pty?.close();
        await serverA?.close();
        await serverB?.close();
      }
      if (dir) expect(mountsBelow(dir), 'mounts left behind').toEqual([]);
    }, 120_000);

    it('installs and runs it as user dsmr, forwarding from the serial port to every server', async () => {
      requireRoot();
      installArgs = [
        '--binary', stagedBinary,
        '--api-url', serverA.url, '--api-key-file', keyFile(KEY_A),
        '--api-url', `${serverB.url}/`, '--api-key-file', keyFile(KEY_B),
        '--serial-port', SERIAL_PORT,
        '--dsmr-version', '5',
      ];
      startMeter();
      const result = await installSh(installArgs, { timeoutMs: 300_000 });
      expect(result.code, show(result)).toBe(0);
      expect(result.stdout).toContain('dsmr-datalogger is RUNNING under supervisor');
      // The set-up check, in the last lines: every server, the port, a telegram; then done.
      const tail = result.stdout.trimEnd().split('\n').slice(-14).join('\n');
      expect(tail).toContain(`ok   ${serverA.url}: API enabled and the key is accepted`);
      expect(tail).toContain(`ok   ${serverB.url}: API enabled and the key is accepted`);
      expect(tail).toContain(`ok   serial port ${SERIAL_PORT}: exists and user dsmr can open it`);
      expect(tail).toContain(`ok   a first telegram was read from serial port ${SERIAL_PORT}`);
      expect(tail).toMatch(/\ndone\. Settings: /);
      expect(result.stdout + result.stderr).not.toContain(KEY_A);

      const status = await programStatus();
      expect(status.state, status.text).toBe('RUNNING');
      const pid = status.pid!;
      expect(processUid(pid)).toBe(uidOf('dsmr'));

      // The user: own group, in dialout, no login shell.
      const user = passwdEntry('dsmr')!;
      expect(Number(user[3])).toBe(gidOfGroup('dsmr'));
      expect(user[6]).toMatch(/nologin|false/);
      expect(groupEntry('dialout')![3]!.split(',')).toContain('dsmr');

      // Files, owners and modes; the keys only in the env file.
      expect(ownerModeOf(BIN_PATH)).toBe('root:root 0755');
      if (IS_BUNDLE) expect(ownerModeOf(LIB_DIR)).toBe('root:root 0755');
      else expect(readFileSync(at(BIN_PATH)).equals(readFileSync(BINARY))).toBe(true);
      expect(ownerModeOf(ENV_FILE)).toBe('root:dsmr 0640');
      expect(ownerModeOf(CONF_DIR)).toBe('root:dsmr 0750');
      expect(ownerModeOf(DATA_DIR)).toBe('dsmr:dsmr 0750');
      expect(ownerModeOf(SUPERVISOR_CONF)).toBe('root:root 0644');
      const env = readFileSync(at(ENV_FILE), 'utf8');
      expect(env).toContain(`DSMRREADER_REMOTE_DATALOGGER_API_HOSTS=${serverA.url},${serverB.url}\n`);
      expect(env).toContain(`DSMRREADER_REMOTE_DATALOGGER_API_KEYS=${KEY_A},${KEY_B}\n`);
      expect(env).toContain(`DSMRREADER_REMOTE_DATALOGGER_SERIAL_PORT=${SERIAL_PORT}\n`);
      expect(env).toContain('DSMR_DATALOGGER_DSMR_VERSION=5\n');
      const conf = readFileSync(at(SUPERVISOR_CONF), 'utf8');
      expect(conf).toContain(`[program:${PROGRAM}]\n`);
      expect(conf).toContain(`command=${BIN_PATH} --env-file ${ENV_FILE}\n`);
      expect(conf).toContain('user=dsmr\n');
      expect(conf).toContain('stopsignal=TERM\n');
      expect(conf).toContain('environment=HOME="/var/lib/dsmr-datalogger",PKG_NATIVE_CACHE_PATH=');
      // What supervisord really passed: glibc reads its tunables only at exec, so they must be in the environment.
      const programEnv = readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
      expect(programEnv).toContain('GLIBC_TUNABLES=glibc.malloc.mmap_threshold=131072');
      expect(programEnv).toContain('HOME=/var/lib/dsmr-datalogger');
      expect(conf).not.toContain(KEY_A);
      expect(conf).not.toContain(KEY_B);
      const commandLines = allCommandLines();
      expect(commandLines).toContain(`--env-file ${ENV_FILE}`);
      expect(commandLines).not.toContain(KEY_A);
      expect(commandLines).not.toContain(KEY_B);

      // Write only once the program holds the port, so the test does not lean on the pty's buffering.
      await waitForProgram(() => holdsPort(pid), 30_000, `the program (pid ${pid}) to open ${ptsPath}`);
      await pty.write(telegrams[0]!);
      await waitForProgram(() => received(serverA, telegrams[0]!) && received(serverB, telegrams[0]!), 30_000, 'the first telegram at both servers');
      expect(serverA.requests.every((r) => r.key === KEY_A)).toBe(true);
      expect(serverB.requests.every((r) => r.key === KEY_B)).toBe(true);
      installed = true;
    }, 360_000);

    it('stops on SIGTERM without a SIGKILL and loses nothing it queued across stop and start', async () => {
      requireRoot();
      expect(installed, 'the install step failed').toBe(true);
      // Server B goes down; server A's receipts prove the program read each telegram, so B's share is queued.
      serverB.setResponder(() => ({ status: 503, body: 'down for maintenance' }));
      try {
        await stopAndStartWithQueue();
      } finally {
        // Leave B up and the program running for the steps after this one, even when this one failed.
        serverB.setResponder(undefined);
        if ((await programStatus()).state === 'STOPPED') await supervisorctl('start', PROGRAM);
      }
    }, 180_000);

    async function stopAndStartWithQueue(): Promise<void> {
      const queued = telegrams.slice(1, 4);
      for (const telegram of queued) {
        await pty.write(telegram);
        await waitForProgram(() => received(serverA, telegram), 30_000, 'a telegram at server A');
      }
      await waitFor(() => serverB.requests.some((r) => r.status === 503), { timeoutMs: 30_000, what: 'a refused attempt at B' });
      for (const telegram of queued) expect(received(serverB, telegram)).toBe(false);

      const logStart = existsSync(at(SUPERVISORD_LOG)) ? statSync(at(SUPERVISORD_LOG)).size : 0;
      const stop = await supervisorctl('stop', PROGRAM);
      expect(stop.code, show(stop)).toBe(0);
      expect((await programStatus()).state).toBe('STOPPED');
      const stopLog = readFileSync(at(SUPERVISORD_LOG), 'latin1').slice(logStart);
      expect(stopLog).toContain(`stopped: ${PROGRAM} (exit status 0)`);
      expect(stopLog).not.toContain('SIGKILL');
      expect(pidsOfUid(uidOf('dsmr'))).toEqual([]);

      serverB.setResponder(undefined);
      const start = await supervisorctl('start', PROGRAM);
      expect(start.code, show(start)).toBe(0);
      await waitForProgram(() => queued.every((telegram) => received(serverB, telegram)), 60_000, 'the queued telegrams at B after the restart');
      // In the order they were read.
      const order = queued.map((telegram) => serverB.telegrams.findIndex((t) => t.equals(telegram)));
      expect([...order].sort((a, b) => a - b)).toEqual(order);
    }

    it('changes no file and leaves the program running when run again with the same arguments', async () => {
      requireRoot();
      expect(installed, 'the install step failed').toBe(true);
      const pid = (await programStatus()).pid;
      const before = snapshot();
      const result = await installSh(installArgs);
      expect(result.code, show(result)).toBe(0);
      expect(result.stdout).not.toMatch(/^(\+|wrote) /m);
      expect(snapshot()).toBe(before);
      const status = await programStatus();
      expect(status.state, status.text).toBe('RUNNING');
      expect(status.pid).toBe(pid);

      // The same program from a release URL, checked against its SHA256SUMS: still nothing to do.
      const binary = readFileSync(BINARY);
      const sums = `${createHash('sha256').update(binary).digest('hex')}  dsmr-datalogger-linux-x64\n`;
      const server = await startFileServer(
        new Map([
          ['/v1/dsmr-datalogger-linux-x64', binary],
          ['/v1/SHA256SUMS', Buffer.from(sums)],
        ]),
      );
      try {
        const fromUrl = await installSh(['--url', `${server.url}/v1/`]);
        expect(fromUrl.code, show(fromUrl)).toBe(0);
        expect(fromUrl.stdout).toContain('verified: dsmr-datalogger-linux-x64 has SHA-256');
      } finally {
        await server.close();
      }
      expect(snapshot()).toBe(before);
      expect((await programStatus()).pid).toBe(pid);
    }, 180_000);

    it('keeps the settings on an upgrade, changes only what is given, and restarts the program', async () => {
      requireRoot();
      expect(installed, 'the install step failed').toBe(true);
      const oldPid = (await programStatus()).pid;
      const before = readFileSync(at(ENV_FILE), 'utf8');
      const result = await installSh(['--binary', stagedBinary, '--interval', '0']);
      expect(result.code, show(result)).toBe(0);
      const after = readFileSync(at(ENV_FILE), 'utf8');
      expect(after).toBe(`${before}DSMRREADER_REMOTE_DATALOGGER_SLEEP=0\n`);
      expect(ownerModeOf(ENV_FILE)).toBe('root:dsmr 0640');
      const status = await programStatus();
      expect(status.state, status.text).toBe('RUNNING');
      expect(status.pid).not.toBe(oldPid);
      const pid = status.pid!;
      // Still forwarding after the restart.
      await waitFor(() => holdsPort(pid), { timeoutMs: 30_000, what: 'the port reopened' });
      await pty.write(telegrams[4]!);
      await waitForProgram(() => received(serverA, telegrams[4]!) && received(serverB, telegrams[4]!), 30_000, 'a telegram forwarded after the restart');
    }, 180_000);

    it.skipIf(IS_BUNDLE)('puts the previous program back when the new one does not start, e.g. a downgrade that refuses the spool', async () => {
      requireRoot();
      expect(installed, 'the install step failed').toBe(true);
      // Stands in for an older version that finds a spool format it cannot read: says why, exits, deletes nothing.
      const refusing = `${STAGE}/refusing-program`;
      writeFileSync(at(refusing), '#!/bin/sh\necho "dsmr-datalogger: the spool is format 9, newer than this version reads (1): install the newer version again"\nexit 1\n', { mode: 0o755 });
      const result = await installSh(['--binary', refusing], { timeoutMs: 180_000 });
      expect(result.code, show(result)).toBe(1);
      expect(result.stderr).toContain('the spool is format 9, newer than this version reads');
      expect(result.stderr).toMatch(/the new program does not start \(its log above says why\); \S+ is back in place and restarted/);
      expect(readFileSync(at(BIN_PATH)).equals(readFileSync(BINARY))).toBe(true);
      expect(existsSync(at('/usr/local/bin/.dsmr-datalogger.previous'))).toBe(false);
      await waitFor(async () => (await programStatus()).state === 'RUNNING', { timeoutMs: 60_000, what: 'the previous program RUNNING again' });
    }, 240_000);

    it('--uninstall stops and removes the program but keeps settings and spool; --purge removes those too', async () => {
      requireRoot();
      expect(installed, 'the install step failed').toBe(true);
      clearInterval(meter);
      const result = await installSh(['--uninstall']);
      expect(result.code, show(result)).toBe(0);
      const status = await programStatus();
      expect(status.text).toMatch(/no such process/i);
      expect(pidsOfUid(uidOf('dsmr'))).toEqual([]);
      expect(existsSync(at(BIN_PATH))).toBe(false);
      expect(existsSync(at(SUPERVISOR_CONF))).toBe(false);
      expect(existsSync(at(ENV_FILE))).toBe(true);
      expect(existsSync(at(DATA_DIR))).toBe(true);

      const purge = await installSh(['--uninstall', '--purge']);
      expect(purge.code, show(purge)).toBe(0);
      for (const path of INSTALLED_PATHS) expect(existsSync(at(path)), path).toBe(false);
      expect(existsSync(at(PROGRAM_LOG))).toBe(false);
    }, 120_000);
  });
});

/** waitFor, with the program's log as it is when time runs out. */
async function waitForProgram(check: () => boolean, timeoutMs: number, what: string): Promise<void> {
  try {
    await waitFor(check, { timeoutMs, what });
  } catch (error) {
    throw new Error(`${(error as Error).message}\n--- ${PROGRAM_LOG}\n${tail(at(PROGRAM_LOG))}`);
  }
}

function tail(path: string): string {
  try {
    return readFileSync(path, 'utf8').split('\n').slice(-15).join('\n');
  } catch {
    return `(no ${path})`;
  }
}
