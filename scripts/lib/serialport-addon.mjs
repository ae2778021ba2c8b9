import { dirname, join } from 'node:path';
import { SEA_ADDON_ASSET } from './pins.mjs';
import { BuildError } from './run.mjs';

// @serialport/bindings-cpp finds its addon with node-gyp-build relative to its own __dirname. Bundled, __dirname is
// the bundle's folder, so that lookup would miss. This plugin swaps that one module for a loader that knows the three
// places the bundle runs from:
//   - the single executable: the addon is the SEA asset SEA_ADDON_ASSET, copied to a real file by extractedAddon()
//     (src/cli/native-cache.ts); there require() serves only builtins, hence process.dlopen;
//   - the portable arm archive: lib/prebuilds/linux-arm/ beside lib/dsmr-datalogger.cjs, node-gyp-build picking
//     armv6 or armv7 from the running node;
//   - a checkout: the package as installed in node_modules, found by Node's resolution from the bundle's folder.

const BINDINGS_MODULE = /[\\/]@serialport[\\/]bindings-cpp[\\/]dist[\\/]serialport-bindings\.js$/;

function loaderSource(nativeCacheModule) {
  return `"use strict";
const fs = require("node:fs");
const path = require("node:path");
const { extractedAddon } = require(${JSON.stringify(nativeCacheModule)});
function installedPackageDir() {
  try {
    return path.dirname(require.resolve("@serialport/bindings-cpp/package.json"));
  } catch {
    return undefined;
  }
}
function addonPath() {
  const embedded = extractedAddon(${JSON.stringify(SEA_ADDON_ASSET)});
  if (embedded) return embedded;
  const packageDir = fs.existsSync(path.join(__dirname, "prebuilds")) ? __dirname : installedPackageDir() || __dirname;
  return require("node-gyp-build").path(packageDir);
}
const addon = { exports: {} };
process.dlopen(addon, addonPath());
exports.binding = addon.exports;
`;
}

/** The esbuild plugin, plus a check to run on the finished build's metafile. */
export function serialportAddonPlugin({ repoRoot }) {
  let replaced = false;
  const plugin = {
    name: 'serialport-addon',
    setup(build) {
      build.onLoad({ filter: BINDINGS_MODULE }, (args) => {
        replaced = true;
        return {
          contents: loaderSource(join(repoRoot, 'src', 'cli', 'native-cache.ts')),
          loader: 'js',
          resolveDir: dirname(args.path),
        };
      });
    },
  };
  const check = (metafile) => {
    const bundlesBindings = Object.keys(metafile.inputs).some((input) => input.includes('@serialport/bindings-cpp'));
    if (bundlesBindings && !replaced) {
      throw new BuildError(
        'the bundle contains @serialport/bindings-cpp but its addon loader was not replaced; ' +
          'its file layout changed, update BINDINGS_MODULE in scripts/lib/serialport-addon.mjs',
      );
    }
  };
  return { plugin, check };
}
