// The serial source's decisions, in-process: a fake clock and a scripted serial backend stand in for time and the
// port, so auto-detection's fallback, the watchdog's reopening and the wait for a missing port are checked to the
// millisecond without a pty.
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../src/log/logger.ts';
import type { DeviceWatch } from '../../src/sources/device-watch.ts';
import type { PortHolder } from '../../src/sources/port-holder.ts';
import { SerialSource, type SerialSourceOptions } from '../../src/sources/serial.ts';
import type { SerialBackend, SerialConnection } from '../../src/sources/serial-backend.ts';
import { describeLine, LINE_115200_8N1, type LineSettings, type SerialSettings } from '../../src/sources/serial-settings.ts';
import { checkCrc } from '../../src/transforms/crc-check.ts';
import { TelegramFramer } from '../../src/transforms/framer.ts';
import { FakeClock } from '../helpers/fake-clock.ts';
import { SimulatedMeter } from '../../src/simulate/meter.ts';

class ScriptedConnection implements SerialConnection {
  closed = false;
  private dataListener: ((chunk: Buffer) => void) | undefined;
  private closeListener: ((err?: Error) => void) | undefined;

  constructor(readonly settings: SerialSettings) {}

  onData(cb: (chunk: Buffer) => void): void {
    this.dataListener = cb;
  }

  onClose(cb: (err?: Error) => void): void {
    this.closeListener = cb;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.closeListener?.();
  }

  deliver(bytes: Buffer): void {
    if (!this.closed) this.dataListener?.(bytes);
  }

  die(err: Error): void {
    this.closed = true;
    this.closeListener?.(err);
  }
}

const errno = (code: string, message: string) => Object.assign(new Error(message), { code });

/** A serial port the test plugs, pulls, lends to another program, and makes the meter talk on. */
class ScriptedPort {
  present = true;
  heldBy: PortHolder[] = [];
  readonly opens: SerialSettings[] = [];
  current: ScriptedConnection | undefined;

  /** While set, an open waits for it: a slow open, to change things while it is under way. */
  gate: Promise<void> | undefined;

  readonly backend: SerialBackend = async (settings) => {
    this.opens.push(settings);
    const present = this.present;
    await this.gate;
    if (!present) throw errno('ENOENT', `cannot open ${settings.path}: no such file or directory`);
    if (this.heldBy.length > 0) throw new Error('Error Resource temporarily unavailable Cannot lock port');
    this.current = new ScriptedConnection(settings);
    return this.current;
  };

  /** The meter sends; what arrives depends on whether the port is open at the meter's own line settings. */
  meterSends(telegram: Buffer, meterLine: LineSettings): void {
    const c = this.current;
    if (!c || c.closed) return;
    const sameLine = describeLine(c.settings) === describeLine(meterLine);
    // At the wrong speed a UART makes noise of the bits: no '/' and no '!' survive.
    c.deliver(sameLine ? telegram : Buffer.from(telegram.map((b) => (b * 7 + 0x80) & 0xff).filter((b) => b !== 0x2f && b !== 0x21)));
  }

  pull(): void {
    this.present = false;
    this.current?.die(errno('EIO', 'read EIO'));
  }
}

class ScriptedWatch {
  readonly started: string[][] = [];
  active = 0;
  private listener: (() => void) | undefined;

  readonly watch: DeviceWatch = (paths, onChange) => {
    this.started.push(paths);
    this.active++;
    this.listener = onChange;
    let open = true;
    return {
      close: () => {
        if (open) this.active--;
        open = false;
        if (this.listener === onChange) this.listener = undefined;
      },
    };
  };

  /** The device's directory changed (the cable is back). */
  fire(): void {
    this.listener?.();
  }
}

function setUp(options: Partial<SerialSourceOptions> = {}) {
  const clock = new FakeClock();
  const port = new ScriptedPort();
  const watch = new ScriptedWatch();
  const lines: string[] = [];
  const holderLookups: string[] = [];
  const source = new SerialSource({
    path: '/dev/ttyUSB0',
    line: LINE_115200_8N1,
    backend: port.backend,
    backendName: 'scripted',
    log: createLogger('debug', (line) => lines.push(line.trimEnd())),
    clock,
    watch: watch.watch,
    findHolders: async (path) => {
      holderLookups.push(path);
      return port.heldBy;
    },
    ...options,
  });
  const received: Buffer[] = [];
  let discontinuities = 0;
  // As the core does: a telegram whose CRC checks out proves the line settings.
  const framer = new TelegramFramer();
  const start = () => source.start({
    data: (chunk) => {
      received.push(chunk);
      for (const telegram of framer.push(chunk)) if (checkCrc(telegram).status === 'valid') source.confirmed?.();
    },
    discontinuity: () => {
      discontinuities++;
      framer.discontinuity();
    },
    end: () => undefined,
  });
  const logged = (re: RegExp) => lines.filter((l) => re.test(l));
  return { clock, port, watch, source, start, lines, logged, received, holderLookups, discontinuities: () => discontinuities };
}

const meter = new SimulatedMeter({ seed: 7, start: new Date('2024-03-01T00:00:00Z'), intervalSeconds: 1 });
const telegram = () => meter.next();
const LINE_9600_7E1_METER: LineSettings = { baudRate: 9600, dataBits: 7, parity: 'even', stopBits: 1, xonxoff: false, rtscts: false };

describe('serial source auto-detection', () => {
  it('falls back from 115200 8N1 to 9600 7E1 when no valid telegram arrives within the window, and stays there', async () => {
    const t = setUp({ line: 'auto', autoWindowMs: 12_000 });
    t.start();
    await t.clock.advance(0);
    expect(t.port.opens.map(describeLine)).toEqual(['115200 8N1']);
    expect(t.source.status()).toMatchObject({ kind: 'serial', target: '/dev/ttyUSB0', line: 'auto', state: 'open' });

    // A DSMR 2.2-style meter at 9600 7E1 sends every 10 s; at 115200 8N1 that is noise.
    for (let s = 0; s < 11; s++) {
      if (s % 10 === 0) t.port.meterSends(telegram(), LINE_9600_7E1_METER);
      await t.clock.advance(1000);
    }
    expect(t.port.opens).toHaveLength(1);
    await t.clock.advance(1000);
    expect(t.port.opens.map(describeLine)).toEqual(['115200 8N1', '9600 7E1']);
    expect(t.logged(/INFO no valid telegram at 115200 8N1 within 12 s; trying 9600 7E1/)).toHaveLength(1);
    expect(t.discontinuities()).toBe(1);
    expect(t.source.status().line).toBe('auto');

    t.port.meterSends(telegram(), LINE_9600_7E1_METER);
    expect(t.logged(/INFO meter found on \/dev\/ttyUSB0 at 9600 7E1/)).toHaveLength(1);
    expect(t.source.status()).toMatchObject({ line: '9600 7E1', state: 'open', stalls: 0 });

    // Found: no more switching, however long the meter takes between telegrams (within the watchdog's timeout).
    for (let s = 0; s < 120; s++) {
      if (s % 10 === 0) t.port.meterSends(telegram(), LINE_9600_7E1_METER);
      await t.clock.advance(1000);
    }
    expect(t.port.opens).toHaveLength(2);
    expect(t.logged(/INFO .*opened at/)).toHaveLength(1);
  });

  it('cycles through the settings while nothing is connected, saying so once', async () => {
    const t = setUp({ line: 'auto', autoWindowMs: 12_000, silenceMs: 5_000 });
    t.start();
    await t.clock.advance(12_000 * 5);
    expect(t.port.opens.map(describeLine)).toEqual(['115200 8N1', '9600 7E1', '115200 8N1', '9600 7E1', '115200 8N1', '9600 7E1']);
    expect(t.logged(/INFO no valid telegram/)).toHaveLength(1);
    // Until the settings are known the watchdog stays out of it: its 5 s would otherwise reopen at the same setting.
    expect(t.source.status().stalls).toBe(0);
  });
});

describe('serial source watchdog', () => {
  it('reopens a port silent past the timeout, logs once per stall, backs off while it stays silent, counts stalls', async () => {
    const t = setUp({ silenceMs: 20_000 });
    t.start();
    await t.clock.advance(0);
    const t0 = t.clock.now();
    for (let s = 0; s < 60; s++) {
      t.port.meterSends(telegram(), LINE_115200_8N1);
      await t.clock.advance(1000);
    }
    expect(t.port.opens).toHaveLength(1);

    // The meter falls silent at t0 + 59 s (its last telegram): reopened 20 s later, not before.
    await t.clock.advance(19_000 - 1);
    expect(t.port.opens).toHaveLength(1);
    await t.clock.advance(1);
    expect(t.port.opens).toHaveLength(2);
    expect(t.clock.now() - t0).toBe(79_000);
    expect(t.logged(/WARN serial port \/dev\/ttyUSB0 silent for 20 s; reopening it/)).toHaveLength(1);
    expect(t.source.status()).toMatchObject({ state: 'open', stalls: 1 });
    expect(t.discontinuities()).toBe(1);

    // Still silent: the next reopens come after 40 s, then 80 s; logged at debug only, still one stall.
    await t.clock.advance(40_000 - 1);
    expect(t.port.opens).toHaveLength(2);
    await t.clock.advance(1);
    expect(t.port.opens).toHaveLength(3);
    await t.clock.advance(80_000);
    expect(t.port.opens).toHaveLength(4);
    expect(t.logged(/WARN .*silent/)).toHaveLength(1);
    expect(t.logged(/DEBUG .*still silent/)).toHaveLength(2);
    expect(t.source.status().stalls).toBe(1);

    // The meter resumes: said once, and the timeout is back to 20 s.
    t.port.meterSends(telegram(), LINE_115200_8N1);
    expect(t.logged(/INFO serial port \/dev\/ttyUSB0 receiving again after 140 s of silence/)).toHaveLength(1);
    await t.clock.advance(20_000);
    expect(t.port.opens).toHaveLength(5);
    expect(t.source.status().stalls).toBe(2);
    expect(t.logged(/WARN .*silent for 20 s/)).toHaveLength(2);
  });

  it('a meter that sends every 10 s is never reopened', async () => {
    const t = setUp({ silenceMs: 20_000 });
    t.start();
    for (let s = 0; s < 600; s += 10) {
      t.port.meterSends(telegram(), LINE_115200_8N1);
      await t.clock.advance(10_000);
    }
    expect(t.port.opens).toHaveLength(1);
    expect(t.source.status().stalls).toBe(0);
  });
});

describe('serial source waiting for a missing port', () => {
  it('waits for a missing port, opens it as soon as its directory changes, and polls slowly behind that', async () => {
    const t = setUp({ reopenMs: 3000 });
    t.start();
    await t.clock.advance(0);
    t.port.pull();
    await t.clock.advance(0);
    expect(t.logged(/WARN serial port \/dev\/ttyUSB0 lost \(EIO\); waiting for it to come back/)).toHaveLength(1);
    expect(t.source.status().state).toBe('waiting');
    expect(t.watch.active).toBe(1);
    expect(t.watch.started.at(-1)?.[0]).toBe('/dev/ttyUSB0');

    const before = t.port.opens.length;
    await t.clock.advance(3000);
    expect(t.port.opens.length).toBe(before + 1);
    expect(t.logged(/WARN .*cannot be opened \(ENOENT\)/)).toHaveLength(1);
    await t.clock.advance(3000 * 4);
    expect(t.port.opens.length).toBe(before + 5);
    expect(t.logged(/WARN .*cannot be opened/)).toHaveLength(1);

    // Plugged back in 1 s after a poll: open at once, with no time passing on the clock.
    await t.clock.advance(1000);
    t.port.present = true;
    const sinceBack = t.clock.now();
    t.watch.fire();
    await t.clock.advance(0);
    expect(t.source.status()).toMatchObject({ state: 'open', since: sinceBack });
    expect(t.clock.now()).toBe(sinceBack);
    expect(t.logged(/INFO serial port \/dev\/ttyUSB0 opened at 115200 8N1/)).toHaveLength(2);
    expect(t.watch.active).toBe(0);

    // No leftover poll reopens the open port.
    await t.clock.advance(10_000 + 3000);
    t.port.meterSends(telegram(), LINE_115200_8N1);
    expect(t.port.opens.length).toBe(before + 6);
  });

  it('a port missing at start is said once, and a watch event during an open attempt is not lost', async () => {
    const t = setUp({ reopenMs: 3000 });
    t.port.present = false;
    t.start();
    await t.clock.advance(3000 * 3);
    expect(t.port.opens).toHaveLength(4);
    expect(t.logged(/WARN serial port \/dev\/ttyUSB0 cannot be opened \(ENOENT\); waiting for it/)).toHaveLength(1);
    expect(t.source.status().state).toBe('waiting');

    // An attempt is under way (slow) when the device's directory changes: the port is back, but that attempt
    // started before it was, and fails.
    let release!: () => void;
    t.port.gate = new Promise<void>((resolve) => (release = resolve));
    await t.clock.advance(3000);
    expect(t.port.opens).toHaveLength(5);
    t.port.present = true;
    t.watch.fire();
    await t.clock.advance(0);
    expect(t.port.opens).toHaveLength(5);
    t.port.gate = undefined;
    release();
    // ... so one more attempt follows at once, without waiting for the poll.
    const failedAt = t.clock.now();
    await t.clock.advance(0);
    expect(t.port.opens).toHaveLength(6);
    expect(t.source.status()).toMatchObject({ state: 'open', since: failedAt });
  });

  it('a busy port names the holder and how to stop it, once per holder', async () => {
    const t = setUp({ reopenMs: 3000 });
    t.port.heldBy = [{ pid: 812, program: 'dsmr-datalogger', supervisorProgram: 'dsmr-datalogger' }];
    t.start();
    await t.clock.advance(3000 * 3);
    const busy = t.logged(/WARN serial port \/dev\/ttyUSB0 is in use by PID 812 \(dsmr-datalogger\); only one program can read the meter: stop it first: sudo supervisorctl stop dsmr-datalogger/);
    expect(busy).toHaveLength(1);
    expect(t.holderLookups).toEqual(['/dev/ttyUSB0', '/dev/ttyUSB0', '/dev/ttyUSB0', '/dev/ttyUSB0']);
    t.port.heldBy = [{ pid: 900, program: 'minicom' }];
    await t.clock.advance(3000);
    expect(t.logged(/WARN .*in use by PID 900 \(minicom\); .*stop PID 900 \(minicom\) first/)).toHaveLength(1);
    t.port.heldBy = [];
    await t.clock.advance(3000);
    expect(t.source.status().state).toBe('open');
    expect(t.logged(/INFO .*opened at/)).toHaveLength(1);
  });

  it('stop() closes the port and leaves no timer or watch behind', async () => {
    const t = setUp();
    t.start();
    await t.clock.advance(0);
    const connection = t.port.current!;
    await t.source.stop();
    expect(connection.closed).toBe(true);
    expect(t.source.status().state).toBe('closed');
    await t.clock.advance(600_000);
    expect(t.port.opens).toHaveLength(1);
    expect(t.watch.active).toBe(0);
  });
});
