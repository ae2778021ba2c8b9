#!/usr/bin/env node
// npm run release -- [--base-url URL] [--version X.Y.Z] [--out-dir dist] [--cache-dir .cache]
//
// Builds one release into dist/ (see build.mjs): both executables, the 32-bit ARM archive, the bundle, install.sh and
// SHA256SUMS over exactly these. install.sh gets the release's version and the base URL its files are published at,
// so `curl -fsSL BASE/install.sh | sudo sh` installs this same release, checked against this release's SHA256SUMS.
// Default base URL: https://github.com/OWNER/NAME/releases/download/vX.Y.Z from package.json's repository.
import { exitOnError, main } from './build.mjs';
import { BuildError } from './lib/run.mjs';

const args = process.argv.slice(2);
const partial = args.find((arg) => ['--bundle-only', '--runtimes-only', '--test-runtimes'].includes(arg));
if (partial) exitOnError(new BuildError(`${partial} is not a release; use node scripts/build.mjs ${partial}`));
main(args).catch(exitOnError);
