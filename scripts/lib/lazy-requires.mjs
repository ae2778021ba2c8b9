import { readFile } from 'node:fs/promises';
import { BuildError } from './run.mjs';

// Built-in modules a dependency requires at its top but uses only on a path the datalogger rarely takes. Loading a
// built-in costs resident memory in every process, used or not (its source pages, its compiled code): child_process
// with what it pulls in (dgram, dns, socket lists) is 0.5 MiB at idle, measured on Node 24. Each entry turns one
// top-level `require` into a getter that loads the module at first use.
const LAZY = [
  {
    // SerialPort.list() on Linux spawns udevadm; reading a port never does.
    file: /[\\/]@serialport[\\/]bindings-cpp[\\/]dist[\\/]linux-list\.js$/,
    eager: 'const child_process_1 = require("child_process");',
    lazy: 'const child_process_1 = { get spawn() { return require("child_process").spawn; } };',
  },
];

/** The esbuild plugin; the build fails when a dependency no longer has the line to replace. */
export function lazyRequiresPlugin() {
  return {
    name: 'lazy-requires',
    setup(build) {
      for (const { file, eager, lazy } of LAZY) {
        build.onLoad({ filter: file }, async (args) => {
          const source = await readFile(args.path, 'utf8');
          if (!source.includes(eager)) {
            throw new BuildError(`${args.path} no longer has \`${eager}\`; update scripts/lib/lazy-requires.mjs`);
          }
          return { contents: source.replace(eager, lazy), loader: 'js' };
        });
      }
    },
  };
}
