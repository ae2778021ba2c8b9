#!/usr/bin/env node
// npm run build: one release in dist/: the bundle, the two single executables, the portable 32-bit ARM archive,
// install.sh (with this release's version and download URL written into it) and SHA256SUMS over exactly those; any
// other file in dist/ is removed. Needs only the npm registry, and only on the first run (for the pinned Node
// runtimes); see docs/BUILD.md. `npm run release -- --base-url URL` (scripts/release.mjs) is the same build.
//
//   node scripts/build.mjs [--entry src/main.ts] [--out-dir dist] [--cache-dir .cache]
//                          [--version X.Y.Z] [--base-url URL]
//                          [--bundle-only | --runtimes-only | --test-runtimes]
//
// --version X.Y.Z    build as this version instead of package.json's (e.g. a test's newer release)
// --base-url URL     where the release's files are published, written into install.sh; default: the GitHub
//                    release download URL of package.json's repository, .../releases/download/vX.Y.Z
// --bundle-only      just dist/dsmr-datalogger.cjs (a second; no runtimes needed)
// --runtimes-only    just fetch and verify the pinned Node runtimes into the cache
// --test-runtimes    just fetch and verify the runtimes only the tests use (pins.mjs TEST_RUNTIMES)
import { readFileSync, statSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { BUNDLE_NAME, bundle } from './lib/bundle.mjs';
import { writeChecksums } from './lib/checksums.mjs';
import { ensureNodeRuntime, ensureTestRuntime } from './lib/node-runtimes.mjs';
import { BINARY_TARGETS, NODE_RUNTIMES, TEST_RUNTIMES } from './lib/pins.mjs';
import { buildPortableArchive } from './lib/portable-archive.mjs';
import { checkBaseUrl, defaultBaseUrl, releaseFiles, removeStale, writeInstaller } from './lib/release-set.mjs';
import { SUMS_NAME } from './lib/checksums.mjs';
import { BuildError, formatBytes } from './lib/run.mjs';
import { binaryName, buildBinary } from './lib/sea-binaries.mjs';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const log = (message) => process.stdout.write(`build: ${message}\n`);

const SEMVER = /^\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?$/;

export async function main(args = process.argv.slice(2)) {
  const { values } = parseArgs({
    args,
    options: {
      version: { type: 'string' },
      'base-url': { type: 'string' },
      entry: { type: 'string', default: join(repoRoot, 'src', 'main.ts') },
      'out-dir': { type: 'string', default: join(repoRoot, 'dist') },
      'cache-dir': { type: 'string', default: join(repoRoot, '.cache') },
      'bundle-only': { type: 'boolean', default: false },
      'runtimes-only': { type: 'boolean', default: false },
      'test-runtimes': { type: 'boolean', default: false },
    },
  });
  const outDir = resolve(values['out-dir']);
  const cacheDir = resolve(values['cache-dir']);

  if (values['test-runtimes']) {
    for (const name of Object.keys(TEST_RUNTIMES)) log(`test runtime ready: ${await ensureTestRuntime(name, { cacheDir, log })}`);
    return;
  }
  if (values['runtimes-only']) {
    for (const arch of Object.keys(NODE_RUNTIMES)) log(`runtime ready: ${relative(repoRoot, await ensureNodeRuntime(arch, { cacheDir, log }))}`);
    return;
  }

  if (values.version !== undefined && !SEMVER.test(values.version)) throw new BuildError(`--version must be X.Y.Z (got: ${values.version})`);
  await mkdir(outDir, { recursive: true });
  const bundleFile = join(outDir, BUNDLE_NAME);
  const { version, commit } = await bundle({ repoRoot, entry: resolve(values.entry), outFile: bundleFile, log, version: values.version });
  log(`bundled ${relative(repoRoot, resolve(values.entry))} as ${BUNDLE_NAME} (version ${version}, commit ${commit})`);
  if (values['bundle-only']) return report([bundleFile]);
  const packageJson = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8'));
  const baseUrl = checkBaseUrl(values['base-url'] ?? defaultBaseUrl(packageJson, version), version);

  const runtimes = {};
  for (const arch of Object.keys(NODE_RUNTIMES)) runtimes[arch] = await ensureNodeRuntime(arch, { cacheDir, log });
  // pkg needs Node >= 22 to run and a blob generator of exactly the target's version: the host's own fetched runtime.
  const pkgNode = runtimes[process.arch];
  if (!pkgNode) throw new BuildError(`building the executables needs a linux-x64 or linux-arm64 host, not ${process.platform}-${process.arch}`);

  const sea = await seaBundle({ entry: resolve(values.entry), outDir, version: values.version });
  const artifacts = [bundleFile];
  try {
    for (const target of BINARY_TARGETS) {
      artifacts.push(await buildBinary(target, { repoRoot, cacheDir, bundleFile: sea.bundleFile, assets: sea.assets, outDir, pkgNode, log }));
    }
  } finally {
    await rm(sea.dir, { recursive: true, force: true });
  }
  artifacts.push(await buildPortableArchive({ repoRoot, cacheDir, bundleFile, version, commit, outDir, log }));
  artifacts.push(await writeInstaller({ repoRoot, outDir, version, baseUrl }));
  log(`install.sh installs v${version} from ${baseUrl}`);
  const files = releaseFiles(BINARY_TARGETS.map((target) => binaryName(target.arch)));
  const stale = await removeStale(outDir, [...files, SUMS_NAME]);
  if (stale.length > 0) log(`removed from ${relative(process.cwd(), outDir) || '.'}: ${stale.join(', ')} (not part of this release)`);
  await writeChecksums(outDir, files);
  log(`SHA256SUMS covers ${files.join(', ')}`);
  report(artifacts);
}

/**
 * The bundle the single executables run: the same program, with the deferred packages as SEA assets beside it
 * (scripts/lib/deferred-packages.mjs), written with the asset files to a folder inside the output directory that
 * the build removes again. Always the same path there: the executables embed the main script's path (stack traces
 * name it), so the same commit built into the same directory gives the same bytes.
 */
async function seaBundle({ entry, outDir, version }) {
  const dir = join(outDir, '.sea-bundle');
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  const seaAssets = new Map();
  const bundleFile = join(dir, BUNDLE_NAME);
  await bundle({ repoRoot, entry, outFile: bundleFile, log, version, seaAssets });
  const assets = {};
  for (const [name, bytes] of seaAssets) {
    const file = join(dir, name.replace(/[^\w.-]/g, '_'));
    await writeFile(file, bytes);
    assets[name] = file;
  }
  return { dir, bundleFile, assets };
}

function report(files) {
  for (const file of files) log(`${relative(process.cwd(), file)}  ${formatBytes(statSync(file).size)}`);
}

export function exitOnError(err) {
  const expected = err instanceof BuildError || err?.code?.startsWith?.('ERR_PARSE_ARGS');
  process.stderr.write(`build: error: ${expected ? err.message : (err?.stack ?? err)}\n`);
  process.exit(1);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) main().catch(exitOnError);
