#!/usr/bin/env node
// npm run build: the bundle, the two single executables, the portable 32-bit ARM archive and SHA256SUMS, in dist/.
// Needs only the npm registry, and only on the first run (for the pinned Node runtimes); see docs/BUILD.md.
//
//   node scripts/build.mjs [--entry src/main.ts] [--out-dir dist] [--cache-dir .cache]
//                          [--bundle-only | --runtimes-only | --test-runtimes]
//
// --bundle-only      just dist/dsmr-datalogger.cjs (a second; no runtimes needed)
// --runtimes-only    just fetch and verify the pinned Node runtimes into the cache
// --test-runtimes    just fetch and verify the runtimes only the tests use (pins.mjs TEST_RUNTIMES)
import { statSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { BUNDLE_NAME, bundle } from './lib/bundle.mjs';
import { writeChecksums } from './lib/checksums.mjs';
import { ensureNodeRuntime, ensureTestRuntime } from './lib/node-runtimes.mjs';
import { BINARY_TARGETS, NODE_RUNTIMES, TEST_RUNTIMES } from './lib/pins.mjs';
import { buildPortableArchive } from './lib/portable-archive.mjs';
import { BuildError, formatBytes } from './lib/run.mjs';
import { buildBinary } from './lib/sea-binaries.mjs';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const log = (message) => process.stdout.write(`build: ${message}\n`);

async function main() {
  const { values } = parseArgs({
    options: {
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

  await mkdir(outDir, { recursive: true });
  const bundleFile = join(outDir, BUNDLE_NAME);
  const { version, commit } = await bundle({ repoRoot, entry: resolve(values.entry), outFile: bundleFile, log });
  log(`bundled ${relative(repoRoot, resolve(values.entry))} as ${BUNDLE_NAME} (version ${version}, commit ${commit})`);
  if (values['bundle-only']) return report([bundleFile]);

  const runtimes = {};
  for (const arch of Object.keys(NODE_RUNTIMES)) runtimes[arch] = await ensureNodeRuntime(arch, { cacheDir, log });
  // pkg needs Node >= 22 to run and a blob generator of exactly the target's version: the host's own fetched runtime.
  const pkgNode = runtimes[process.arch];
  if (!pkgNode) throw new BuildError(`building the executables needs a linux-x64 or linux-arm64 host, not ${process.platform}-${process.arch}`);

  const artifacts = [bundleFile];
  for (const target of BINARY_TARGETS) {
    artifacts.push(await buildBinary(target, { repoRoot, cacheDir, bundleFile, outDir, pkgNode, log }));
  }
  artifacts.push(await buildPortableArchive({ repoRoot, cacheDir, bundleFile, version, commit, outDir, log }));
  const covered = await writeChecksums(outDir);
  log(`SHA256SUMS covers ${covered.join(', ')}`);
  report(artifacts);
}

function report(files) {
  for (const file of files) log(`${relative(process.cwd(), file)}  ${formatBytes(statSync(file).size)}`);
}

main().catch((err) => {
  const expected = err instanceof BuildError || err?.code?.startsWith?.('ERR_PARSE_ARGS');
  process.stderr.write(`build: error: ${expected ? err.message : (err?.stack ?? err)}\n`);
  process.exit(1);
});
