import { describe, expect, it } from 'vitest';
import { Outbox, type Sink } from '../../src/buffers/outbox.ts';
import { MemoryBacklog } from '../helpers/memory-backlog.ts';
import type { DeliveryResult } from '../../src/sinks/classify.ts';
import { createLogger } from '../../src/log/logger.ts';

// The delivery logic alone: a scripted server and a backlog in memory (durability is the spool's own test subject).
function setup(answers: (telegram: string, attempt: number) => DeliveryResult) {
  const delivered: string[] = [];
  const setAside: string[] = [];
  const lines: string[] = [];
  const attempts = new Map<string, number>();
  const sink: Sink = {
    async post(t) {
      const key = t.toString();
      const n = (attempts.get(key) ?? 0) + 1;
      attempts.set(key, n);
      const result = answers(key, n);
      if (result.outcome === 'delivered') delivered.push(key);
      return result;
    },
  };
  const backlog = new MemoryBacklog();
  const fast = { baseMs: 1, capMs: 5, jitter: false };
  const outbox = new Outbox({
    name: 'http://server',
    sink,
    backlog,
    log: createLogger('debug', (l) => lines.push(l.replace(/^\S+ /, '').trim())),
    setAside: (t, reason) => setAside.push(`${t}: ${reason}`),
    retry: { unavailable: fast, refused: fast },
  });
  return { outbox, backlog, delivered, setAside, lines };
}

async function until(check: () => boolean, ms = 5000) {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 2));
  }
}

const ok: DeliveryResult = { outcome: 'delivered' };

describe('Outbox', () => {
  it('delivers in order and keeps a healthy server out of the backlog', async () => {
    const { outbox, backlog, delivered } = setup(() => ok);
    outbox.start();
    for (const t of ['a', 'b', 'c']) outbox.enqueue(Buffer.from(t));
    await until(() => delivered.length === 3);
    expect(delivered).toEqual(['a', 'b', 'c']);
    expect(backlog.count).toBe(0);
    await outbox.stop(100);
  });

  it('moves everything to the backlog while a server is away, keeps meter order, and says so once each way', async () => {
    let down = true;
    const { outbox, backlog, delivered, lines } = setup(() => (down ? { outcome: 'unavailable', reason: 'ECONNREFUSED' } : ok));
    outbox.start();
    outbox.enqueue(Buffer.from('1'));
    await until(() => backlog.count === 1);
    for (const t of ['2', '3', '4']) outbox.enqueue(Buffer.from(t));
    expect(backlog.count).toBe(4);
    await new Promise((r) => setTimeout(r, 50));
    down = false;
    await until(() => delivered.length === 4);
    expect(delivered).toEqual(['1', '2', '3', '4']);
    outbox.enqueue(Buffer.from('5'));
    await until(() => delivered.length === 5);
    expect(backlog.count).toBe(0);
    expect(lines.filter((l) => l.includes('unavailable'))).toEqual(['WARN http://server unavailable (ECONNREFUSED); keeping telegrams and retrying']);
    expect(lines.filter((l) => l.includes('is back'))).toHaveLength(1);
    await outbox.stop(100);
  });

  it('sets a rejected telegram aside and goes on', async () => {
    const { outbox, delivered, setAside, lines } = setup((t) => (t === 'bad' ? { outcome: 'rejected', reason: 'HTTP 400: nope' } : ok));
    outbox.start();
    for (const t of ['a', 'bad', 'c']) outbox.enqueue(Buffer.from(t));
    await until(() => delivered.length === 2);
    expect(delivered).toEqual(['a', 'c']);
    expect(setAside).toEqual(['bad: HTTP 400: nope']);
    expect(outbox.stats).toEqual({ delivered: 2, rejected: 1 });
    expect(lines.some((l) => l.startsWith('WARN http://server rejected a telegram: HTTP 400: nope'))).toBe(true);
    await outbox.stop(100);
  });

  it('keeps everything while the key is refused, and says so once', async () => {
    let refused = true;
    const { outbox, delivered, lines } = setup(() => (refused ? { outcome: 'refused', reason: 'API key rejected by http://server (HTTP 403)' } : ok));
    outbox.start();
    for (const t of ['a', 'b']) outbox.enqueue(Buffer.from(t));
    await new Promise((r) => setTimeout(r, 60));
    refused = false;
    await until(() => delivered.length === 2);
    expect(delivered).toEqual(['a', 'b']);
    expect(lines.filter((l) => l.includes('API key rejected'))).toHaveLength(1);
    await outbox.stop(100);
  });

  it('hands what is waiting to the backlog on stop', async () => {
    const { outbox, backlog } = setup(() => ({ outcome: 'unavailable', reason: 'down' }));
    outbox.start();
    for (const t of ['a', 'b', 'c']) outbox.enqueue(Buffer.from(t));
    await outbox.stop(100);
    expect((await backlog.readBatch(10)).map(String)).toEqual(['a', 'b', 'c']);
  });

  it('delivers a backlog left by an earlier run before anything new', async () => {
    const { outbox, backlog, delivered } = setup(() => ok);
    backlog.append(Buffer.from('old1'), 0);
    backlog.append(Buffer.from('old2'), 0);
    outbox.start();
    outbox.enqueue(Buffer.from('new'));
    await until(() => delivered.length === 3);
    expect(delivered).toEqual(['old1', 'old2', 'new']);
    await outbox.stop(100);
  });
});
