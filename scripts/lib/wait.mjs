// Scripts wait for conditions with a deadline, never for a fixed time that happens to be long enough here.
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Resolves with the first truthy value of `check`; a check that throws fails the wait at once.
 * @template T
 * @param {() => T | Promise<T>} check
 * @param {{ timeoutMs: number, what: string, intervalMs?: number }} opts
 * @returns {Promise<T>}
 */
export async function waitUntil(check, { timeoutMs, what, intervalMs = 10 }) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() >= deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(intervalMs);
  }
}
