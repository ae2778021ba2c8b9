import { describe, expect, it } from 'vitest';
import { backoffDelay, DELIVERY_POLICY, parseRetryAfter, RECONNECT_POLICY } from '../../src/policy/backoff.ts';
import { classifyResponse } from '../../src/sinks/classify.ts';
import { encodeFormField } from '../../src/sinks/form-encode.ts';
import { MinimumInterval } from '../../src/transforms/min-interval.ts';

describe('backoff', () => {
  it('doubles from 1 s up to 30 s when reconnecting to a bridge', () => {
    expect([0, 1, 2, 3, 4, 5, 6, 50].map((a) => backoffDelay(RECONNECT_POLICY, a))).toEqual([1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000]);
  });
  it('draws delivery retries with full jitter below an exponential ceiling capped at 5 min', () => {
    expect(backoffDelay(DELIVERY_POLICY, 0, () => 0.5)).toBe(500);
    expect(backoffDelay(DELIVERY_POLICY, 3, () => 0.999)).toBe(7992);
    expect(backoffDelay(DELIVERY_POLICY, 40, () => 1)).toBe(300_000);
    expect(backoffDelay(DELIVERY_POLICY, 2, () => 0)).toBe(0);
  });
  it('reads Retry-After as seconds or a date, capped', () => {
    const now = Date.parse('2026-11-24T10:00:00Z');
    expect(parseRetryAfter('120', now)).toBe(120_000);
    expect(parseRetryAfter('Tue, 24 Nov 2026 10:00:30 GMT', now)).toBe(30_000);
    expect(parseRetryAfter('86400', now)).toBe(300_000);
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(parseRetryAfter(undefined, now)).toBeUndefined();
  });
});

describe("DSMR-reader's answers", () => {
  const host = 'http://dsmr.local';
  it.each([
    [200, '', 'delivered'],
    [201, '', 'delivered'],
    [403, '{"detail":"Invalid token."}', 'refused'],
    [405, '', 'refused'],
    [404, 'Not Found', 'refused'],
    [400, 'telegram: This field is required', 'rejected'],
    [500, 'Failed to parse telegram: CRC mismatch', 'rejected'],
    [500, '<h1>Server Error (500)</h1>', 'unavailable'],
    [502, 'Bad Gateway', 'unavailable'],
    [503, '', 'unavailable'],
    [429, '', 'unavailable'],
  ])('%i %j → %s', (status, body, outcome) => {
    expect(classifyResponse(status, body, undefined, host).outcome).toBe(outcome);
  });
  it('says what a refusal means', () => {
    expect(classifyResponse(403, '', undefined, host)).toEqual({ outcome: 'refused', reason: 'API key rejected by http://dsmr.local (HTTP 403)' });
    expect(classifyResponse(405, '', undefined, host)).toMatchObject({ reason: expect.stringContaining('API disabled on http://dsmr.local') });
    expect(classifyResponse(503, '', '7', host, 0)).toEqual({ outcome: 'unavailable', reason: 'HTTP 503', retryAfterMs: 7000 });
  });
});

describe('form encoding', () => {
  it('percent-encodes every byte that is not plainly safe, from bytes, not from a string', () => {
    const telegram = Buffer.from([0x2f, 0x49, 0x53, 0x6b, 0x35, 0x5c, 0x32, 0x20, 0x0d, 0x0a, 0xab, 0x00, 0x21, 0x2b, 0x26, 0x3d, 0x25]);
    expect(encodeFormField('telegram', telegram).toString('latin1')).toBe('telegram=%2FISk5%5C2+%0D%0A%AB%00%21%2B%26%3D%25');
  });
  it('round-trips all 256 byte values', () => {
    const all = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    const encoded = encodeFormField('t', all).toString('latin1').slice(2);
    const decoded = Buffer.from(encoded.replace(/\+/g, ' ').replace(/%([0-9A-F]{2})/g, (_, h) => String.fromCharCode(parseInt(h, 16))), 'latin1');
    expect(decoded.equals(all)).toBe(true);
  });
});

describe('minimum interval', () => {
  it('passes the first telegram, then one per interval, tolerating a meter that is a little early', () => {
    const gate = new MinimumInterval(5000);
    const times = [0, 1000, 2000, 3000, 4000, 4900, 5900, 9800, 10000, 14850];
    expect(times.filter((t) => gate.admit(t))).toEqual([0, 4900, 9800, 14850]);
  });
  it('passes everything at 0', () => {
    const gate = new MinimumInterval(0);
    expect([0, 0, 1, 2].every((t) => gate.admit(t))).toBe(true);
  });
});
