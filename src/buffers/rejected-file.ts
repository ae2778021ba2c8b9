import { appendFileSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Logger } from '../log/logger.ts';
import { isoTime } from '../platform/iso-time.ts';

/** Telegrams a server refused for good, each with the server's reason, for the user to look into. Rare, so plain appends. */
export class RejectedFile {
  private failed = false;

  constructor(private readonly path: string, private readonly log: Logger) {}

  add(telegram: Buffer, reason: string): void {
    try {
      mkdirSync(dirname(this.path), { recursive: true });
      appendFileSync(this.path, Buffer.concat([Buffer.from(`# ${isoTime()} ${reason}\n`), telegram, Buffer.from('\n')]));
      this.failed = false;
    } catch (err) {
      if (!this.failed) this.log.warn(`cannot write the rejected telegram to ${this.path} (${(err as NodeJS.ErrnoException).code}); it is dropped`);
      this.failed = true;
    }
  }
}
