import { parseRetryAfter } from '../policy/backoff.ts';

// What DSMR-reader's answer means for the telegram and for the server.
export type DeliveryResult =
  /** Stored: 200 from older DSMR-reader versions, 201 from recent ones. */
  | { outcome: 'delivered' }
  /** This one telegram was refused (400, or DSMR-reader's 500 "Failed to parse telegram"): set it aside, go on. */
  | { outcome: 'rejected'; reason: string }
  /** The server refuses all telegrams until a person acts: wrong key, API disabled, not a DSMR-reader API. */
  | { outcome: 'refused'; reason: string }
  /** Not reachable now (connection error, timeout, 429, 5xx): keep everything and retry. */
  | { outcome: 'unavailable'; reason: string; retryAfterMs?: number };

const MAX_REASON = 200;

function brief(body: string): string {
  const text = body.replace(/<[^>]*>/g, ' ').replace(/\s+/g, ' ').trim();
  return text.length > MAX_REASON ? `${text.slice(0, MAX_REASON)}…` : text;
}

export function classifyResponse(status: number, body: string, retryAfter: string | undefined, host: string, now = Date.now()): DeliveryResult {
  if (status === 200 || status === 201) return { outcome: 'delivered' };
  if (status === 403) return { outcome: 'refused', reason: `API key rejected by ${host} (HTTP 403)` };
  if (status === 405) return { outcome: 'refused', reason: `API disabled on ${host} (HTTP 405): enable it in DSMR-reader's API settings` };
  if (status === 404 || status === 401) return { outcome: 'refused', reason: `${host} has no DSMR-reader datalogger API (HTTP ${status}): check the address` };
  if (status === 400) return { outcome: 'rejected', reason: `HTTP 400: ${brief(body) || 'bad request'}` };
  if (status === 500 && /failed to parse telegram/i.test(body)) return { outcome: 'rejected', reason: `HTTP 500: ${brief(body)}` };
  return { outcome: 'unavailable', reason: `HTTP ${status}${body ? `: ${brief(body)}` : ''}`, retryAfterMs: parseRetryAfter(retryAfter, now) };
}
