// What the endpoint serves, worked out from the snapshot; and the one timer that samples the history and says in the
// log when health changes. Nothing here runs per telegram.
import type { Clock, Timer } from '../core/clock.ts';
import type { DataloggerStatus } from '../core/status.ts';
import type { Logger } from '../log/logger.ts';
import { evaluateHealth, HealthLog, waitingOf, type Health, type HealthLimits } from './health.ts';
import { History, SAMPLE_INTERVAL_MS } from './history.ts';
import { LatestReading, netPowerW, type Reading } from './reading.ts';

export interface View {
  status: DataloggerStatus;
  reading: Reading | undefined;
  health: Health;
}

export class StatusService {
  readonly history = new History();
  private readonly latest = new LatestReading();
  private readonly healthLog: HealthLog;
  private timer: Timer | undefined;
  private stopped = false;
  private sampleFailed = false;

  constructor(
    private readonly snapshot: () => DataloggerStatus,
    private readonly clock: Clock,
    private readonly limits: HealthLimits,
    private readonly log: Logger,
  ) {
    this.healthLog = new HealthLog(log);
  }

  view(): View {
    const status = this.snapshot();
    const reading = this.latest.of(status.latest?.telegram);
    const health = evaluateHealth(status, this.limits);
    return { status, reading, health };
  }

  start(): void {
    this.schedule();
  }

  stop(): void {
    this.stopped = true;
    this.clock.clearTimeout(this.timer);
  }

  /** One sample for the charts, and a health check for the log. */
  sample(): void {
    const { status, reading, health } = this.view();
    this.history.add(status.now, reading ? netPowerW(reading) : undefined, new Map(status.outputs.map((o) => [o.name, waitingOf(o)])));
    this.healthLog.update(health);
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = this.clock.setTimeout(() => {
      try {
        this.sample();
      } catch (err) {
        // The charts may miss a sample; the datalogger must not miss a telegram for it.
        if (!this.sampleFailed) this.log.error(`status sampling: ${(err as Error).stack ?? String(err)}`);
        this.sampleFailed = true;
      }
      this.schedule();
    }, SAMPLE_INTERVAL_MS);
    this.timer.unref?.();
  }
}
