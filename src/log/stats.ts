import type { Logger } from './logger.ts';
import type { PipelineStats } from '../pipeline.ts';
import type { FramerStats } from '../transforms/framer.ts';
import type { Outbox } from '../buffers/outbox.ts';

export interface StatsSnapshot {
  pipeline: PipelineStats;
  framer: FramerStats;
  servers: { name: string; outbox: Outbox }[];
}

export function formatStats(s: StatsSnapshot): string {
  const servers = s.servers.map(({ name, outbox }) => `${name}: forwarded ${outbox.stats.delivered}, queued ${outbox.queued}, rejected ${outbox.stats.rejected}`);
  const skipped = s.pipeline.skippedByInterval ? `, skipped by interval ${s.pipeline.skippedByInterval}` : '';
  return `stats: telegrams read ${s.pipeline.read}, CRC failures ${s.pipeline.crcFailures}, truncated ${s.framer.truncated}${skipped}; ${servers.join('; ')}`;
}

/** The one periodic line: enough to see at a glance that all is well, rare enough to spare an SD card. */
export class StatsReporter {
  private timer: ReturnType<typeof setInterval> | undefined;

  constructor(private readonly log: Logger, private readonly intervalMs: number, private readonly snapshot: () => StatsSnapshot) {}

  start(): void {
    if (this.intervalMs > 0) this.timer = setInterval(() => this.log.info(formatStats(this.snapshot())), this.intervalMs);
  }

  stop(): void {
    clearInterval(this.timer);
  }
}
