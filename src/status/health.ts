// When the datalogger is healthy: the meter talks, and every output takes what waits for it. One rule set for
// /health, the page, `dsmr-datalogger status` and the log.
import type { DataloggerStatus, OutputStatus } from '../core/status.ts';
import type { Logger } from '../log/logger.ts';
import { formatDuration, plural } from './format.ts';

export interface HealthLimits {
  /** Longest silence of the meter. */
  silenceMs: number;
  /** Longest time an output may refuse, or deliver nothing while telegrams wait. */
  stallMs: number;
}

export interface Problem {
  /** "input", or the output's name: what the problem is about, so that the log says each one once. */
  subject: string;
  kind: 'silent' | 'refused' | 'stalled';
  message: string;
}

export interface Health {
  healthy: boolean;
  problems: Problem[];
}

export function waitingOf(output: OutputStatus): number {
  return output.queuedInMemory + output.spooledTelegrams;
}

export function evaluateHealth(status: DataloggerStatus, limits: HealthLimits): Health {
  const problems: Problem[] = [];
  const input = inputProblem(status, limits);
  if (input) problems.push(input);
  for (const output of status.outputs) {
    const problem = outputProblem(status, output, limits);
    if (problem) problems.push(problem);
  }
  return { healthy: problems.length === 0, problems };
}

function inputProblem(status: DataloggerStatus, limits: HealthLimits): Problem | undefined {
  const { input, now } = status;
  // A fresh start has had no chance to read a telegram yet: it gets the same allowance as a silence.
  const silentFor = now - (input.lastTelegramAt ?? status.startedAt);
  if (silentFor <= limits.silenceMs) return undefined;
  const where = `${input.kind} ${input.target}${input.state === 'open' ? '' : `, ${input.state}`}`;
  const message = input.lastTelegramAt === undefined
    ? `no telegram from the meter since the start ${formatDuration(silentFor)} ago (${where})`
    : `no telegram from the meter for ${formatDuration(silentFor)} (${where})`;
  return { subject: 'input', kind: 'silent', message };
}

function outputProblem(status: DataloggerStatus, output: OutputStatus, limits: HealthLimits): Problem | undefined {
  const { now } = status;
  const answer = output.lastAnswer ? ` (last answer: ${output.lastAnswer})` : '';
  if (output.state === 'refused' && now - output.since > limits.stallMs) {
    return { subject: output.name, kind: 'refused', message: `${output.name} has refused telegrams for ${formatDuration(now - output.since)}${answer}` };
  }
  const waiting = waitingOf(output);
  if (waiting === 0) return undefined;
  // Stuck since the last delivery, or since the wait began if that is later; time before this start is not counted.
  const stuckSince = Math.max(output.lastDeliveredAt ?? 0, output.oldestWaitingAt ?? 0, status.startedAt);
  if (now - stuckSince <= limits.stallMs) return undefined;
  const message = `${output.name} has delivered nothing for ${formatDuration(now - stuckSince)} with ${plural(waiting, 'telegram')} waiting${answer}`;
  return { subject: output.name, kind: 'stalled', message };
}

/** Says in the log when a problem appears and when it is gone: once per change, never per evaluation. */
export class HealthLog {
  /** Subject → the kind of problem logged, e.g. "refused" or "stalled": a change of kind is a new line. */
  private readonly current = new Map<string, string>();

  constructor(private readonly log: Logger) {}

  update(health: Health): void {
    const seen = new Set<string>();
    for (const problem of health.problems) {
      seen.add(problem.subject);
      if (this.current.get(problem.subject) === problem.kind) continue;
      this.current.set(problem.subject, problem.kind);
      this.log.warn(`unhealthy: ${problem.message}`);
    }
    for (const subject of [...this.current.keys()]) {
      if (seen.has(subject)) continue;
      this.current.delete(subject);
      this.log.info(subject === 'input' ? 'healthy again: the meter is talking' : `healthy again: ${subject} is taking telegrams`);
    }
  }
}

