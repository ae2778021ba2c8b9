// A DSMR-reader answer to a posted telegram, as a delivery outcome.
import type { DeliveryResult } from '../sink.ts';
import { describeAnswer, readAnswer } from './answers.ts';
import { parseRetryAfter } from '../../policy/backoff.ts';

export function classifyResponse(status: number, body: string, retryAfter: string | undefined, host: string, now = Date.now()): DeliveryResult {
  const answer = readAnswer(status, body);
  const said = describeAnswer(answer);
  switch (answer.meaning) {
    case 'stored':
      return { outcome: 'delivered', answer: `HTTP ${status}` };
    case 'bad-data':
      return { outcome: 'rejected', reason: status === 400 && !answer.said ? 'HTTP 400: bad request' : said };
    case 'key-rejected':
      return { outcome: 'refused', reason: `API key rejected by ${host} (HTTP 403)` };
    case 'api-disabled':
      return { outcome: 'refused', reason: `API disabled on ${host} (HTTP 405): enable it in DSMR-reader's API settings` };
    case 'not-dsmr-reader':
      return { outcome: 'refused', reason: `${host} has no DSMR-reader datalogger API (HTTP ${status}): check the address` };
    default:
      return { outcome: 'unavailable', reason: said, retryAfterMs: parseRetryAfter(retryAfter, now) };
  }
}
