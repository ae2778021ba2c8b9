// GET /metrics: the Prometheus text exposition format (version 0.0.4). Every family has HELP and TYPE, counters end in
// _total, times are Unix seconds, and each output is told apart by its `output` label.
import type { DataloggerStatus, InputState, OutputState, OutputStatus } from '../core/status.ts';
import type { Health } from './health.ts';
import type { Reading } from './reading.ts';

export const METRICS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

const PREFIX = 'dsmr_datalogger_';
const INPUT_STATES: InputState[] = ['open', 'waiting', 'closed'];
const OUTPUT_STATES: OutputState[] = ['up', 'unavailable', 'refused'];

type Labels = Record<string, string>;
type Sample = [Labels, number];

class Exposition {
  private readonly lines: string[] = [];

  family(name: string, type: 'counter' | 'gauge', help: string, samples: Sample[]): void {
    if (samples.length === 0) return;
    const full = PREFIX + name;
    this.lines.push(`# HELP ${full} ${help}`, `# TYPE ${full} ${type}`);
    for (const [labels, value] of samples) this.lines.push(`${full}${formatLabels(labels)} ${formatValue(value)}`);
  }

  /** One sample without labels. */
  single(name: string, type: 'counter' | 'gauge', help: string, value: number | null | undefined): void {
    if (value !== null && value !== undefined) this.family(name, type, help, [[{}, value]]);
  }

  perOutput(name: string, type: 'counter' | 'gauge', help: string, outputs: OutputStatus[], value: (o: OutputStatus) => number | undefined): void {
    const samples: Sample[] = [];
    for (const o of outputs) {
      const v = value(o);
      if (v !== undefined) samples.push([{ output: o.name }, v]);
    }
    this.family(name, type, help, samples);
  }

  toString(): string {
    return `${this.lines.join('\n')}\n`;
  }
}

function formatLabels(labels: Labels): string {
  const pairs = Object.entries(labels).map(([k, v]) => `${k}="${v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"')}"`);
  return pairs.length ? `{${pairs.join(',')}}` : '';
}

function formatValue(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (!Number.isFinite(value)) return value > 0 ? '+Inf' : '-Inf';
  return String(value);
}

const seconds = (ms: number) => ms / 1000;

export function renderMetrics(status: DataloggerStatus, reading: Reading | undefined, health: Health): string {
  const m = new Exposition();
  const { input, outputs } = status;
  m.family('info', 'gauge', 'The running datalogger; always 1.', [[{ version: status.version, input: input.kind }, 1]]);
  m.single('start_time_seconds', 'gauge', 'When the datalogger started, in Unix seconds.', seconds(status.startedAt));
  m.single('healthy', 'gauge', '1 when /health answers 200: the meter talks and every output takes its telegrams.', health.healthy ? 1 : 0);

  m.family('input_state', 'gauge', 'State of the input: 1 for the current one of open, waiting (missing port or bridge) and closed.', INPUT_STATES.map((s) => [{ state: s }, input.state === s ? 1 : 0]));
  m.single('input_state_change_time_seconds', 'gauge', 'When the input last changed state, in Unix seconds.', seconds(input.since));
  m.single('last_telegram_time_seconds', 'gauge', 'When the last telegram passed the checks, in Unix seconds.', input.lastTelegramAt === undefined ? undefined : seconds(input.lastTelegramAt));
  m.single('frames_read_total', 'counter', 'Frames read from the input, before the checks.', input.read);
  m.single('telegrams_total', 'counter', 'Telegrams that passed the checks and went to the outputs.', input.accepted);
  m.single('crc_failures_total', 'counter', 'Telegrams with a wrong CRC.', input.crcFailures);
  m.single('not_telegrams_total', 'counter', 'Frames dropped because they were not a telegram or lacked the CRC they needed.', input.notTelegrams);
  m.single('oversized_frames_total', 'counter', 'Frames that grew past the size bound without an end.', input.oversized);
  m.single('cut_off_frames_total', 'counter', 'Partial telegrams given up: cut short by a new telegram, a lost connection or the end of the input.', input.cutOff);
  m.single('decryption_failures_total', 'counter', 'Encrypted frames that could not be decrypted.', input.decryptionFailures);
  m.single('input_stalls_total', 'counter', 'Times the input went silent past the timeout and was reopened.', input.stalls);

  m.family('output_state', 'gauge', 'State of each output: 1 for the current one of up, unavailable and refused.', outputs.flatMap((o) => OUTPUT_STATES.map((s): Sample => [{ output: o.name, state: s }, o.state === s ? 1 : 0])));
  m.perOutput('output_state_change_time_seconds', 'gauge', 'When the output last changed state, in Unix seconds.', outputs, (o) => seconds(o.since));
  m.perOutput('output_last_delivery_time_seconds', 'gauge', 'When the output last took a telegram, in Unix seconds.', outputs, (o) => (o.lastDeliveredAt === undefined ? undefined : seconds(o.lastDeliveredAt)));
  m.perOutput('output_queued_telegrams', 'gauge', 'Telegrams waiting in memory.', outputs, (o) => o.queuedInMemory);
  m.perOutput('output_spooled_telegrams', 'gauge', 'Telegrams waiting in the spool on disk.', outputs, (o) => o.spooledTelegrams);
  m.perOutput('output_spooled_bytes', 'gauge', 'Bytes the spool holds.', outputs, (o) => o.spooledBytes);
  m.perOutput('output_oldest_waiting_age_seconds', 'gauge', 'Age of the oldest telegram still waiting; 0 when none waits.', outputs, (o) => (o.oldestWaitingAt === undefined ? 0 : seconds(Math.max(0, status.now - o.oldestWaitingAt))));
  m.perOutput('output_delivered_total', 'counter', 'Telegrams the output took.', outputs, (o) => o.delivered);
  m.perOutput('output_rejected_total', 'counter', 'Telegrams the output refused for good, set aside.', outputs, (o) => o.rejected);
  m.perOutput('output_skipped_by_interval_total', 'counter', 'Telegrams not forwarded because of the minimum interval.', outputs, (o) => o.skippedByInterval);
  m.perOutput('output_dropped_spool_full_total', 'counter', 'Oldest telegrams dropped because the spool was full.', outputs, (o) => o.droppedSpoolFull);
  m.perOutput('output_spool_write_errors_total', 'counter', 'Failed writes to the spool.', outputs, (o) => o.spoolWriteErrors);

  if (reading) {
    m.single('power_delivered_watts', 'gauge', 'Power taken from the grid, from the latest telegram.', reading.powerDeliveredW);
    m.single('power_returned_watts', 'gauge', 'Power fed into the grid, from the latest telegram.', reading.powerReturnedW);
    m.family('energy_delivered_kwh', 'gauge', "The meter's register of energy taken from the grid, per tariff, in kWh.", tariffSamples(reading.delivered.tariffs));
    m.family('energy_returned_kwh', 'gauge', "The meter's register of energy fed into the grid, per tariff, in kWh.", tariffSamples(reading.returned.tariffs));
    m.single('gas_delivered_cubic_meters', 'gauge', "The gas meter's register, in m3.", reading.gasM3);
  }
  return m.toString();
}

function tariffSamples(tariffs: Record<string, number>): Sample[] {
  return Object.entries(tariffs).map(([tariff, kwh]) => [{ tariff }, kwh]);
}
