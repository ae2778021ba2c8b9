// `simulate --pty` makes a pty that a service user can open, as a USB serial adapter's device node is: group dialout
// (or --pty-group), mode 0660. Checked by reading it as an unprivileged user who is only in that group.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, realpathSync, rmSync, statSync, existsSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { waitFor } from '../helpers/wait.ts';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const BUNDLE = join(REPO, 'dist/dsmr-datalogger.cjs');
const NOBODY = 65534;
const DIALOUT = 20;

const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const cleanup of cleanups.splice(0).reverse()) cleanup();
});

function startSimulator(args: string[]) {
  const dir = mkdtempSync(join(tmpdir(), 'sim-pty-'));
  chmodSync(dir, 0o755);
  const link = join(dir, 'p1');
  const child = spawn(process.execPath, [BUNDLE, 'simulate', '--pty', link, '--interval', '0.2', ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (text: string) => (stderr += text));
  cleanups.push(() => {
    child.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  });
  return { link, child, stderr: () => stderr };
}


describe.skipIf(process.getuid?.() !== 0)('simulate --pty, for a service user', () => {
  it('is group dialout, mode 0660 by default: a dialout member reads telegrams, others cannot open it', async () => {
    if (!existsSync(BUNDLE)) throw new Error(`${BUNDLE} is missing: run node scripts/build.mjs --bundle-only`);
    const sim = startSimulator([]);
    await waitFor(() => sim.stderr().includes('pty ready'), { timeoutMs: 10_000, what: 'the pty' });
    const device = realpathSync(sim.link);
    const st = statSync(device);
    expect(st.gid).toBe(DIALOUT);
    expect((st.mode & 0o777).toString(8)).toBe('660');
    // setpriv sets exactly the supplementary groups we name.
    const member = spawnSync('setpriv', ['--reuid', String(NOBODY), '--regid', String(NOBODY), `--groups=${DIALOUT}`, 'timeout', '2', 'head', '-c', '64', sim.link], { encoding: 'latin1' });
    expect(member.stdout, member.stderr).toMatch(/^\/[A-Z]{3}5/);
    const stranger = spawnSync('setpriv', ['--reuid', String(NOBODY), '--regid', String(NOBODY), '--clear-groups', 'head', '-c', '1', sim.link], { encoding: 'latin1' });
    expect(stranger.status).not.toBe(0);
    expect(stranger.stderr).toMatch(/Permission denied/);
  }, 30_000);

  it('--pty-group names another group; an unknown one is refused with one line', async () => {
    const sim = startSimulator(['--pty-group', 'nogroup']);
    await waitFor(() => sim.stderr().includes('pty ready'), { timeoutMs: 10_000, what: 'the pty' });
    expect(statSync(realpathSync(sim.link)).gid).toBe(NOBODY);
    const bad = startSimulator(['--pty-group', 'no-such-group-here']);
    await waitFor(() => bad.child.exitCode !== null, { timeoutMs: 10_000, what: 'the simulator to refuse' });
    expect(bad.child.exitCode).toBe(2);
    expect(bad.stderr()).toMatch(/--pty-group no-such-group-here: no such group in \/etc\/group/);
  }, 30_000);
});
