// An esbuild plugin that keeps big packages which only some set-ups use out of the code Node parses at start-up.
// Each is bundled on its own, deflated, and carried in the main bundle as one base64 string; the first require()
// (the program's `await import('mqtt')`) inflates and compiles it. The single executables carry it as a SEA asset
// instead (`seaAssets`), outside the script: V8 keeps a script's whole source on the heap, and the executable's pages
// it was copied from stay mapped, so 180 KB of base64 cost 0.8 MiB resident in every set-up (measured on Node 24). Measured on Node 24 (docs/BENCHMARK.md): mqtt.js
// and what it pulls in are 1.1 MB of source, and parsing them costs 3.4 MiB resident memory in every set-up, MQTT or
// not; as a deflated string they cost 0.3 MB, and inflating and compiling them once takes a few milliseconds.
import { deflateRawSync } from 'node:zlib';
import * as esbuild from 'esbuild';

const NAMESPACE = 'deferred-package';

/**
 * readable-stream is Node's own stream module published for browsers and old Nodes; mqtt.js and mqtt-packet each
 * bring a copy (78 KB minified each, with debug, string_decoder, abort-controller and event-target-shim: half of
 * mqtt.js's deferred bundle). Node >= 18, which every build target is, has the same classes in node:stream, loaded
 * anyway by the datalogger's serial port and sockets.
 * @type {import('esbuild').Plugin}
 */
const coreStreamsPlugin = {
  name: 'core-streams',
  setup(build) {
    build.onResolve({ filter: /^readable-stream$/ }, () => ({ path: 'node:stream', external: true }));
  },
};

/**
 * @param {{ repoRoot: string, packages: string[], target: string, seaAssets?: Map<string, Buffer> }} options
 *   seaAssets: when given, each package's deflated bundle is put there under its asset name, not in the script.
 * @returns {import('esbuild').Plugin}
 */
export function deferredPackagesPlugin({ repoRoot, packages, target, seaAssets }) {
  const filter = new RegExp(`^(${packages.map((p) => p.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')).join('|')})$`);
  return {
    name: 'deferred-packages',
    setup(build) {
      build.onResolve({ filter }, (args) => ({ path: args.path, namespace: NAMESPACE }));
      build.onLoad({ filter: /.*/, namespace: NAMESPACE }, async (args) => {
        const chunk = await esbuild.build({
          stdin: { contents: `module.exports = require(${JSON.stringify(args.path)});`, resolveDir: repoRoot, loader: 'js' },
          bundle: true,
          platform: 'node',
          format: 'cjs',
          target,
          minify: true,
          write: false,
          logLevel: 'silent',
          plugins: [coreStreamsPlugin],
        });
        const deflated = deflateRawSync(chunk.outputFiles[0].contents, { level: 9 });
        const asset = `deferred/${args.path}`;
        seaAssets?.set(asset, deflated);
        const carried = seaAssets
          ? `Buffer.from(require('node:sea').getRawAsset(${JSON.stringify(asset)}))`
          : `Buffer.from(${JSON.stringify(deflated.toString('base64'))}, 'base64')`;
        const file = `${args.path} (deferred bundle)`;
        return {
          loader: 'js',
          warnings: chunk.warnings,
          contents: [
            `const source = require('node:zlib').inflateRawSync(${carried}).toString('utf8');`,
            `const load = require('node:vm').compileFunction(source, ['exports', 'require', 'module', '__filename', '__dirname'], { filename: ${JSON.stringify(file)} });`,
            'load.call(module.exports, module.exports, require, module, __filename, __dirname);',
            '',
          ].join('\n'),
        };
      });
    },
  };
}
