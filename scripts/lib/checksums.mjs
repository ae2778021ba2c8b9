import { readdir, rename, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { hashFile } from './node-runtimes.mjs';

export const SUMS_NAME = 'SHA256SUMS';

/**
 * Writes SHA256SUMS in `sha256sum -c` format for every file in outDir (sub-folders included), so whatever lies in
 * dist/ can be checked, not only what this build wrote. Returns the names covered.
 */
export async function writeChecksums(outDir) {
  const files = (await listFiles(outDir))
    .map((f) => relative(outDir, f))
    .filter((name) => name !== SUMS_NAME && !name.endsWith('.partial'))
    .sort();
  const lines = [];
  for (const name of files) lines.push(`${await hashFile(join(outDir, name), 'sha256', 'hex')}  ${name}\n`);
  const partial = join(outDir, `${SUMS_NAME}.partial`);
  await writeFile(partial, lines.join(''));
  await rename(partial, join(outDir, SUMS_NAME));
  return files;
}

async function listFiles(dir) {
  const found = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) found.push(...(await listFiles(path)));
    else if (entry.isFile()) found.push(path);
  }
  return found;
}
