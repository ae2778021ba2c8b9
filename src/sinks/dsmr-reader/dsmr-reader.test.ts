import { describe, expect, it } from 'vitest';
import { classifyResponse } from './delivery-result.ts';
import { encodeFormField } from './encode.ts';

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
    expect(encodeFormField('telegram', telegram)).toBe('telegram=%2FISk5%5C2+%0D%0A%AB%00%21%2B%26%3D%25');
  });
  it('encodes every ASCII byte by the rule, and the bytes escape() leaves alone too', () => {
    const ascii = Buffer.from(Array.from({ length: 128 }, (_, i) => i));
    const safe = /[0-9A-Za-z*._-]/;
    const expected = [...ascii].map((b) => (b === 0x20 ? '+' : safe.test(String.fromCharCode(b)) ? String.fromCharCode(b) : `%${b.toString(16).toUpperCase().padStart(2, '0')}`)).join('');
    expect(encodeFormField('t', ascii)).toBe(`t=${expected}`);
    expect(encodeFormField('t', Buffer.from("1-0:1.8.1(000123.456*kWh)\r\n!'~ %C3%C2"))).toBe('t=1-0%3A1.8.1%28000123.456*kWh%29%0D%0A%21%27%7E+%25C3%25C2');
    expect(encodeFormField('t', ascii.subarray(40, 42))).toBe('t=%28%29');
    expect(encodeFormField('t', Buffer.from('a@b+c/d e'))).toBe('t=a%40b%2Bc%2Fd+e');
  });
  it('round-trips all 256 byte values', () => {
    const all = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    const encoded = encodeFormField('t', all).slice(2);
    const decoded = Buffer.from(encoded.replace(/\+/g, ' ').replace(/%([0-9A-F]{2})/g, (_, h) => String.fromCharCode(parseInt(h, 16))), 'latin1');
    expect(decoded.equals(all)).toBe(true);
  });
});

