// `dsmr-datalogger detect`: listens to the P1 port (or a network bridge) and says what is on the other end: the line
// settings that work, the meter's header line, its DSMR version, whether its CRCs check out and how often it sends.
// The installer runs it to pick --dsmr-version for the user.

import { ConfigError } from '../config/config-error.ts';
import { DEFAULT_DATA_DIR } from '../config/config.ts';
import { parseCommandLine, type CommandSpec } from '../config/argv.ts';
import { loadSettings } from '../config/load.ts';
import { decodeTelegram, type DecodedTelegram } from '../decode/decode.ts';
import { createLogger, writeStdout, type Logger } from '../log/logger.ts';
import { chooseSerialBackend } from '../sources/choose-backend.ts';
import { describeHolders, findPortHolders, isPortBusy, stopAdvice, type PortHolder } from '../sources/port-holder.ts';
import type { SerialConnection } from '../sources/serial-backend.ts';
import { describeLine, LINE_115200_8N1, LINE_9600_7E1, type LineSettings } from '../sources/serial-settings.ts';
import { TcpSource } from '../sources/tcp.ts';
import { DECRYPTION_KEY_SETTING, type DecryptionState } from '../transforms/decrypting-input.ts';
import { ReadingStage } from '../core/reading-stage.ts';
import { systemClock } from '../core/clock.ts';
import { ensureNativeCachePath } from './native-cache.ts';
import { readDecryptionSettings, type DecryptionSettings } from './inspect.ts';

export const DETECT_USAGE = `Usage: dsmr-datalogger detect [--serial-port PATH | --network HOST:PORT] [--seconds N] [--json]

Listens to the meter and reports the serial settings that work (115200 8N1 for DSMR 4/5, Belgium and Luxembourg
is tried first, then 9600 7E1 for DSMR 2.2/3), the meter's header line, its DSMR version, whether the CRCs check
out and the interval between telegrams. Without --serial-port or --network it uses the datalogger's settings
(DSMRREADER_REMOTE_DATALOGGER_SERIAL_PORT, ... from the environment or --settings FILE), else /dev/ttyUSB0.
Stop the datalogger service first: only one program can read the port.

Options:
  --serial-port PATH     the serial device, e.g. /dev/ttyUSB0
  --network HOST:PORT    a P1 network bridge instead
  --seconds N            how long to listen at each setting (default 25: a DSMR 2.2 meter sends every 10 s)
  --serial-backend NAME  auto, native or stty (default auto)
  --json                 one JSON object instead of text
  --settings FILE        KEY=VALUE file with the datalogger's settings (and DSMR_DATALOGGER_DECRYPTION_KEY);
                         --env-file FILE is the same
  -h, --help             show this help

Exit status: 0 when a meter was found, 1 when not, 2 for a wrong option.
`;

const DEFAULT_SECONDS = 25;
/** Telegrams closer together than this came out of a buffer, not at the meter's pace: no meter sends faster than 1/s. */
const BURST_MS = 500;
const CANDIDATES: LineSettings[] = [LINE_115200_8N1, LINE_9600_7E1];

type Target = { kind: 'serial'; path: string; backend: 'auto' | 'native' | 'stty' } | { kind: 'network'; host: string; port: number };

interface DetectOptions {
  target: Target;
  windowMs: number;
  json: boolean;
  decryption: DecryptionSettings;
  dataDir: string;
}

export interface DetectReport {
  found: boolean;
  input: string;
  /** The serial settings that worked; null for a network bridge or when nothing was found. */
  line: (LineSettings & { text: string }) | null;
  header: string | null;
  manufacturer: string | null;
  /** "5.0", "4.2", ... from 1-3:0.2.8; null when the meter sends no version line. */
  dsmrVersion: string | null;
  variant: 'be' | 'lu' | null;
  /** Telegrams seen at the working setting, by CRC outcome. */
  telegrams: number;
  crcValid: number;
  crcInvalid: number;
  crcAbsent: number;
  /** Median time between telegrams (or encrypted frames) in seconds, rounded to 0.1; null with fewer than two. */
  intervalSeconds: number | null;
  encrypted: boolean;
  /** For encrypted meters: whether the frames could be decrypted. */
  decryption: DecryptionState | null;
  /** The --dsmr-version (DSMR_DATALOGGER_DSMR_VERSION) that gives these settings; null when nothing was found. */
  dsmrVersionSetting: string | null;
  /** Another program has the serial port open, e.g. "PID 812 (dsmr-datalogger)"; null when it is free. */
  portInUse: string | null;
  /** Why nothing was found, or what to look at. */
  notes: string[];
}

export async function runDetect(argv: string[], env: Record<string, string | undefined>): Promise<number> {
  const options = parseDetectOptions(argv, env);
  if (!options) {
    await writeStdout(DETECT_USAGE);
    return 0;
  }
  const report = await detect(options);
  await writeStdout(options.json ? `${JSON.stringify(report, null, 2)}\n` : formatReport(report));
  return report.found ? 0 : 1;
}

const DETECT_COMMAND = {
  command: 'detect',
  options: { network: { value: true }, seconds: { value: true }, json: {} },
  // The datalogger's own settings, by their flags: the port and how to open it.
  settings: ['serialPort', 'serialBackend'],
  settingsFile: true,
} satisfies CommandSpec;

/** Returns null for --help. */
function parseDetectOptions(argv: string[], env: Record<string, string | undefined>): DetectOptions | null {
  const args = parseCommandLine(argv, DETECT_COMMAND);
  if (args.help) return null;
  const { raw } = loadSettings(args.settings, args.settingsFile, env);

  let windowMs = DEFAULT_SECONDS * 1000;
  const seconds = args.options.get('seconds');
  if (seconds !== undefined) {
    const n = /^\d+(\.\d+)?$/.test(seconds.trim()) ? Number(seconds) : NaN;
    if (!(n >= 1 && n <= 3600)) throw new ConfigError(`detect: --seconds is "${seconds}": expected a number of seconds from 1 to 3600, e.g. 25`);
    windowMs = n * 1000;
  }

  const backendText = (raw.serialBackend?.value ?? 'auto').trim().toLowerCase();
  if (backendText !== 'auto' && backendText !== 'native' && backendText !== 'stty') {
    throw new ConfigError(`detect: ${raw.serialBackend!.origin} is "${backendText}": expected auto, native or stty`);
  }
  const network = args.options.get('network');
  const serialPort = args.settings.serialPort?.value;
  if (network !== undefined && serialPort !== undefined) throw new ConfigError('detect: give --serial-port or --network, not both');
  let target: Target;
  if (network !== undefined) {
    target = parseNetwork(network);
  } else if (serialPort === undefined && /^(ipv4|ipv6|network|tcp)$/i.test(raw.inputMethod?.value.trim() ?? '') && raw.networkHost && raw.networkPort) {
    target = parseNetwork(`${raw.networkHost.value.trim()}:${raw.networkPort.value.trim()}`);
  } else {
    const path = (raw.serialPort?.value ?? '/dev/ttyUSB0').trim();
    if (!path.startsWith('/')) throw new ConfigError(`detect: the serial port is "${path}": expected an absolute device path such as /dev/ttyUSB0`);
    target = { kind: 'serial', path, backend: backendText };
  }
  return { target, windowMs, json: args.options.has('json'), decryption: readDecryptionSettings(args.settingsFile, env), dataDir: raw.dataDir?.value || DEFAULT_DATA_DIR };
}

function parseNetwork(text: string): Target {
  const match = /^\[?([A-Za-z0-9.\-:]+?)\]?:(\d{1,5})$/.exec(text.trim());
  const port = match ? Number(match[2]) : NaN;
  if (!match || !(port >= 1 && port <= 65535)) throw new ConfigError(`detect: --network is "${text}": expected HOST:PORT, e.g. 192.168.1.20:8088`);
  return { kind: 'network', host: match[1], port };
}

export async function detect(options: DetectOptions): Promise<DetectReport> {
  if (options.target.kind === 'network') return detectNetwork(options, options.target);
  return detectSerial(options, options.target);
}

async function detectSerial(options: DetectOptions, target: Extract<Target, { kind: 'serial' }>): Promise<DetectReport> {
  const input = `serial ${target.path}`;
  const { backend, fallback } = await chooseSerialBackend(target.backend, () => ensureNativeCachePath(options.dataDir));
  const notes: string[] = fallback ? [fallback] : [];
  // Reading beside the datalogger would split the telegrams between the two and find "nothing" here.
  const holders = await findPortHolders(target.path);
  if (holders.length > 0) return portInUse(input, holders);
  // Telegrams whose CRCs all fail still show a meter is there (a bad cable, a meter that computes it its own way).
  let damaged: { listener: Listener; line: LineSettings } | undefined;
  for (const line of CANDIDATES) {
    let connection: SerialConnection;
    try {
      connection = await backend({ path: target.path, ...line });
    } catch (err) {
      if (isPortBusy(err)) return portInUse(input, await findPortHolders(target.path));
      const e = err as NodeJS.ErrnoException;
      return notFound(input, [`${target.path} cannot be opened (${e.code ?? e.message})${e.code === 'ENOENT' ? ': is the P1 cable plugged in? ls /dev/serial/by-id/ lists the serial devices' : e.code === 'EACCES' ? ': add this user to the dialout group' : ''}`]);
    }
    const listener = new Listener(options.decryption);
    let closed: Error | 'closed' | undefined;
    let closing = false;
    connection.onData((chunk) => listener.push(chunk));
    connection.onClose((err) => {
      if (!closing) closed = err ?? 'closed';
    });
    await listener.waitUntilEnough(options.windowMs, () => closed !== undefined);
    closing = true;
    await connection.close();
    listener.finish();
    if (listener.found) return listener.report(input, line);
    if (listener.plausible > (damaged?.listener.plausible ?? 0)) damaged = { listener, line };
    notes.push(`${describeLine(line)}: ${listener.describeNothing(options.windowMs)}`);
    if (closed !== undefined) {
      notes.push(`the port closed while listening (${closed === 'closed' ? 'closed' : (closed.message ?? String(closed))})`);
      break;
    }
  }
  if (damaged) return damaged.listener.report(input, damaged.line);
  return notFound(input, notes);
}

async function detectNetwork(options: DetectOptions, target: Extract<Target, { kind: 'network' }>): Promise<DetectReport> {
  const input = `network ${target.host}:${target.port}`;
  let problem: string | undefined;
  // The source's own log lines become the report's notes: detect prints one summary, not a log.
  const log = quietLogger((message) => (problem ??= message.split(';')[0]));
  const source = new TcpSource({ host: target.host, port: target.port, silenceMs: options.windowMs, log });
  const listener = new Listener(options.decryption);
  source.start({ data: (chunk) => listener.push(chunk), discontinuity: () => listener.discontinuity(), end: () => undefined });
  await listener.waitUntilEnough(options.windowMs, () => problem !== undefined && listener.bytes === 0);
  await source.stop();
  listener.finish();
  if (listener.found || listener.plausible > 0) return listener.report(input, null);
  return notFound(input, [problem ?? listener.describeNothing(options.windowMs)]);
}

function quietLogger(onProblem: (message: string) => void): Logger {
  const base = createLogger('error', () => undefined);
  return { ...base, error: onProblem, warn: onProblem };
}

function notFound(input: string, notes: string[]): DetectReport {
  return {
    found: false,
    input,
    line: null,
    header: null,
    manufacturer: null,
    dsmrVersion: null,
    variant: null,
    telegrams: 0,
    crcValid: 0,
    crcInvalid: 0,
    crcAbsent: 0,
    intervalSeconds: null,
    encrypted: false,
    decryption: null,
    dsmrVersionSetting: null,
    portInUse: null,
    notes,
  };
}

function portInUse(input: string, holders: PortHolder[]): DetectReport {
  return { ...notFound(input, [stopAdvice(holders)]), portInUse: holders.length > 0 ? describeHolders(holders) : 'another program' };
}

interface Seen {
  at: number;
  decoded: DecodedTelegram;
}

/** Frames what arrives at one setting, decrypting when the meter encrypts, and keeps what detect reports. */
class Listener {
  bytes = 0;
  private readonly telegrams: Seen[] = [];
  private readonly frameTimes: number[] = [];
  private readonly stage: ReadingStage;
  private wake: (() => void) | undefined;

  constructor(decryption: DecryptionSettings) {
    this.stage = new ReadingStage({
      clock: systemClock,
      log: createLogger('error', () => undefined),
      decryption,
      telegram: (telegram) => this.accept(telegram),
      encryptedFrame: () => {
        this.frameTimes.push(Date.now());
        this.wake?.();
      },
    });
  }

  push(chunk: Buffer): void {
    this.bytes += chunk.length;
    this.stage.push(chunk);
  }

  discontinuity(): void {
    this.stage.discontinuity();
  }

  /** Listening is over: a telegram still waiting for the line end after its CRC is complete without it. */
  finish(): void {
    this.stage.stop();
  }

  /** A telegram that makes sense at this setting: a CRC that checks out, or a CRC-less one (DSMR 2.2/3) that decodes. */
  private get good(): Seen[] {
    return this.telegrams.filter(({ decoded: d }) => d.crc.valid === true || (d.crc.valid === null && looksLikeMeter(d)));
  }

  get found(): boolean {
    return this.good.length > 0 || this.frameTimes.length > 0;
  }

  /** Telegrams that look like a meter's whatever their CRC says. */
  get plausible(): number {
    return this.telegrams.filter((s) => looksLikeMeter(s.decoded)).length;
  }

  /** What the report is about: the good telegrams, or when there are none, those that merely look right. */
  private get basis(): Seen[] {
    const good = this.good;
    return good.length > 0 ? good : this.telegrams.filter((s) => looksLikeMeter(s.decoded));
  }

  /** Resolves once two telegrams a real interval apart are in, the window is over, or `stop` says so. */
  waitUntilEnough(windowMs: number, stop: () => boolean): Promise<void> {
    return new Promise((resolve) => {
      let deadline: ReturnType<typeof setTimeout> | undefined;
      let poll: ReturnType<typeof setInterval> | undefined;
      const done = () => {
        clearTimeout(deadline);
        clearInterval(poll);
        this.wake = undefined;
        resolve();
      };
      const check = () => {
        if (this.gaps().length >= 1 || stop()) done();
      };
      deadline = setTimeout(done, windowMs);
      // `stop` watches state that changes without data arriving (the port closing, a refused connection).
      poll = setInterval(check, 100);
      this.wake = check;
    });
  }

  describeNothing(windowMs: number): string {
    const seconds = windowMs / 1000;
    if (this.bytes === 0) return `no data at all within ${seconds} s`;
    const bad = this.telegrams.length;
    if (bad > 0) return `${bad} telegram(s) within ${seconds} s, but none with a CRC that checks out`;
    return `${this.bytes} bytes within ${seconds} s, but no telegram in them`;
  }

  report(input: string, line: LineSettings | null): DetectReport {
    const first = (this.basis[0] ?? this.telegrams[0])?.decoded;
    const encrypted = this.stage.decryption.encrypted;
    const interval = median(this.gaps());
    const variant = encrypted ? 'lu' : (first?.variant ?? null);
    const notes: string[] = [];
    if (encrypted && this.stage.decryption.state === 'no-key') notes.push(`the meter encrypts its telegrams: set ${DECRYPTION_KEY_SETTING} to the 32 hex digits of the key from your grid operator`);
    if (encrypted && this.stage.decryption.state === 'failing') notes.push(`${DECRYPTION_KEY_SETTING} does not decrypt this meter's telegrams: check the key (and DSMR_DATALOGGER_DECRYPTION_AAD)`);
    const crcInvalid = this.telegrams.filter((s) => s.decoded.crc.valid === false).length;
    if (crcInvalid > 0) notes.push(`${crcInvalid} telegram(s) with a CRC that does not check out: a bad cable or connection, or a meter that computes it differently (DSMR_DATALOGGER_CRC_CHECK=false forwards them anyway)`);
    if (interval === null) notes.push('only one telegram arrived while listening: listen longer (--seconds) to measure the interval');
    return {
      found: true,
      input,
      line: line ? { ...line, text: describeLine(line) } : null,
      header: first?.header?.raw ?? null,
      manufacturer: first?.header?.manufacturer ?? null,
      dsmrVersion: first?.version?.dsmr ?? null,
      variant,
      telegrams: this.telegrams.length,
      crcValid: this.telegrams.filter((s) => s.decoded.crc.valid === true).length,
      crcInvalid,
      crcAbsent: this.telegrams.filter((s) => s.decoded.crc.valid === null).length,
      intervalSeconds: interval === null ? null : Math.round(interval / 100) / 10,
      encrypted,
      decryption: encrypted ? this.stage.decryption.state : null,
      portInUse: null,
      dsmrVersionSetting: versionSetting(line, variant, first?.version?.dsmr ?? null, this.telegrams.length > 0 && this.telegrams.every((t) => t.decoded.crc.valid === null)),
      notes,
    };
  }

  /**
   * Milliseconds between telegrams. The meter's own clock (0-0:1.0.0) says it best: telegrams that waited in a buffer
   * while nobody read the port arrive together but keep their timestamps. Without timestamps (DSMR 2.2, encrypted
   * without a key), arrival times do, leaving out gaps too short to be the meter's.
   */
  private gaps(): number[] {
    const good = this.basis;
    const byClock: number[] = [];
    for (let i = 1; i < good.length; i++) {
      const [a, b] = [good[i - 1].decoded.timestamp?.iso, good[i].decoded.timestamp?.iso];
      const gap = a && b ? Date.parse(b) - Date.parse(a) : NaN;
      if (gap > 0) byClock.push(gap);
    }
    if (byClock.length > 0) return byClock;
    return arrivalGaps(this.stage.decryption.encrypted ? this.frameTimes : good.map((s) => s.at));
  }

  private accept(telegram: Buffer): void {
    this.telegrams.push({ at: Date.now(), decoded: decodeTelegram(telegram) });
    this.wake?.();
  }
}

/** A header with a three-letter manufacturer flag and more data lines than errors: not noise at the wrong speed. */
function looksLikeMeter(d: DecodedTelegram): boolean {
  return d.header !== null && /^[A-Za-z]{3}$/.test(d.header.manufacturer) && d.objects.length > d.errors.length;
}

/** Gaps between arrivals, leaving out those of a burst that came out of a buffer at once. */
function arrivalGaps(times: number[]): number[] {
  const gaps: number[] = [];
  for (let i = 1; i < times.length; i++) if (times[i] - times[i - 1] >= BURST_MS) gaps.push(times[i] - times[i - 1]);
  return gaps;
}

function median(values: number[]): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** The --dsmr-version value whose preset matches what was found. */
function versionSetting(line: LineSettings | null, variant: 'be' | 'lu' | null, dsmr: string | null, crcAbsentOnly: boolean): string | null {
  if (variant) return variant;
  if (dsmr?.startsWith('4')) return '4';
  if (dsmr?.startsWith('5')) return '5';
  // No version line and no CRC is DSMR 2.2/3, even where 115200 worked: a bridge or a pseudo-terminal ignores line settings.
  if (line === LINE_9600_7E1 || (!dsmr && crcAbsentOnly)) return '2.2';
  if (line === LINE_115200_8N1) return '5';
  // A network bridge: the line settings are the bridge's business; a version line still says which meter it is.
  return dsmr ? dsmr.split('.')[0] : null;
}

export function formatReport(r: DetectReport): string {
  if (r.portInUse) return `${r.input} is in use by ${r.portInUse}: only one program can read the meter\n${r.notes.map((n) => `  ${n}\n`).join('')}`;
  if (!r.found) return `no meter found on ${r.input}\n${r.notes.map((n) => `  ${n}\n`).join('')}`;
  const rows: [string, string][] = [];
  if (r.header !== null) rows.push(['header', r.header]);
  const version = r.dsmrVersion ? `DSMR ${r.dsmrVersion}` : r.encrypted && r.header === null ? 'unknown (encrypted)' : 'no version line (DSMR 2.2/3 or a non-Dutch meter)';
  rows.push(['version', `${version}${r.variant === 'be' ? ', Belgian e-MUCS' : r.variant === 'lu' ? ', Luxembourg Smarty' : ''}`]);
  if (r.encrypted) rows.push(['encrypted', `yes (AES-128-GCM); ${r.decryption === 'decrypting' ? 'decrypted with the key' : r.decryption === 'no-key' ? 'no key set' : 'the key does not fit'}`]);
  if (r.telegrams > 0) {
    const crc = r.crcInvalid > 0 ? `${r.crcInvalid} of ${r.telegrams} telegram(s) FAIL` : r.crcValid === r.telegrams ? `ok (${r.crcValid} of ${r.telegrams} telegram(s))` : r.crcValid > 0 ? `ok (${r.crcValid}), ${r.crcAbsent} without CRC` : `none sent (${r.telegrams} telegram(s))`;
    rows.push(['CRC', crc]);
  }
  rows.push(['interval', r.intervalSeconds === null ? 'unknown (one telegram)' : `${r.intervalSeconds} s between telegrams`]);
  if (r.dsmrVersionSetting) rows.push(['setting', `--dsmr-version ${r.dsmrVersionSetting} (DSMR_DATALOGGER_DSMR_VERSION=${r.dsmrVersionSetting})`]);
  const where = r.line ? ` at ${r.line.text}` : '';
  return `meter found on ${r.input}${where}\n${rows.map(([k, v]) => `  ${`${k}:`.padEnd(11)}${v}\n`).join('')}${r.notes.map((n) => `  note: ${n}\n`).join('')}`;
}
