import { describe, expect, it } from 'vitest';
import { Output } from '../../src/outputs/output.ts';
import { MEMORY_QUEUE_LIMIT } from '../../src/buffers/outbox.ts';
import { SLOW_ANSWER_MS } from '../../src/outputs/delivery-driver.ts';
import type { DeliveryResult } from '../../src/sinks/sink.ts';
import { FakeClock } from '../helpers/fake-clock.ts';
import { MemoryBacklog } from '../helpers/memory-backlog.ts';
import { FakeFs } from '../helpers/spool-fake-fs.ts';
import { Spool } from '../../src/buffers/spool/index.ts';
import { recordingLogger, ScriptedSink, type Answer } from '../helpers/scripted.ts';

// One output alone: a scripted consumer, a backlog in memory (durability is the spool's own test subject), fake time.
function setup(answer: (telegram: string, attempt: number) => Answer, options: { minIntervalMs?: number; random?: () => number } = {}) {
  const clock = new FakeClock();
  const sink = new ScriptedSink(answer);
  const backlog = new MemoryBacklog();
  const log = recordingLogger();
  const setAside: string[] = [];
  const output = new Output({
    name: 'http://server',
    sink,
    backlog,
    clock,
    log,
    minIntervalMs: options.minIntervalMs ?? 0,
    setAside: (t, reason) => setAside.push(`${t}: ${reason}`),
    random: options.random ?? (() => 1),
  });
  const offer = (...telegrams: string[]) => telegrams.forEach((t) => output.offer(Buffer.from(t), clock.now()));
  return { clock, sink, backlog, log, setAside, output, offer };
}

const ok: DeliveryResult = { outcome: 'delivered', answer: 'HTTP 201' };
const down: DeliveryResult = { outcome: 'unavailable', reason: 'ECONNREFUSED' };

describe('Output', () => {
  it('delivers in order and keeps a healthy consumer out of the backlog', async () => {
    const { clock, sink, backlog, output, offer } = setup(() => ok);
    output.start();
    offer('a', 'b', 'c');
    await clock.advance(10);
    expect(sink.received).toEqual(['a', 'b', 'c']);
    expect(backlog.count).toBe(0);
    expect(output.status()).toMatchObject({ state: 'up', delivered: 3, queuedInMemory: 0, spooledTelegrams: 0, lastAnswer: 'HTTP 201' });
    await output.stop(100);
  });

  it('moves everything to the backlog while a consumer is away, keeps meter order, and says so once each way', async () => {
    let isDown = true;
    const { clock, sink, backlog, log, output, offer } = setup(() => (isDown ? down : ok));
    output.start();
    offer('1');
    await clock.advance(1);
    expect(backlog.count).toBe(1);
    offer('2', '3', '4');
    expect(backlog.count).toBe(4);
    await clock.advance(30_000);
    expect(output.status()).toMatchObject({ state: 'unavailable', spooledTelegrams: 4, lastAnswer: 'ECONNREFUSED' });
    isDown = false;
    await clock.advance(5000);
    expect(sink.received).toEqual(['1', '2', '3', '4']);
    offer('5');
    await clock.advance(1);
    expect(sink.received).toHaveLength(5);
    expect(backlog.count).toBe(0);
    expect(log.lines.filter((l) => l.includes('unavailable'))).toEqual(['WARN http://server unavailable (ECONNREFUSED); keeping telegrams and retrying']);
    expect(log.lines.filter((l) => l.includes('is back'))).toHaveLength(1);
    await output.stop(100);
  });

  it('has everything delivered within 5 s of the consumer coming back, however long it was away', async () => {
    let isDown = true;
    const { clock, sink, output, offer } = setup(() => (isDown ? down : ok), { random: () => 1 });
    output.start();
    for (let s = 0; s < 3600; s++) {
      offer(`t${s}`);
      await clock.advance(1000);
    }
    const attemptsWhileDown = sink.posts;
    // At most one attempt every few seconds while it is away: no hammering.
    expect(attemptsWhileDown).toBeLessThan(3600 / 4);
    isDown = false;
    await clock.advance(5000);
    expect(sink.received).toHaveLength(3600);
  });

  it('honours Retry-After, but not beyond its cap', async () => {
    let answers = 0;
    const { clock, sink, output, offer } = setup(() => (answers++ === 0 ? { outcome: 'unavailable', reason: 'HTTP 429', retryAfterMs: 20_000 } : ok));
    output.start();
    offer('a');
    await clock.advance(19_000);
    expect(sink.received).toEqual([]);
    await clock.advance(1000);
    expect(sink.received).toEqual(['a']);
  });

  it('asks a refusing consumer again within 30 s, so a key fixed in DSMR-reader is picked up within a minute', async () => {
    let refused = true;
    const { clock, sink, log, output, offer } = setup(() => (refused ? { outcome: 'refused', reason: 'API key rejected by http://server (HTTP 403)' } : ok));
    output.start();
    offer('a', 'b');
    await clock.advance(10 * 60_000);
    expect(output.status()).toMatchObject({ state: 'refused', spooledTelegrams: 2 });
    refused = false;
    await clock.advance(30_000);
    expect(sink.received).toEqual(['a', 'b']);
    expect(log.lines.filter((l) => l.includes('API key rejected'))).toHaveLength(1);
  });

  it('sets a rejected telegram aside and goes on', async () => {
    const { clock, sink, setAside, log, output, offer } = setup((t) => (t === 'bad' ? { outcome: 'rejected', reason: 'HTTP 400: nope' } : ok));
    output.start();
    offer('a', 'bad', 'c');
    await clock.advance(10);
    expect(sink.received).toEqual(['a', 'c']);
    expect(setAside).toEqual(['bad: HTTP 400: nope']);
    expect(output.status()).toMatchObject({ delivered: 2, rejected: 1 });
    expect(log.lines.some((l) => l.startsWith('WARN http://server rejected a telegram: HTTP 400: nope'))).toBe(true);
  });

  it('hands the memory queue to the backlog past its limit, when the consumer answers slower than the meter talks', async () => {
    let release: (() => void) | undefined;
    const { clock, backlog, output, offer } = setup(() => new Promise<DeliveryResult>((resolve) => (release = () => resolve(ok))));
    output.start();
    offer('first');
    await clock.advance(1);
    // While the first request hangs (under the slow-answer bound), telegrams queue in memory, up to the limit.
    for (let i = 1; i < MEMORY_QUEUE_LIMIT; i++) offer(`m${i}`);
    expect(backlog.count).toBe(0);
    offer('one too many');
    expect(backlog.count).toBe(MEMORY_QUEUE_LIMIT + 1);
    release!();
  });

  it('spools what arrives while a request hangs for longer than the slow-answer bound', async () => {
    const { clock, backlog, output, offer } = setup(() => new Promise<DeliveryResult>(() => {}));
    output.start();
    offer('a', 'b');
    await clock.advance(SLOW_ANSWER_MS - 1);
    expect(backlog.count).toBe(0);
    await clock.advance(1);
    expect(backlog.count).toBe(2);
    offer('c');
    expect(backlog.count).toBe(3);
  });

  it('hands what is waiting to the backlog on stop, waiting at most the grace for a request in flight', async () => {
    const { clock, backlog, output, offer } = setup((t) => (t === 'a' ? new Promise<DeliveryResult>(() => {}) : ok));
    output.start();
    offer('a', 'b', 'c');
    await clock.advance(1);
    const stopped = output.stop(5000);
    await clock.advance(5000);
    await stopped;
    expect((await backlog.readBatch(10)).map(String)).toEqual(['a', 'b', 'c']);
  });

  it('delivers a backlog left by an earlier run before anything new', async () => {
    const { clock, sink, backlog, output, offer } = setup(() => ok);
    backlog.append(Buffer.from('old1'), 0);
    backlog.append(Buffer.from('old2'), 0);
    output.start();
    offer('new');
    await clock.advance(10);
    expect(sink.received).toEqual(['old1', 'old2', 'new']);
  });

  it('takes one telegram per minimum interval (DSMR-reader SLEEP, MQTT interval) and counts the rest', async () => {
    const { clock, sink, output, offer } = setup(() => ok, { minIntervalMs: 5000 });
    output.start();
    for (let s = 0; s < 20; s++) {
      offer(`t${s}`);
      await clock.advance(1000);
    }
    expect(sink.received).toEqual(['t0', 't5', 't10', 't15']);
    expect(output.status().skippedByInterval).toBe(16);
  });

  it('reports when the oldest waiting telegram was read', async () => {
    const { clock, output, offer } = setup(() => down);
    const t0 = clock.now();
    output.start();
    offer('a');
    await clock.advance(3000);
    offer('b');
    expect(output.status()).toMatchObject({ oldestWaitingAt: t0, spooledTelegrams: 2 });
  });
});

describe('Output, when the backlog fails', () => {
  it('says once that the backlog cannot be read, tries again, and then delivers everything in order', async () => {
    const { clock, sink, backlog, log, output, offer } = setup(() => ok);
    backlog.append(Buffer.from('old'), 0);
    const readBatch = backlog.readBatch.bind(backlog);
    let failures = 3;
    backlog.readBatch = async (max) => {
      if (failures-- > 0) throw Object.assign(new Error('i/o error'), { code: 'EIO' });
      return readBatch(max);
    };
    output.start();
    offer('new');
    await clock.advance(60_000);
    expect(sink.received).toEqual(['old', 'new']);
    expect(log.lines.filter((l) => l.includes('cannot be read'))).toEqual(['ERROR http://server: the backlog cannot be read (EIO); trying again']);
    expect(log.lines.filter((l) => l.includes('can be read again'))).toHaveLength(1);
  });
});

// The replay with the real spool on a file system the test can kill: acknowledgements run beside the next post,
// so a kill at any moment may send the telegrams in flight again, never fewer.
describe('Output replaying a spool', () => {
  const telegrams = Array.from({ length: 600 }, (_, n) => `telegram ${String(n).padStart(4, '0')}`);

  async function killDuringReplay(killAtPost: number, serverGotIt: boolean): Promise<{ deliveredBeforeKill: string[]; survivors: string[] }> {
    const clock = new FakeClock();
    const fs = new FakeFs(clock);
    const options = { dir: '/spool/server', maxBytes: 10 * 1024 * 1024, segmentBytes: 4096, fs, clock };
    const filling = await Spool.open(options);
    for (const t of telegrams) filling.append(Buffer.from(t), clock.now());
    await filling.close();

    const delivered: string[] = [];
    let deliveredBeforeKill: string[] | undefined;
    let posts = 0;
    const sink = new ScriptedSink((t) => {
      if (++posts < killAtPost) {
        delivered.push(t);
        return ok;
      }
      // kill -9 while this post is in flight (what runs beside it has had its time), before or after the server
      // took it; the process never hears back.
      if (serverGotIt) delivered.push(t);
      clock.setTimeout(() => {
        fs.kill();
        deliveredBeforeKill = [...delivered];
      }, 1);
      return new Promise<DeliveryResult>(() => undefined);
    });
    const backlog = await Spool.open(options);
    const output = new Output({ name: 'http://server', sink, backlog, clock, log: recordingLogger(), minIntervalMs: 0, setAside: () => undefined });
    output.start();
    for (let turn = 0; turn < 10_000 && deliveredBeforeKill === undefined; turn++) await clock.advance(1);
    // What the dead process had already handed to the kernel still lands (its open files are gone).
    await clock.advance(10);
    clock.forget();
    expect(deliveredBeforeKill, 'the kill came').toBeDefined();
    const restarted = await Spool.open(options);
    const survivors = (await restarted.readBatch(Number.MAX_SAFE_INTEGER)).map((b) => b.toString('latin1'));
    return { deliveredBeforeKill: deliveredBeforeKill!, survivors };
  }

  it('sends again after a kill at most the two telegrams whose acknowledgements were in flight, and loses none', async () => {
    for (const killAtPost of [1, 2, 3, 17, 255, 256, 257, 258, 300, 511, 599, 600]) for (const serverGotIt of [false, true]) {
      const { deliveredBeforeKill, survivors } = await killDuringReplay(killAtPost, serverGotIt);
      const what = `kill at post ${killAtPost} (${serverGotIt ? 'after' : 'before'} the server took it)`;
      // Nothing lost: what waits after the restart runs, in order, from near where the kill came to the end.
      const first = telegrams.indexOf(survivors[0] ?? '');
      expect(survivors, what).toEqual(telegrams.slice(first < 0 ? telegrams.length : first));
      expect(first < 0 ? telegrams.length : first, what).toBeLessThanOrEqual(deliveredBeforeKill.length);
      // Sent again: only those delivered while their acknowledgement (or the one before) had not reached the disk.
      expect(deliveredBeforeKill.length - (first < 0 ? telegrams.length : first), what).toBeLessThanOrEqual(2);
    }
  });
});
