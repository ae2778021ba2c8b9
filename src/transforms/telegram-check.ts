// Which framed telegrams go on to the outputs. (The hardening of these rules comes with the input fuzzing work.)
import { checkCrc, formatCrc, type CrcResult } from './crc-check.ts';
import { isIdentificationStart } from './p1-bytes.ts';

export type CheckVerdict =
  | { accept: true; crc: CrcResult; provesLine: boolean }
  | { accept: false; reason: 'crc' | 'crc-missing' | 'not-a-telegram'; crc: CrcResult; message: string };

export interface TelegramCheckStats {
  crcFailures: number;
  crcMissing: number;
  notTelegrams: number;
}

export class TelegramCheck {
  readonly stats: TelegramCheckStats = { crcFailures: 0, crcMissing: 0, notTelegrams: 0 };

  constructor(private readonly options: { crcCheck: boolean }) {}

  judge(telegram: Buffer): CheckVerdict {
    const crc = checkCrc(telegram);
    if (crc.status === 'invalid') {
      this.stats.crcFailures++;
      const message = `telegram with a bad CRC (${formatCrc(crc.given)} given, ${formatCrc(crc.computed)} computed)`;
      if (this.options.crcCheck) return { accept: false, reason: 'crc', crc, message };
      return { accept: true, crc, provesLine: false };
    }
    // A CRC-less telegram proves the line settings only with a real identification line, not just any '/'.
    return { accept: true, crc, provesLine: crc.status === 'valid' || isIdentificationStart(telegram, 0) };
  }
}
