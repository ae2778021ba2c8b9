// When to try again. Pure, so the policy is tested without waiting.
export interface BackoffPolicy {
  baseMs: number;
  capMs: number;
  /** Full jitter: a random delay up to the exponential ceiling, so many dataloggers do not retry in step. */
  jitter: boolean;
}

/** Reconnecting to a P1 network bridge: 1 s doubling up to 30 s. */
export const RECONNECT_POLICY: BackoffPolicy = { baseMs: 1000, capMs: 30_000, jitter: false };
/**
 * A consumer that did not answer: 1 s doubling up to 5 s, full jitter. The cap is low on purpose: whatever the length
 * of an outage, a consumer that is back has everything waiting within seconds, and one attempt every few seconds at
 * one connection is no load for a server that is down. The jitter keeps many dataloggers from retrying in step.
 */
export const DELIVERY_POLICY: BackoffPolicy = { baseMs: 1000, capMs: 5000, jitter: true };
/**
 * A consumer that answered "wrong key", "API disabled" or "no such page": a person must act, so ask rarely, but often
 * enough that a fixed key is picked up within a minute.
 */
export const REFUSED_POLICY: BackoffPolicy = { baseMs: 10_000, capMs: 30_000, jitter: false };
/** A Retry-After longer than this is not honoured in full: the user expects delivery to resume soon after an outage. */
export const RETRY_AFTER_CAP_MS = 60_000;

/** attempt counts from 0 for the first retry. */
export function backoffDelay(policy: BackoffPolicy, attempt: number, random: () => number = Math.random): number {
  const ceiling = Math.min(policy.capMs, policy.baseMs * 2 ** Math.min(attempt, 30));
  return policy.jitter ? Math.round(random() * ceiling) : ceiling;
}

/** Retry-After as seconds or an HTTP date; undefined when absent or unreadable. Capped, so a server cannot stall us for days. */
export function parseRetryAfter(value: string | undefined, now: number, capMs = RETRY_AFTER_CAP_MS): number | undefined {
  if (!value) return undefined;
  const v = value.trim();
  let ms: number;
  if (/^\d+$/.test(v)) ms = Number(v) * 1000;
  else {
    const at = Date.parse(v);
    if (Number.isNaN(at)) return undefined;
    ms = at - now;
  }
  return Math.max(0, Math.min(ms, capMs));
}
