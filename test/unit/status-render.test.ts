// What /status, /metrics, /health and / say for a given snapshot: pure renderers, no socket.
import { describe, expect, it } from 'vitest';
import { readingOf } from '../../src/status/reading.ts';
import { renderMetrics } from '../../src/status/metrics.ts';
import { statusDocument } from '../../src/status/document.ts';
import { evaluateHealth } from '../../src/status/health.ts';
import { renderPage } from '../../src/status/page.ts';
import { History } from '../../src/status/history.ts';
import { answer } from '../../src/status/routes.ts';
import { StatusService } from '../../src/status/service.ts';
import { summary } from '../../src/cli/status.ts';
import { FakeClock } from '../helpers/fake-clock.ts';
import { memoryLog, output, status, T0 } from './status-fixture.ts';
import { VALID_BELGIAN, VALID_DSMR5, VALID_KAIFA } from '../helpers/streams.ts';

const limits = { silenceMs: 60_000, stallMs: 300_000 };

describe('the latest reading', () => {
  it('has the meter time, power and totals of a DSMR 5 telegram', () => {
    expect(readingOf(VALID_DSMR5)).toEqual({
      meterTime: '2019-03-24T15:05:19+01:00',
      powerDeliveredW: 378,
      powerReturnedW: 0,
      delivered: { totalKwh: 6657.459, tariffs: { '1': 3432.827, '2': 3224.632 } },
      returned: { totalKwh: 0, tariffs: { '1': 0, '2': 0 } },
      gasM3: null,
      gasTime: null,
    });
  });

  it('has the gas register from the M-Bus channel', () => {
    expect(readingOf(VALID_KAIFA)).toMatchObject({ gasM3: 981.443, gasTime: '2016-11-29T20:00:00+01:00' });
  });

  it('reads a Belgian telegram too', () => {
    const r = readingOf(VALID_BELGIAN);
    expect(r.delivered.tariffs['1']).toBeGreaterThan(0);
    expect(r.powerDeliveredW).not.toBeNull();
  });
});

describe('/metrics', () => {
  const s = status({ outputs: [output(), output({ name: 'http://b"\\\nx', target: 'http://b', state: 'unavailable', spooledTelegrams: 4, oldestWaitingAt: T0 + 4_000 })] });
  const text = renderMetrics(s, readingOf(VALID_DSMR5), evaluateHealth(s, limits));
  const lines = text.trimEnd().split('\n');

  it('gives every family HELP and TYPE before its samples, counters end in _total, all names prefixed', () => {
    const families = new Map<string, string>();
    for (const line of lines) {
      const type = /^# TYPE (\S+) (counter|gauge)$/.exec(line);
      if (type) families.set(type[1], type[2]);
    }
    for (const line of lines.filter((l) => !l.startsWith('#'))) {
      const name = line.split(/[{ ]/)[0];
      expect(families.has(name), line).toBe(true);
      expect(text).toContain(`# HELP ${name} `);
    }
    for (const [name, type] of families) {
      expect(name.startsWith('dsmr_datalogger_')).toBe(true);
      expect(name.endsWith('_total')).toBe(type === 'counter');
    }
  });

  it('says what the snapshot says, with an output label per server, escaped', () => {
    for (const expected of [
      'dsmr_datalogger_telegrams_total 10',
      'dsmr_datalogger_crc_failures_total 2',
      'dsmr_datalogger_cut_off_frames_total 3',
      'dsmr_datalogger_output_delivered_total{output="http://dsmr.local"} 10',
      'dsmr_datalogger_output_state{output="http://b\\"\\\\\\nx",state="unavailable"} 1',
      'dsmr_datalogger_output_oldest_waiting_age_seconds{output="http://b\\"\\\\\\nx"} 6',
      'dsmr_datalogger_power_delivered_watts 378',
      'dsmr_datalogger_energy_delivered_kwh{tariff="2"} 3224.632',
      `dsmr_datalogger_last_telegram_time_seconds ${(T0 + 9_000) / 1000}`,
    ]) expect(lines).toContain(expected);
  });
});

describe('/status', () => {
  it('gives ages in seconds, ISO times, the counts and the decoded reading', () => {
    const s = status({ outputs: [output({ spooledTelegrams: 3, spooledBytes: 2700, oldestWaitingAt: T0 + 7_000 })] });
    const doc = statusDocument(s, readingOf(VALID_DSMR5), evaluateHealth(s, limits));
    expect(doc).toMatchObject({
      version: '9.9.9',
      startedAt: '2025-03-01T12:00:00.000Z',
      uptimeSeconds: 10,
      healthy: true,
      problems: [],
      input: { kind: 'serial', target: '/dev/ttyUSB0', line: '115200 8N1', state: 'open', lastTelegramAgeSeconds: 1, telegramsRead: 12, telegramsAccepted: 10, crcFailures: 2, oversizedFrames: 1, cutOffFrames: 3 },
      outputs: [{ name: 'http://dsmr.local', state: 'up', spooledTelegrams: 3, spooledBytes: 2700, oldestWaitingAgeSeconds: 3, delivered: 10 }],
      latest: { receivedAt: '2025-03-01T12:00:09.000Z', ageSeconds: 1, powerDeliveredW: 378, meterTime: '2019-03-24T15:05:19+01:00' },
    });
  });
});

describe('the page', () => {
  it('shows the meter, power now, each output and its backlog; any text from outside is escaped', () => {
    const s = status({ outputs: [output({ target: 'http://<b>evil</b>', name: 'x', state: 'unavailable', since: T0, spooledTelegrams: 1234, spooledBytes: 1_111_000, lastAnswer: 'ECONNREFUSED' })] }, T0 + 400_000);
    s.input.lastTelegramAt = T0 + 399_000;
    const health = evaluateHealth(s, limits);
    const history = new History();
    history.add(T0 + 100_000, 300, new Map([['x', 1000]]));
    history.add(T0 + 200_000, -500, new Map([['x', 1200]]));
    const html = renderPage({ doc: statusDocument(s, readingOf(VALID_DSMR5), health), health, history, now: s.now });
    expect(html).toMatch(/^<!doctype html>/);
    for (const expected of [
      '<meta http-equiv="refresh" content="15">',
      'Needs attention',
      'x has delivered nothing for 6 min with 1234 telegrams waiting (last answer: ECONNREFUSED)',
      'Talking',
      '378 W <small>from the grid</small>',
      'Unavailable, for 6 min',
      '1234 telegrams waiting (1.1 MiB on disk)',
      '6657.459 kWh',
      '&lt;b&gt;evil&lt;/b&gt;',
    ]) expect(html).toContain(expected);
    expect(html).not.toContain('<b>evil');
    expect(html.match(/<svg /g)).toHaveLength(2);
    expect(html).not.toMatch(/<script|src=|href=/);
  });

  it('says "no data yet" in a chart with nothing to draw', () => {
    const s = status({ latest: undefined, outputs: [] });
    const health = evaluateHealth(s, limits);
    const html = renderPage({ doc: statusDocument(s, undefined, health), health, history: new History(), now: s.now });
    expect(html).toContain('no data yet');
    expect(html).toContain('no reading yet');
  });
});

describe('routes', () => {
  const TOKEN = 'a-token-of-32-characters-0123456';
  const clock = new FakeClock(T0 + 10_000);
  let current = status();
  const service = new StatusService(() => current, clock, limits, memoryLog());

  it('answers each path with its type, 404 elsewhere and 405 to anything but GET and HEAD', () => {
    expect(answer({ method: 'GET', path: '/health' }, service, undefined)).toMatchObject({ status: 200, body: 'ok\n' });
    expect(answer({ method: 'GET', path: '/status' }, service, undefined).headers['content-type']).toBe('application/json; charset=utf-8');
    expect(answer({ method: 'GET', path: '/metrics' }, service, undefined).headers['content-type']).toBe('text/plain; version=0.0.4; charset=utf-8');
    expect(answer({ method: 'GET', path: '/' }, service, undefined).headers['content-security-policy']).toContain("default-src 'none'");
    expect(answer({ method: 'GET', path: '/x' }, service, undefined).status).toBe(404);
    expect(answer({ method: 'POST', path: '/status' }, service, undefined).status).toBe(405);
  });

  it('answers 503 with the reasons as plain text when unhealthy', () => {
    current = status({ input: { ...status().input, lastTelegramAt: T0 } }, T0 + 100_000);
    const a = answer({ method: 'GET', path: '/health' }, service, TOKEN);
    expect(a).toMatchObject({ status: 503, body: 'no telegram from the meter for 100 s (serial /dev/ttyUSB0)\n' });
    current = status();
  });

  it('with a token: 401 and a challenge a browser understands, without it; the page with it', () => {
    const denied = answer({ method: 'GET', path: '/' }, service, TOKEN);
    expect(denied.status).toBe(401);
    expect(denied.headers['www-authenticate']).toEqual(['Bearer realm="dsmr-datalogger"', 'Basic realm="dsmr-datalogger", charset="UTF-8"']);
    expect(denied.body).not.toContain(TOKEN);
    expect(answer({ method: 'GET', path: '/', authorization: `Bearer ${TOKEN}` }, service, TOKEN).status).toBe(200);
  });
});

describe('dsmr-datalogger status', () => {
  it('prints a short summary of the document', () => {
    const s = status({ outputs: [output({ spooledTelegrams: 2, spooledBytes: 1800 })] });
    const text = summary(statusDocument(s, readingOf(VALID_DSMR5), evaluateHealth(s, limits)));
    expect(text).toBe(
      'dsmr-datalogger 9.9.9, up 10 s: healthy\n' +
        'meter: serial /dev/ttyUSB0 (115200 8N1), open; last telegram 1 s ago; 10 telegrams, 2 CRC failures\n' +
        'power: 378 W from the grid (meter time 2019-03-24T15:05:19+01:00); taken in total 6657.459 kWh\n' +
        'http://dsmr.local: up for 10 s; 2 telegrams waiting (1.8 KiB spooled); 10 delivered; last answer: delivered\n',
    );
  });
});
