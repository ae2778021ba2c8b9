import { spawn } from 'node:child_process';
import { createWriteStream, existsSync } from 'node:fs';
import { chmod, copyFile, mkdir, mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { BUNDLE_NAME } from './bundle.mjs';
import { PORTABLE_ARM } from './pins.mjs';
import { BuildError, run } from './run.mjs';

// 32-bit Raspberry Pi OS (armv6 Pi 1/Zero, armv7 Pi 2/3/4 in 32-bit mode) has no Node >= 22 build to make a single
// executable from, but Debian's `nodejs` package (>= 18) runs the bundle. The archive holds the bundle, serialport's
// two glibc arm addons where the bundle's loader looks (lib/prebuilds/linux-arm/, node-gyp-build picks armv6 or
// armv7 from the running node), a launcher and a README. Extracts to one folder, dsmr-datalogger/.

export const ARCHIVE_NAME = 'dsmr-datalogger-linux-arm.tar.gz';
const TOP = 'dsmr-datalogger';

const LAUNCHER = `#!/bin/sh
# Runs dsmr-datalogger with the system's Node.js (Debian/Raspberry Pi OS: apt install nodejs, version 18 or later).
# Set NODE to use another node binary.
here=$(dirname "$(readlink -f "$0")")
exec "\${NODE:-node}" "$here/../lib/${BUNDLE_NAME}" "$@"
`;

function readme({ version, commit }) {
  return `# dsmr-datalogger ${version} (commit ${commit}) for 32-bit ARM Linux

For Raspberry Pi OS 32-bit and other armhf Debian systems: ARMv6 (Raspberry Pi 1, Zero, Zero W) and ARMv7
(Raspberry Pi 2, 3, 4 running a 32-bit OS). On a 64-bit OS use the single executable dsmr-datalogger-linux-arm64
instead; it needs no Node.js.

No single executable exists for these boards because Node.js publishes no 32-bit ARM build of a version recent
enough. This archive instead runs on the operating system's own Node.js, version ${PORTABLE_ARM.minNode} or later.

## Contents

    bin/dsmr-datalogger        launcher: runs lib/${BUNDLE_NAME} with \`node\` (or $NODE)
    lib/${BUNDLE_NAME}     the program, one file
    lib/prebuilds/linux-arm/   serialport's native addon, built for ARMv6 and ARMv7 (glibc)

## Install

    sudo apt install nodejs            # check: node --version prints v${PORTABLE_ARM.minNode} or later
    sudo tar -xzf dsmr-datalogger-linux-arm.tar.gz -C /opt
    /opt/${TOP}/bin/dsmr-datalogger --version

Then run \`/opt/${TOP}/bin/dsmr-datalogger\` from supervisor or systemd with the same settings as the single
executables (see the project's README). The launcher \`exec\`s node, so signals reach the program directly.

If the serial port cannot be opened with "No native build was found", this node does not report its ARM version;
set \`ARM_VERSION=6\` (ARMv6) or \`ARM_VERSION=7\` (ARMv7) in the service's environment, or use the stty serial backend
(DSMR_DATALOGGER_SERIAL_BACKEND=stty), which needs no addon.
`;
}

export async function buildPortableArchive({ repoRoot, cacheDir, bundleFile, version, commit, outDir, log }) {
  // A private staging folder: builds running at once (a test's and a developer's) must not pack each other's files.
  await mkdir(cacheDir, { recursive: true });
  const stageRoot = await mkdtemp(join(cacheDir, 'portable-stage-'));
  try {
    return await stageAndPack({ repoRoot, stageRoot, bundleFile, version, commit, outDir, log });
  } finally {
    await rm(stageRoot, { recursive: true, force: true });
  }
}

async function stageAndPack({ repoRoot, stageRoot, bundleFile, version, commit, outDir, log }) {
  const top = join(stageRoot, TOP);
  const prebuilds = join(top, 'lib', 'prebuilds', PORTABLE_ARM.prebuildDir);
  await mkdir(join(top, 'bin'), { recursive: true });
  await mkdir(prebuilds, { recursive: true });
  await copyFile(bundleFile, join(top, 'lib', BUNDLE_NAME));
  for (const addon of PORTABLE_ARM.addons) {
    const source = join(repoRoot, 'node_modules', '@serialport', 'bindings-cpp', 'prebuilds', PORTABLE_ARM.prebuildDir, addon);
    if (!existsSync(source)) throw new BuildError(`serialport prebuild missing: ${source} (run npm ci)`);
    await copyFile(source, join(prebuilds, addon));
  }
  await writeFile(join(top, 'bin', 'dsmr-datalogger'), LAUNCHER);
  await chmod(join(top, 'bin', 'dsmr-datalogger'), 0o755);
  await writeFile(join(top, 'README.md'), readme({ version, commit }));

  const output = join(outDir, ARCHIVE_NAME);
  const partial = `${output}.partial`;
  log(`packing ${ARCHIVE_NAME}`);
  // Same inputs, same bytes: fixed order, owner, modes and timestamps.
  const mtime = `@${await sourceDateEpoch(repoRoot)}`;
  await tarGz({ cwd: stageRoot, entry: TOP, mtime, output: partial });
  await rename(partial, output);
  return output;
}

// tar writes the archive to stdout; node's gzip header carries no file name and no time.
async function tarGz({ cwd, entry, mtime, output }) {
  const args = ['--sort=name', '--owner=0', '--group=0', '--numeric-owner', `--mtime=${mtime}`, '--mode=u+rwX,go+rX,go-w'];
  const tar = spawn('tar', [...args, '-C', cwd, '-cf', '-', entry], { stdio: ['ignore', 'pipe', 'pipe'] });
  const stderr = [];
  tar.stderr.on('data', (c) => stderr.push(c));
  const exited = new Promise((resolve, reject) => {
    tar.on('error', (e) => reject(new BuildError(`packing ${ARCHIVE_NAME}: cannot run tar: ${e.message}`)));
    tar.on('close', (code) =>
      code === 0 ? resolve() : reject(new BuildError(`packing ${ARCHIVE_NAME}: tar exited ${code}: ${Buffer.concat(stderr).toString().trim()}`)),
    );
  });
  await Promise.all([pipeline(tar.stdout, createGzip({ level: 9 }), createWriteStream(output)), exited]);
}

async function sourceDateEpoch(repoRoot) {
  if (process.env.SOURCE_DATE_EPOCH) return process.env.SOURCE_DATE_EPOCH;
  try {
    const { stdout } = await run('git', ['log', '-1', '--format=%ct'], { cwd: repoRoot });
    if (stdout.trim()) return stdout.trim();
  } catch {
    // Not a git checkout.
  }
  return '0';
}
