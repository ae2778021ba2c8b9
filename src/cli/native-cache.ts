import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { nodeCrypto } from '../core/lazy-crypto.ts';

// The single executables carry serialport's native addon as a Node SEA asset (see scripts/lib/pkg-sea-runner.mjs).
// dlopen() needs a real file, so on first use of the serial port the addon is copied to
// `$PKG_NATIVE_CACHE_PATH/pkg/<sha256>/` (the variable and the layout are the ones @yao-pkg/pkg uses, default base
// `$HOME/.cache`). Supervisor's `user=dsmr` has HOME unset or unwritable, hence ensureNativeCachePath(), which points
// the variable into the data directory. The variable is read when the addon is loaded, not at start-up: no pkg
// bootstrap runs in these executables (pkg's own, used by its file-system mode, reads it once at start).

interface SeaModule {
  isSea(): boolean;
  getRawAsset(key: string): ArrayBuffer;
}

function seaModule(): SeaModule | undefined {
  try {
    // getBuiltinModule: Node >= 20.16; on older Node (the arm archive may run on 18) there can be no SEA anyway.
    const get = (process as { getBuiltinModule?: (id: string) => unknown }).getBuiltinModule;
    return typeof get === 'function' ? (get('node:sea') as SeaModule | undefined) : undefined;
  } catch {
    return undefined;
  }
}

/** The build stores each asset's sha256 beside it (see scripts/lib/sea-binaries.mjs), so no start needs node:crypto. */
export const ASSET_HASH_SUFFIX = '.sha256';

/** True when running as one of the single executables, false under plain Node, Deno and vitest. */
export function insideSingleExecutable(): boolean {
  return seaModule()?.isSea() === true;
}

/**
 * Inside a single executable, points PKG_NATIVE_CACHE_PATH at `<dataDir>/.cache` unless the user set it, and
 * creates `<that>/pkg`: the data directory is the one place the service user must be able to write anyway. Returns
 * the directory in use, or undefined outside a single executable (nothing to extract there). Call it before the
 * serial port is first opened.
 */
export function ensureNativeCachePath(dataDir: string): string | undefined {
  if (!insideSingleExecutable()) return undefined;
  const base = process.env.PKG_NATIVE_CACHE_PATH || join(dataDir, '.cache');
  process.env.PKG_NATIVE_CACHE_PATH = base;
  try {
    mkdirSync(join(base, 'pkg'), { recursive: true });
  } catch (err) {
    throw new Error(
      `cannot create the native addon cache ${join(base, 'pkg')}: ${(err as Error).message}; ` +
        'make DSMR_DATALOGGER_DATA_DIR writable for this user, or set PKG_NATIVE_CACHE_PATH to a writable directory',
    );
  }
  return base;
}

/**
 * Inside a single executable: the path of a loadable copy of the embedded asset `key`, written under
 * `$PKG_NATIVE_CACHE_PATH/pkg/<sha256>/<key>` if not already there intact. Elsewhere: undefined.
 */
export function extractedAddon(key: string): string | undefined {
  const sea = seaModule();
  if (!sea?.isSea()) return undefined;
  let content: Buffer;
  try {
    content = Buffer.from(sea.getRawAsset(key));
  } catch (err) {
    throw new Error(`this executable carries no ${key}: ${(err as Error).message}`);
  }
  const hash = embeddedHash(sea, key) ?? sha256(content);
  const dir = join(nativeCacheBase(), 'pkg', hash);
  const target = join(dir, key);
  // Reuse an earlier copy only when it is intact: a half-written or altered file would be loaded as code.
  if (existsSync(target) && readFileSync(target).equals(content)) return target;
  try {
    mkdirSync(dir, { recursive: true });
    // Written aside and renamed, so two processes starting at once never load a partly written file.
    const partial = `${target}.${process.pid}.partial`;
    writeFileSync(partial, content, { mode: 0o755 });
    renameSync(partial, target);
  } catch (err) {
    throw new Error(
      `cannot extract the serial port addon to ${dir}: ${(err as Error).message}; ` +
        'set PKG_NATIVE_CACHE_PATH to a directory this user can write',
    );
  }
  return target;
}

function nativeCacheBase(): string {
  if (process.env.PKG_NATIVE_CACHE_PATH) return process.env.PKG_NATIVE_CACHE_PATH;
  try {
    return join(homedir(), '.cache');
  } catch (err) {
    // No HOME and no passwd entry for this uid.
    throw new Error(`cannot find a place for the serial port addon (${(err as Error).message}); set PKG_NATIVE_CACHE_PATH`);
  }
}

/** The sha256 the build stored for asset `key`, or undefined for an executable built without it. */
function embeddedHash(sea: SeaModule, key: string): string | undefined {
  try {
    const hex = Buffer.from(sea.getRawAsset(key + ASSET_HASH_SUFFIX)).toString('latin1').trim();
    return /^[0-9a-f]{64}$/.test(hex) ? hex : undefined;
  } catch {
    return undefined;
  }
}

function sha256(content: Uint8Array): string {
  return nodeCrypto().createHash('sha256').update(content).digest('hex');
}
