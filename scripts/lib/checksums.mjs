import { rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { hashFile } from './node-runtimes.mjs';

export const SUMS_NAME = 'SHA256SUMS';

/** Writes SHA256SUMS in `sha256sum -c` format for exactly the named files of outDir, sorted. */
export async function writeChecksums(outDir, names) {
  const lines = [];
  for (const name of [...names].sort()) lines.push(`${await hashFile(join(outDir, name), 'sha256', 'hex')}  ${name}\n`);
  const partial = join(outDir, `${SUMS_NAME}.partial`);
  await writeFile(partial, lines.join(''));
  await rename(partial, join(outDir, SUMS_NAME));
}
