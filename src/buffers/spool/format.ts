// Which format a spool directory is in, so a release never misreads, or deletes, a backlog a newer release wrote.
//
// The `FORMAT` file holds one line, "dsmr-datalogger spool format N". No such file: version 1 (the previous
// release, records without a read time). Version 2 adds the read time to every record (record.ts); its records
// live next to version 1 ones after an upgrade, which is why both are read. A release writes its version there
// before it writes its first segment into a directory, and refuses a directory with a higher one.
import { join } from 'node:path';
import { writeFully, type SpoolFs } from './fs-port.ts';

export const FORMAT_FILE = 'FORMAT';
export const CURRENT_FORMAT = 2;
const OLDEST_FORMAT = 1;
const LINE = /^dsmr-datalogger spool format (\d+)\n?$/;

/** A spool directory this release must not touch. */
export class SpoolFormatError extends Error {
  constructor(
    readonly dir: string,
    readonly found: string,
  ) {
    super(
      `the spool ${dir} is in format ${found}, this release reads formats ${OLDEST_FORMAT} to ${CURRENT_FORMAT}; ` +
        `it was left untouched: run the release that wrote it, or move the directory away to start an empty spool`,
    );
    this.name = 'SpoolFormatError';
  }
}

/** The directory's format version; throws SpoolFormatError for one this release does not know. */
export async function readFormat(fs: SpoolFs, dir: string): Promise<number> {
  const bytes = await fs.readFile(join(dir, FORMAT_FILE));
  if (bytes === undefined) return OLDEST_FORMAT;
  const text = bytes.toString('latin1');
  const match = LINE.exec(text);
  if (!match) throw new SpoolFormatError(dir, `"${text.slice(0, 40).trim()}" (unrecognised ${FORMAT_FILE} file)`);
  const version = Number(match[1]);
  if (version < OLDEST_FORMAT || version > CURRENT_FORMAT) throw new SpoolFormatError(dir, String(version));
  return version;
}

/** Records the current version, durably and atomically (a crash leaves the old file or the new one, never half). */
export async function writeFormat(fs: SpoolFs, dir: string): Promise<void> {
  const path = join(dir, FORMAT_FILE);
  const temporary = `${path}.new`;
  const file = await fs.open(temporary, 'w+');
  try {
    await writeFully(file, Buffer.from(`dsmr-datalogger spool format ${CURRENT_FORMAT}\n`), 0);
    await file.sync();
  } finally {
    await file.close().catch(() => undefined);
  }
  await fs.rename(temporary, path);
  await fs.syncDirectory(dir).catch(() => undefined);
}
