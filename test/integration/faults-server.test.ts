// Fault injection, server side: the built datalogger against a DSMR-reader that is down, overloaded, slow, refuses
// the key, or cannot parse one telegram. Every test ends the same way: every telegram read arrived, byte for byte,
// in meter order, and duplicates (at-least-once) are counted and few.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { allSegmentFiles, inspectSpool, spoolDirs } from '../helpers/spool-inspect.ts';
import { sleep } from '../helpers/wait.ts';
import { expectDelivered, idOf, makeTelegrams, readCount, RETRY_DEADLINE_MS, Scene, waitForDelivery, waitForReads } from './faults-kit.ts';

let scene: Scene;

beforeEach(() => {
  scene = new Scene();
});

afterEach(async () => {
  await scene.close();
});

const concat = (telegrams: Buffer[]) => Buffer.concat(telegrams);

describe('faults: the server', () => {
  it('is down for a while (connection refused): everything read meanwhile arrives afterwards, in order', async () => {
    const api = await scene.server();
    // More than one replay batch (256) waits by the time the server is back.
    const sent = makeTelegrams(630, 11);
    const dl = scene.startOnStdin(api);
    dl.proc.stdin!.write(concat(sent.slice(0, 30)));
    await waitForDelivery(api, 30, 20_000);
    await api.down();
    // Down for a few seconds, with telegrams arriving all along (a longer outage only means longer backoff).
    for (let i = 30; i < 600; i += 190) {
      dl.proc.stdin!.write(concat(sent.slice(i, i + 190)));
      await sleep(1000);
    }
    await waitForReads(dl, 600);
    await dl.waitForLine(/unavailable \(ECONNREFUSED/);
    await api.up();
    dl.proc.stdin!.write(concat(sent.slice(600)));
    await waitForDelivery(api, sent.length, RETRY_DEADLINE_MS);
    await dl.waitForLine(/is back; \d+ telegram\(s\) waiting are being delivered/);
    // The input ends: the datalogger delivers what is left and exits on its own.
    dl.proc.stdin!.end();
    expect((await dl.waitForExit(15_000)).code).toBe(0);
    const duplicates = expectDelivered(api.stored, sent, 2);
    console.log(`server down for a while: ${sent.length} telegrams, ${duplicates} duplicate(s)`);
    // Said once when it went away, not once per retry.
    expect(dl.lines.filter((l) => / unavailable \(/.test(l))).toHaveLength(1);
  }, 120_000);

  it('answers 503 and 429, with and without Retry-After: retried, Retry-After honoured, nothing lost', async () => {
    const api = await scene.server();
    const sent = makeTelegrams(40, 12);
    // Post 10: 503 asking for 3 s (more than the first backoff step, 1 s at most); 11: a bare 503; 12: 429, 1 s.
    const trouble: Record<number, { status: number; body: string; headers?: Record<string, string> }> = {
      10: { status: 503, body: 'Service Unavailable', headers: { 'Retry-After': '3' } },
      11: { status: 503, body: '<html><body><h1>503 Service Unavailable</h1></body></html>' },
      12: { status: 429, body: '{"detail":"Request was throttled."}', headers: { 'Retry-After': '1' } },
    };
    api.behaviour = ({ telegramIndex }) => trouble[telegramIndex];
    const dl = scene.startOnStdin(api);
    dl.proc.stdin!.end(concat(sent));
    await waitForDelivery(api, sent.length, RETRY_DEADLINE_MS);
    expect((await dl.waitForExit(15_000)).code).toBe(0);
    expectDelivered(api.stored, sent, 0);
    const statuses = api.requests.map((r) => r.status);
    expect(statuses.slice(10, 13)).toEqual([503, 503, 429]);
    // The next try waited at least as long as the server asked (timer granularity aside).
    expect(api.requests[11].at - api.requests[10].at).toBeGreaterThanOrEqual(2990);
    expect(api.requests[13].at - api.requests[12].at).toBeGreaterThanOrEqual(990);
    expect(dl.lines.some((l) => /unavailable \(HTTP 503: Service Unavailable\)/.test(l))).toBe(true);
  }, 120_000);

  it('is slower than the timeout: the request is retried (a duplicate the server stored late), order holds', async () => {
    const api = await scene.server();
    const sent = makeTelegrams(40, 13);
    // Posts 5-7 take 2.5 s; the datalogger gives up after 1 s. DSMR-reader would still have stored them.
    api.behaviour = ({ telegramIndex }) => (telegramIndex >= 5 && telegramIndex <= 7 ? { status: 201, delayMs: 2500 } : undefined);
    const dl = scene.startOnStdin(api, { DSMRREADER_REMOTE_DATALOGGER_TIMEOUT: '1' });
    dl.proc.stdin!.end(concat(sent));
    await waitForDelivery(api, sent.length, RETRY_DEADLINE_MS);
    expect((await dl.waitForExit(15_000)).code).toBe(0);
    // The three slow answers were each for the same telegram, which arrived again with the fast answer: 3 duplicates.
    const duplicates = expectDelivered(api.stored, sent, 3);
    expect(duplicates).toBe(3);
    expect(dl.lines.filter((l) => /unavailable \(ETIMEDOUT/.test(l))).toHaveLength(1);
  }, 120_000);

  it('refuses the key (403): keeps everything, says so once; restarted with the right key, all arrive in order', async () => {
    const api = await scene.server();
    const sent = makeTelegrams(40, 14);
    const wrong = scene.startOnStdin(api, { DSMRREADER_REMOTE_DATALOGGER_API_KEYS: 'not-the-right-key-000000' });
    wrong.proc.stdin!.write(concat(sent.slice(0, 20)));
    await wrong.waitForLine(/ERROR .*API key rejected by \S+ \(HTTP 403\); keeping all telegrams/);
    wrong.proc.stdin!.write(concat(sent.slice(20, 30)));
    await waitForReads(wrong, 30);
    expect(api.stored).toHaveLength(0);
    const stopped = await wrong.stop('SIGTERM');
    expect(stopped.code).toBe(0);
    await wrong.waitForLine(/stopped; 30 telegram\(s\) kept for the next start/);
    expect(wrong.lines.filter((l) => /API key rejected/.test(l))).toHaveLength(1);
    // Kept on disk, all 30, none acknowledged.
    const [dir] = spoolDirs(scene.dataDir);
    expect(inspectSpool(dir).pending.map(idOf)).toEqual(sent.slice(0, 30).map(idOf));

    const right = scene.startOnStdin(api);
    await right.waitForLine(/30 telegram\(s\) from an earlier run go out first/);
    right.proc.stdin!.end(concat(sent.slice(30)));
    await waitForDelivery(api, sent.length, 30_000);
    expect((await right.waitForExit(15_000)).code).toBe(0);
    expectDelivered(api.stored, sent, 0);
  }, 60_000);

  it('cannot parse one telegram (500) and refuses another (400): both set aside with the reason, delivery goes on', async () => {
    const api = await scene.server();
    const sent = makeTelegrams(30, 15);
    const unparsable = idOf(sent[7]);
    const refused = idOf(sent[15]);
    api.behaviour = ({ telegram }) => {
      if (idOf(telegram) === unparsable) return { status: 500, body: 'Failed to parse telegram: invalid literal for int() with base 10' };
      if (idOf(telegram) === refused) return { status: 400, body: '{"telegram":["Invalid telegram."]}' };
      return undefined;
    };
    const dl = scene.startOnStdin(api);
    dl.proc.stdin!.end(concat(sent));
    expect((await dl.waitForExit(30_000)).code).toBe(0);
    const expected = sent.filter((_, i) => i !== 7 && i !== 15);
    expectDelivered(api.stored, expected, 0);
    // Each was tried once: a refusal is not retried.
    expect(api.requests.filter((r) => idOf(r.telegram) === unparsable)).toHaveLength(1);
    expect(api.requests.filter((r) => idOf(r.telegram) === refused)).toHaveLength(1);
    const rejectedDir = join(scene.dataDir, 'rejected');
    const files = readdirSync(rejectedDir);
    expect(files).toHaveLength(1);
    const text = readFileSync(join(rejectedDir, files[0]), 'latin1');
    const first = text.indexOf('HTTP 500: Failed to parse telegram: invalid literal for int() with base 10\n');
    const second = text.indexOf('HTTP 400: {"telegram":["Invalid telegram."]}\n');
    expect(first).toBeGreaterThanOrEqual(0);
    expect(second).toBeGreaterThan(first);
    expect(text.indexOf(sent[7].toString('latin1'))).toBeGreaterThan(first);
    expect(text.indexOf(sent[15].toString('latin1'))).toBeGreaterThan(second);
    expect(dl.lines.some((l) => /WARN .*rejected a telegram: HTTP 500: Failed to parse telegram.*delivery goes on/.test(l))).toBe(true);
    expect(dl.lines.some((l) => /WARN .*rejected a telegram: HTTP 400: .*delivery goes on/.test(l))).toBe(true);
  });

  it('is healthy: nothing is written to the spool (0 bytes in segment files)', async () => {
    const api = await scene.server();
    const sent = makeTelegrams(60, 16);
    const dl = scene.startOnStdin(api);
    // At a meter's pace, a few at a time, each batch delivered before the next: the memory queue is for this.
    for (let i = 0; i < sent.length; i += 5) {
      dl.proc.stdin!.write(concat(sent.slice(i, i + 5)));
      await waitForDelivery(api, i + 5, 10_000);
    }
    expect(readCount(dl)).toBe(sent.length);
    const spooled = () => allSegmentFiles(scene.dataDir).reduce((n, f) => n + statSync(f.path).size, 0);
    expect(spooled()).toBe(0);
    dl.proc.stdin!.end();
    expect((await dl.waitForExit(15_000)).code).toBe(0);
    expect(spooled()).toBe(0);
    expectDelivered(api.stored, sent, 0);
  });
});
