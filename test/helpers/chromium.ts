// A real headless Chromium (Debian's `chromium`), driven from its command line: no npm driver. Each call gets a
// fresh profile, so nothing carries over between tests.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';

const FLAGS = [
  '--headless',
  '--no-sandbox', // tests run as root, where the sandbox cannot start
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--hide-scrollbars',
];

export interface BrowseOptions {
  /** Where the fresh profile is made (a test's temp directory). */
  dir: string;
  /** CSS pixels, e.g. [390, 844] for a phone. */
  windowSize?: [number, number];
  timeoutMs?: number;
}

function run(args: string[], opts: BrowseOptions): Promise<{ stdout: string; stderr: string }> {
  const profile = mkdtempSync(join(opts.dir, 'chromium-profile-'));
  const size = opts.windowSize ? [`--window-size=${opts.windowSize.join(',')}`] : [];
  return new Promise((resolve, reject) => {
    execFile('chromium', [...FLAGS, `--user-data-dir=${profile}`, ...size, ...args], { timeout: opts.timeoutMs ?? 45_000, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      rmSync(profile, { recursive: true, force: true });
      if (error) reject(new Error(`chromium ${args.join(' ')} failed: ${error.message}\n${stderr}`));
      else resolve({ stdout, stderr });
    });
  });
}

/** The DOM after the page has loaded, serialised. */
export async function dumpDom(url: string, opts: BrowseOptions): Promise<string> {
  return (await run(['--dump-dom', url], opts)).stdout;
}

/** A PNG of the page as a browser of windowSize shows it. */
export async function screenshot(url: string, path: string, opts: BrowseOptions): Promise<void> {
  await run([`--screenshot=${path}`, url], opts);
}
