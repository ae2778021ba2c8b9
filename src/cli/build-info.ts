import { readFileSync } from 'node:fs';

// Replaced by esbuild `define` in the bundle (scripts/lib/bundle.mjs). Under vitest or Deno the source runs unbundled,
// the identifiers do not exist, and `typeof` keeps that from being a ReferenceError.
declare const __DSMR_VERSION__: string | undefined;
declare const __DSMR_COMMIT__: string | undefined;

export interface BuildInfo {
  version: string;
  /** Short git commit of the build, "unknown" when built outside git, "dev" when running from source. */
  commit: string;
  /** The JavaScript runtime: Node's version, or Deno's. */
  node: string;
  arch: string;
}

export function buildInfo(): BuildInfo {
  return {
    version: typeof __DSMR_VERSION__ === 'string' ? __DSMR_VERSION__ : sourceVersion(),
    commit: typeof __DSMR_COMMIT__ === 'string' ? __DSMR_COMMIT__ : 'dev',
    node: runtimeVersion(),
    arch: process.arch,
  };
}

/** The line `--version` prints, e.g. `dsmr-datalogger 0.1.0 (commit 331d1af, node v24.21.0, arch x64)`. */
export function formatVersion(info: BuildInfo = buildInfo()): string {
  const runtime = info.node.startsWith('deno') ? info.node : `node ${info.node}`;
  return `dsmr-datalogger ${info.version} (commit ${info.commit}, ${runtime}, arch ${info.arch})`;
}

function runtimeVersion(): string {
  // Deno's node compatibility layer reports a Node version in process.version; say what really runs.
  const deno = (globalThis as { Deno?: { version?: { deno?: string } } }).Deno;
  return deno?.version?.deno ? `deno ${deno.version.deno}` : process.version;
}

function sourceVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', (import.meta as { url: string }).url), 'utf8')) as { version?: unknown };
    return typeof pkg.version === 'string' ? pkg.version : 'unknown';
  } catch {
    return 'unknown';
  }
}
