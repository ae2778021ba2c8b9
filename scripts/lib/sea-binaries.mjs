import { existsSync } from 'node:fs';
import { chmod, copyFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { NODE_VERSION, SEA_ADDON_ASSET } from './pins.mjs';
import { hashFile, pkgHome } from './node-runtimes.mjs';
import { BuildError, run } from './run.mjs';

// Each single executable is stock Node 24 plus a SEA blob holding exactly these: the executables' bundle (as the main
// script, unchanged), the deflated packages it defers (`assets`, see deferred-packages.mjs), and that arch's glibc
// serialport addon (as the asset SEA_ADDON_ASSET), with its sha256 as the asset SEA_ADDON_ASSET.sha256: the program names its extracted copy by it without loading node:crypto (2.4 MiB). Nothing is walked or
// collected, so nothing else can get in. One pkg run per target, as each carries a different addon.

const RUNNER = join(dirname(fileURLToPath(import.meta.url)), 'pkg-sea-runner.mjs');

export function binaryName(arch) {
  return `dsmr-datalogger-linux-${arch}`;
}

export async function buildBinary(target, { repoRoot, cacheDir, bundleFile, assets: deferred = {}, outDir, pkgNode, log }) {
  const addon = join(repoRoot, 'node_modules', '@serialport', 'bindings-cpp', 'prebuilds', target.prebuildDir, target.addon);
  if (!existsSync(addon)) throw new BuildError(`serialport prebuild missing: ${addon} (run npm ci)`);

  const output = join(outDir, binaryName(target.arch));
  const fromPkg = `${output}.pkg.partial`;
  const partial = `${output}.partial`;
  await rm(fromPkg, { force: true });
  log(`pkg --sea node${NODE_VERSION}-linux-${target.arch}`);
  const addonHash = `${output}.addon-sha256.partial`;
  await writeFile(addonHash, await hashFile(addon, 'sha256', 'hex'));
  const assets = { ...deferred, [SEA_ADDON_ASSET]: addon, [`${SEA_ADDON_ASSET}.sha256`]: addonHash };
  const job = { entry: bundleFile, arch: target.arch, nodeVersion: NODE_VERSION, output: fromPkg, assets };
  await run(pkgNode, [RUNNER, JSON.stringify(job)], {
    cwd: repoRoot,
    // pkg looks for its runtimes under $HOME/.pkg-cache; HOME points at the build cache where they were verified,
    // so pkg downloads nothing.
    env: { ...process.env, HOME: pkgHome(cacheDir) },
    what: `pkg for linux-${target.arch}`,
  });
  await rm(addonHash, { force: true });
  if (!existsSync(fromPkg)) throw new BuildError(`pkg for linux-${target.arch} produced no executable`);
  // Copied rather than renamed: postject wrote the file in one 120 MB write, and while those page-cache pages last
  // (until reboot) the kernel maps them in large chunks, inflating the resident size of a binary started from that
  // very file by ~20 MB. A copy, like any install by cp/scp, is paged in normally, so measurements here are honest.
  await copyFile(fromPkg, partial);
  await rm(fromPkg, { force: true });
  await chmod(partial, 0o755);
  await rename(partial, output);
  return output;
}
