// The one periodic line: enough to see at a glance that all is well, rare enough to spare an SD card.
import type { DataloggerStatus } from '../core/status.ts';

export function formatStats(s: DataloggerStatus): string {
  const i = s.input;
  const input = [
    `telegrams read ${i.read}`,
    `CRC failures ${i.crcFailures}`,
    `truncated ${i.cutOff}`,
    ...optional('not telegrams', i.notTelegrams),
    ...optional('oversized', i.oversized),
    ...optional('decryption failures', i.decryptionFailures),
    ...optional('stalls', i.stalls),
  ];
  const outputs = s.outputs.map((o) => {
    const parts = [
      `forwarded ${o.delivered}`,
      `queued ${o.queuedInMemory + o.spooledTelegrams}`,
      `rejected ${o.rejected}`,
      ...optional('skipped by interval', o.skippedByInterval),
      ...optional('dropped, spool full', o.droppedSpoolFull),
      ...optional('spool write errors', o.spoolWriteErrors),
    ];
    return `${o.name}: ${parts.join(', ')}`;
  });
  return `stats: ${input.join(', ')}; ${outputs.join('; ')}`;
}

function optional(label: string, n: number): string[] {
  return n ? [`${label} ${n}`] : [];
}
