import { describe, expect, it } from 'vitest';
import { Datalogger, STOP_DEADLINE_MS, STOP_GRACE_MS } from '../../src/core/datalogger.ts';
import { LINE_END_WAIT_MS } from '../../src/core/reading-stage.ts';
import { Output } from '../../src/outputs/output.ts';
import { crc16 } from '../../src/transforms/crc16.ts';
import { formatCrc } from '../../src/transforms/crc-check.ts';
import type { DeliveryResult } from '../../src/sinks/sink.ts';
import { FakeClock } from '../helpers/fake-clock.ts';
import { MemoryBacklog } from '../helpers/memory-backlog.ts';
import { recordingLogger, ScriptedSink, ScriptedSource, type Answer } from '../helpers/scripted.ts';

/** A DSMR 5 telegram with a valid CRC; n makes each one different. */
function telegram(n: number, { lineEnd = true, badCrc = false } = {}): string {
  const body = `/ISK5\\2M550T-1012\r\n\r\n1-3:0.2.8(50)\r\n0-0:1.0.0(261201100000W)\r\n1-0:1.8.1(${String(n).padStart(6, '0')}.000*kWh)\r\n!`;
  const crc = crc16(Buffer.from(body, 'latin1'), 0, body.length) ^ (badCrc ? 1 : 0);
  return `${body}${formatCrc(crc)}${lineEnd ? '\r\n' : ''}`;
}

function setup(answers: ((t: string, attempt: number) => Answer)[] = [() => ({ outcome: 'delivered' })], { statsIntervalMs = 0, minIntervalMs = 0 } = {}) {
  const clock = new FakeClock();
  const log = recordingLogger();
  const source = new ScriptedSource();
  const sinks = answers.map((a) => new ScriptedSink(a));
  const backlogs = sinks.map(() => new MemoryBacklog());
  const outputs = sinks.map((sink, i) => new Output({ name: `http://server${i + 1}`, sink, backlog: backlogs[i], clock, log, minIntervalMs, setAside: () => {}, random: () => 1 }));
  const datalogger = new Datalogger({ source, outputs, clock, log, version: 'test', crcCheck: true, statsIntervalMs });
  let exit: number | undefined;
  void datalogger.done.then((code) => (exit = code));
  return { clock, log, source, sinks, backlogs, outputs, datalogger, exitCode: () => exit };
}

describe('Datalogger', () => {
  it('frames telegrams from any chunking and delivers each, exactly as sent, to every output', async () => {
    const { clock, source, sinks, datalogger } = setup([() => ({ outcome: 'delivered' }), () => ({ outcome: 'delivered' })]);
    datalogger.start();
    const stream = `noise${telegram(1)}${telegram(2)}${telegram(3)}`;
    for (let i = 0; i < stream.length; i += 7) source.feed(stream.slice(i, i + 7));
    await clock.advance(10);
    for (const sink of sinks) expect(sink.received).toEqual([telegram(1), telegram(2), telegram(3)]);
    expect(datalogger.status().input).toMatchObject({ read: 3, accepted: 3, crcFailures: 0 });
  });

  it('drops a telegram with a bad CRC, says so once, and counts the rest', async () => {
    const { clock, source, sinks, log, datalogger } = setup();
    datalogger.start();
    source.feed(telegram(1, { badCrc: true }) + telegram(2) + telegram(3, { badCrc: true }));
    await clock.advance(10);
    expect(sinks[0].received).toEqual([telegram(2)]);
    expect(datalogger.status().input.crcFailures).toBe(2);
    expect(log.lines.filter((l) => l.includes('bad CRC') && l.startsWith('WARN'))).toHaveLength(1);
  });

  it('takes a telegram that stops after its CRC as complete after 200 ms of silence, not before', async () => {
    const { clock, source, sinks, datalogger } = setup();
    datalogger.start();
    source.feed(telegram(1, { lineEnd: false }));
    await clock.advance(LINE_END_WAIT_MS - 1);
    expect(sinks[0].received).toEqual([]);
    await clock.advance(1);
    expect(sinks[0].received).toEqual([telegram(1, { lineEnd: false })]);
  });

  it('tells the source when a telegram proves the line settings (serial auto-detection keeps them)', async () => {
    const { clock, source, datalogger } = setup();
    datalogger.start();
    source.feed('/\x7f\x01 noise at the wrong speed!\r\n');
    await clock.advance(1);
    expect(source.confirmations).toBe(0);
    source.feed(telegram(1));
    await clock.advance(1);
    expect(source.confirmations).toBe(1);
  });

  it('applies SLEEP per output: one telegram per interval', async () => {
    const { clock, source, sinks, datalogger } = setup(undefined, { minIntervalMs: 5000 });
    datalogger.start();
    for (let s = 0; s < 12; s++) {
      source.feed(telegram(s));
      await clock.advance(1000);
    }
    expect(sinks[0].received).toEqual([telegram(0), telegram(5), telegram(10)]);
  });

  it('a consumer that is down delays no other', async () => {
    const { clock, source, sinks, datalogger } = setup([() => ({ outcome: 'unavailable', reason: 'ECONNREFUSED' }), () => ({ outcome: 'delivered' })]);
    datalogger.start();
    for (let s = 0; s < 5; s++) source.feed(telegram(s));
    await clock.advance(10);
    expect(sinks[1].received).toHaveLength(5);
    expect(datalogger.status().outputs.map((o) => [o.state, o.spooledTelegrams])).toEqual([['unavailable', 5], ['up', 0]]);
  });

  it('drains, then stops with status 0, when a file input ends', async () => {
    let isDown = true;
    const { clock, source, sinks, datalogger, exitCode, log } = setup([() => (isDown ? { outcome: 'unavailable', reason: 'ECONNREFUSED' } : { outcome: 'delivered' })]);
    datalogger.start();
    source.feed(telegram(1) + telegram(2));
    source.events!.end();
    await clock.advance(20_000);
    expect(exitCode()).toBeUndefined();
    isDown = false;
    await clock.advance(6000);
    expect(sinks[0].received).toEqual([telegram(1), telegram(2)]);
    expect(exitCode()).toBe(0);
    expect(log.lines.some((l) => l.includes('input ended, everything delivered: stopping'))).toBe(true);
  });

  it('stops as soon as the last telegram of an ended input is delivered, on no timer', async () => {
    const { clock, source, sinks, datalogger, exitCode } = setup([() => ({ outcome: 'delivered' })]);
    datalogger.start();
    source.feed(telegram(1) + telegram(2));
    source.events!.end();
    await clock.advance(0);
    expect(sinks[0].received).toEqual([telegram(1), telegram(2)]);
    expect(exitCode()).toBe(0);
  });

  it('on stop, gives a request in flight the grace period, then keeps what waits in the backlog', async () => {
    const hang: (t: string) => Answer = () => new Promise<DeliveryResult>(() => {});
    const { clock, source, backlogs, datalogger, exitCode, log } = setup([hang]);
    datalogger.start();
    source.feed(telegram(1) + telegram(2));
    await clock.advance(10);
    void datalogger.stop('SIGTERM received');
    await clock.advance(STOP_GRACE_MS - 1);
    expect(exitCode()).toBeUndefined();
    await clock.advance(1);
    expect(exitCode()).toBe(0);
    expect(backlogs[0].count).toBe(2);
    expect(log.lines.at(-1)).toBe('INFO stopped; 2 telegram(s) kept for the next start');
  });

  it('exits by the deadline even when the input will not let go', async () => {
    const { clock, source, datalogger, exitCode } = setup();
    source.stop = () => new Promise<void>(() => {});
    datalogger.start();
    void datalogger.stop('SIGTERM received', 0);
    await clock.advance(STOP_DEADLINE_MS - 1);
    expect(exitCode()).toBeUndefined();
    await clock.advance(1);
    expect(exitCode()).toBe(0);
  });

  it('stops with status 1 when the input fails for good', async () => {
    const { clock, source, datalogger, exitCode } = setup();
    datalogger.start();
    source.events!.failed!(new Error('cannot read capture.txt: EIO'));
    await clock.advance(10);
    expect(exitCode()).toBe(1);
  });

  it('writes a stats line on its interval, with everything counted', async () => {
    const { clock, source, log, datalogger, backlogs } = setup([() => ({ outcome: 'delivered' })], { statsIntervalMs: 600_000 });
    backlogs[0].stats.droppedFull = 3;
    backlogs[0].stats.writeErrors = 1;
    datalogger.start();
    source.feed(telegram(1) + telegram(2, { badCrc: true }) + `/${'x'.repeat(17 * 1024)}`);
    await clock.advance(600_000);
    const stats = log.lines.filter((l) => l.startsWith('INFO stats:'));
    expect(stats).toEqual([
      'INFO stats: telegrams read 2, CRC failures 1, truncated 0, oversized 1; http://server1: forwarded 1, queued 0, rejected 0, dropped, spool full 3, spool write errors 1',
    ]);
  });
});
