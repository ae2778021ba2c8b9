import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import * as esbuild from 'esbuild';
import { deferredPackagesPlugin } from './deferred-packages.mjs';
import { lazyRequiresPlugin } from './lazy-requires.mjs';
import { BuildError } from './run.mjs';
import { serialportAddonPlugin } from './serialport-addon.mjs';

export const BUNDLE_NAME = 'dsmr-datalogger.cjs';
const TARGET = 'node18';
/**
 * Packages only some set-ups load, kept out of what Node parses at start-up (see deferred-packages.mjs). Of mqtt.js,
 * the client module alone: the package's index also brings connect() with its WebSocket and SOCKS builders.
 */
const DEFERRED_PACKAGES = ['mqtt/lib/client'];

/**
 * Version from package.json (or `version`, e.g. a release test's bump) and the short git commit ("unknown" outside a
 * git checkout), baked into the bundle.
 */
export function versionInfo(repoRoot, versionOverride) {
  const version = versionOverride ?? JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')).version;
  let commit = 'unknown';
  try {
    commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'ignore'] })
      .toString()
      .trim();
  } catch {
    // Not a git checkout (e.g. a source tarball): say so rather than fail.
  }
  return { version, commit };
}

/**
 * One CommonJS file for Node >= 18 holding the program and serialport (loaded lazily by the code), everything but the
 * native addon. Minified, because its source is resident twice in the executable however little of it runs: V8 keeps
 * the whole script as a string on the heap, and the executable's pages it was copied from stay mapped. Measured on the
 * x64 executable at idle (docs/BENCHMARK.md): 1.1 MiB less resident memory than the same bundle unminified. The
 * price is stack traces with short names; the program logs one-line errors, not stacks, so users never see them.
 * With `seaAssets` (a Map), the bundle is the single executables' variant: the deferred packages go there, to be
 * embedded as SEA assets, and the script reads them from the executable.
 */
export async function bundle({ repoRoot, entry, outFile, log, version: versionOverride, seaAssets }) {
  const { version, commit } = versionInfo(repoRoot, versionOverride);
  const addon = serialportAddonPlugin({ repoRoot });
  await mkdir(dirname(outFile), { recursive: true });
  let result;
  try {
    result = await esbuild.build({
      entryPoints: [entry],
      bundle: true,
      platform: 'node',
      format: 'cjs',
      target: TARGET,
      minify: true,
      write: false,
      outfile: outFile,
      metafile: true,
      logLevel: 'silent',
      define: {
        __DSMR_VERSION__: JSON.stringify(version),
        __DSMR_COMMIT__: JSON.stringify(commit),
        // The sources are ES modules (Deno runs them as they are); in a CommonJS bundle import.meta is empty, so
        // point import.meta.url at the bundle file itself.
        'import.meta.url': '__dsmr_import_meta_url',
      },
      banner: { js: 'const __dsmr_import_meta_url = require("node:url").pathToFileURL(__filename).href;' },
      plugins: [deferredPackagesPlugin({ repoRoot, packages: DEFERRED_PACKAGES, target: TARGET, seaAssets }), lazyRequiresPlugin(), addon.plugin],
    });
  } catch (err) {
    const messages = (err.errors ?? []).map((e) => `${e.location ? `${e.location.file}:${e.location.line}: ` : ''}${e.text}`);
    throw new BuildError(`bundling ${relative(repoRoot, entry)} failed:\n  ${messages.join('\n  ') || err.message}`);
  }
  for (const w of result.warnings) log(`esbuild warning: ${w.location ? `${w.location.file}:${w.location.line}: ` : ''}${w.text}`);
  addon.check(result.metafile);
  const contents = asciiOnly(result.outputFiles[0].text);
  // Written aside and renamed, so a process running the previous bundle never reads half a file.
  const partial = `${outFile}.partial`;
  await writeFile(partial, contents);
  await rename(partial, outFile);
  return { version, commit, bytes: Buffer.byteLength(contents) };
}

/**
 * One character above U+00FF anywhere in a script makes V8 keep all of its source as two bytes per character: 1.5
 * MiB more resident memory for this bundle. esbuild escapes such characters in code, not in the comments it keeps
 * (an em dash, an arrow); they are written as \uXXXX there, which in a comment changes nothing.
 * @param {string} text
 */
function asciiOnly(text) {
  return text.replace(/[^\x00-\x7f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
