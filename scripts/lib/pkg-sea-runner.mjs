// Runs @yao-pkg/pkg's SEA pipeline for one target; started by sea-binaries.mjs under the fetched Node 24, because
// pkg --sea needs Node >= 22 and a blob generator of exactly the target's version.
//
//   node pkg-sea-runner.mjs '{"entry": "...", "arch": "x64", "nodeVersion": "24.21.0", "output": "...", "assets": {...}}'
//
// Why pkg's sea() function and not its command line: the command line offers two modes and neither fits.
//  - "Simple" SEA (a plain .js input) embeds just the script; it cannot carry the serial port addon.
//  - "Enhanced" SEA (a package.json input) carries files in a virtual file system whose bootstrap patches fs,
//    module loading and dlopen. Measured on the same bundle, it adds ~6 MB (13%) resident memory at idle over stock
//    Node, and its dlopen patch calls os.homedir() at start-up, which throws (exit 1, before any of our code) when
//    HOME is unset and the uid has no passwd entry.
// sea() is the simple pipeline (fetch-or-reuse runtime, generate the blob, postject) and accepts a Node SEA config,
// whose `assets` embed the addon as a raw blob that the program reads with node:sea's getRawAsset(): the binary
// holds the executables' bundle, the deflated packages it defers and one addon, and runs no bootstrap besides Node's own.
import { createRequire } from 'node:module';
import { SEA_EXEC_ARGV } from './sea-exec-argv.mjs';

const require = createRequire(import.meta.url);
const { entry, arch, nodeVersion, output, assets } = JSON.parse(process.argv[2]);

let sea;
try {
  sea = require('@yao-pkg/pkg/lib-es5/sea.js').default;
} catch (err) {
  sea = undefined;
  process.stderr.write(`cannot load @yao-pkg/pkg/lib-es5/sea.js: ${err.message}\n`);
}
if (typeof sea !== 'function') {
  process.stderr.write('@yao-pkg/pkg no longer exports sea() from lib-es5/sea.js; update scripts/lib/pkg-sea-runner.mjs\n');
  process.exit(1);
}

await sea(entry, {
  targets: [{ nodeRange: `node${nodeVersion}`, platform: 'linux', arch, output }],
  // The trailing `--`: what follows on the command line is the program's, never Node's.
  seaConfig: { assets, execArgv: [...SEA_EXEC_ARGV, '--'] },
});
