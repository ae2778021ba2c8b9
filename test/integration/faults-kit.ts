// Shared by the fault-injection suite (faults-*.test.ts): distinct telegrams, a DSMR-reader that can go away and come
// back on the same address, the datalogger runs of one test, and the delivery check every test ends with.
import { expect, onTestFailed } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startApiServer, waitForQuiet, type ApiServer, type QuietOptions, type Reply, type ResponderRequest } from '../helpers/api-server.ts';
import { defaultCommand, startDatalogger, type Datalogger } from '../helpers/datalogger.ts';
import { waitFor } from '../helpers/wait.ts';
import { SimulatedMeter } from '../../src/simulate/meter.ts';
import { crc16 } from '../../src/transforms/crc16.ts';

export const KEY = 'fault-suite-key-0123456789abcdef';

// Delivery retries with full jitter from 1 s doubling up to 5 s, so a server that is back has its backlog within
// seconds; the deadline leaves room for a loaded CI machine without the tests sleeping for it.
export const RETRY_DEADLINE_MS = 30_000;

// ---- telegrams ---------------------------------------------------------------------------------------------------

/** `count` valid DSMR 5 telegrams, one second apart, so each carries its own timestamp. Same seed, same telegrams. */
export function makeTelegrams(count: number, seed = 5, start = new Date('2024-03-01T00:00:00Z')): Buffer[] {
  const meter = new SimulatedMeter({ seed, start, intervalSeconds: 1 });
  return Array.from({ length: count }, () => meter.next());
}

/** The meter's timestamp (0-0:1.0.0): unique per telegram here, and readable in a failure message. */
export function idOf(telegram: Buffer): string {
  const match = /0-0:1\.0\.0\((\d{12}[SW])\)/.exec(telegram.toString('latin1'));
  return match ? match[1] : `?${telegram.subarray(0, 24).toString('latin1')}`;
}

// ---- a DSMR-reader that can be down ------------------------------------------------------------------------------

export interface StoredRequest {
  at: number;
  status: number;
  telegram: Buffer;
}

/**
 * A fake DSMR-reader on a fixed 127.0.0.1 port. down() closes it (connection refused), up() listens on the same
 * port again. `stored` is every telegram it accepted with 2xx, at the moment it decided so: a reply that comes too
 * late for the client still counts as stored, as it would in DSMR-reader's database (the resend is a duplicate).
 */
export class FlakyServer {
  readonly stored: Buffer[] = [];
  readonly requests: StoredRequest[] = [];
  /** Telegrams stored at least once, so waiting for a large delivery does not rescan `stored`. */
  private readonly distinct = new Set<string>();
  /** Decides a reply before the default (403 for a wrong key, else 201); undefined falls through to the default. */
  behaviour: ((req: ResponderRequest & { telegramIndex: number }) => Reply | undefined) | undefined;
  private server: ApiServer | undefined;
  private posts = 0;
  /** Date.now() of the latest POST, kept across down() and up(). */
  private lastPostAt = Date.now();

  private constructor(
    readonly port: number,
    private readonly key: string,
  ) {}

  static async start(opts: { key?: string; up?: boolean } = {}): Promise<FlakyServer> {
    const probe = await startApiServer();
    const port = Number(new URL(probe.url).port);
    await probe.close();
    const server = new FlakyServer(port, opts.key ?? KEY);
    if (opts.up ?? true) await server.up();
    return server;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** How many different telegrams it has stored. */
  get distinctStored(): number {
    return this.distinct.size;
  }

  get isUp(): boolean {
    return this.server !== undefined;
  }

  async up(): Promise<void> {
    if (this.server) return;
    this.server = await startApiServer({ port: this.port, respond: (req) => this.respond(req) });
  }

  /** Resolves once no request has arrived for `ms`, across down() and up(); fails after opts.timeoutMs. */
  quietFor(ms: number, opts?: QuietOptions): Promise<void> {
    return waitForQuiet(() => Math.max(this.lastPostAt, this.server?.lastArrivalAt ?? 0), ms, opts);
  }

  async down(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    await server?.close();
  }

  private respond(req: ResponderRequest): Reply {
    const telegramIndex = this.posts++;
    this.lastPostAt = req.at;
    let reply = this.behaviour?.({ ...req, telegramIndex });
    if (!reply) {
      if (req.key !== this.key) reply = { status: 403, body: '{"detail":"Invalid token."}' };
      else if (req.telegram.length === 0) reply = { status: 400, body: '{"telegram":["This field is required."]}' };
      else reply = { status: 201, body: '' };
    }
    this.requests.push({ at: Date.now(), status: reply.status, telegram: req.telegram });
    if (reply.status >= 200 && reply.status < 300) {
      this.stored.push(req.telegram);
      this.distinct.add(req.telegram.toString('latin1'));
    }
    return reply;
  }
}

// ---- the datalogger runs of one test -----------------------------------------------------------------------------

/**
 * The program under test: the bundle by default; FAULTS_DATALOGGER=path runs the suite against another build, e.g.
 * dist/dsmr-datalogger-linux-x64 (a .cjs or .js file runs under this node).
 */
export function programCommand(): string[] {
  const program = process.env.FAULTS_DATALOGGER;
  if (!program) return defaultCommand();
  return /\.c?js$/.test(program) ? [process.execPath, program] : [program];
}

/** One test's directory, data directory, datalogger processes and cleanups. */
export class Scene {
  readonly dir = mkdtempSync(join(tmpdir(), 'dsmr-faults-'));
  readonly dataDir = join(this.dir, 'data');
  readonly runs: Datalogger[] = [];
  private readonly cleanups: (() => Promise<unknown> | unknown)[] = [];

  constructor() {
    onTestFailed(() => {
      for (const [i, dl] of this.runs.entries()) console.log(`---- datalogger run ${i + 1} output:\n${dl.lines.join('\n')}`);
    });
  }

  /** A datalogger with debug logging (every telegram read is logged) sending to `server`, data in dataDir. */
  start(server: { url: string }, env: Record<string, string> = {}): Datalogger {
    const dl = startDatalogger({
      command: programCommand(),
      env: {
        DSMR_DATALOGGER_DATA_DIR: this.dataDir,
        DSMRREADER_REMOTE_DATALOGGER_API_HOSTS: server.url,
        DSMRREADER_REMOTE_DATALOGGER_API_KEYS: KEY,
        DSMR_DATALOGGER_LOG_LEVEL: 'debug',
        ...env,
      },
    });
    this.runs.push(dl);
    this.onCleanup(() => (dl.proc.exitCode === null && dl.proc.signalCode === null ? dl.stop('SIGKILL') : undefined));
    return dl;
  }

  /** Reading the telegrams from stdin, kept open until the test ends it. */
  startOnStdin(server: { url: string }, env: Record<string, string> = {}): Datalogger {
    return this.start(server, { DSMRREADER_REMOTE_DATALOGGER_INPUT_METHOD: 'file', DSMR_DATALOGGER_INPUT_FILE: '-', ...env });
  }

  /** A DSMR-reader stand-in that this scene takes down at the end. */
  async server(opts: { up?: boolean } = {}): Promise<FlakyServer> {
    const s = await FlakyServer.start(opts);
    this.onCleanup(() => s.down());
    return s;
  }

  onCleanup(cleanup: () => Promise<unknown> | unknown): void {
    this.cleanups.push(cleanup);
  }

  async close(): Promise<void> {
    for (const cleanup of this.cleanups.reverse()) {
      try {
        await cleanup();
      } catch (error) {
        console.error('cleanup failed:', error);
      }
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

// ---- what the datalogger says it read ----------------------------------------------------------------------------

export interface ReadLine {
  /** Wall-clock time of the log line. */
  at: number;
  bytes: number;
  crc: string;
}

const READ_LINE = /^(\S+) DEBUG telegram of (\d+) bytes, CRC ([0-9A-F]{4}): forwarding$/;

/** Every telegram a run logged as read and forwarded (needs debug logging), in order. */
export function readsOf(dl: Datalogger): ReadLine[] {
  const reads: ReadLine[] = [];
  for (const line of dl.lines) {
    const match = READ_LINE.exec(line);
    if (match) reads.push({ at: Date.parse(match[1]), bytes: Number(match[2]), crc: match[3] });
  }
  return reads;
}

export function readCount(dl: Datalogger): number {
  return dl.lines.reduce((n, line) => n + (READ_LINE.test(line) ? 1 : 0), 0);
}

export async function waitForReads(dl: Datalogger, count: number, timeoutMs = 20_000): Promise<void> {
  await waitFor(
    () => {
      if (dl.proc.exitCode !== null || dl.proc.signalCode !== null) throw new Error('the datalogger exited');
      return readCount(dl) >= count;
    },
    { what: `the datalogger to read ${count} telegrams (read ${readCount(dl)})`, timeoutMs },
  );
}

/** The sent telegram each read line stands for, matched in order from sent[from] on (by length and CRC). */
export function matchReads(reads: ReadLine[], sent: Buffer[], from: number): { indices: number[]; next: number } {
  const indices: number[] = [];
  let at = from;
  for (const read of reads) {
    let found = -1;
    for (let i = at; i < sent.length; i++) {
      const t = sent[i];
      if (t.length === read.bytes && crcText(t) === read.crc) {
        found = i;
        break;
      }
    }
    if (found < 0) throw new Error(`read a telegram of ${read.bytes} bytes with CRC ${read.crc} that was never sent after #${at}`);
    indices.push(found);
    at = found + 1;
  }
  return { indices, next: at };
}

function crcText(telegram: Buffer): string {
  const bang = telegram.indexOf(0x21);
  return crc16(telegram, 0, bang + 1).toString(16).toUpperCase().padStart(4, '0');
}

// ---- the check every test ends with ------------------------------------------------------------------------------

export interface Delivery {
  /** First arrivals, in arrival order. */
  unique: Buffer[];
  duplicates: number;
}

export function deliveryOf(stored: Buffer[]): Delivery {
  const seen = new Set<string>();
  const unique: Buffer[] = [];
  for (const telegram of stored) {
    const key = telegram.toString('latin1');
    if (seen.has(key)) continue;
    seen.add(key);
    unique.push(telegram);
  }
  return { unique, duplicates: stored.length - unique.length };
}

/** Waits until `count` different telegrams have been stored. */
export async function waitForDelivery(server: FlakyServer, count: number, timeoutMs: number): Promise<void> {
  await waitFor(() => server.distinctStored >= count, {
    what: `${count} different telegrams at the server (has ${server.distinctStored})`,
    timeoutMs,
    intervalMs: 50,
  });
}

/**
 * Every expected telegram arrived, byte for byte, in order, nothing else did, and duplicates (at-least-once) are
 * few. Returns the number of duplicates, for the test to report.
 */
export function expectDelivered(stored: Buffer[], expected: Buffer[], maxDuplicates: number): number {
  const { unique, duplicates } = deliveryOf(stored);
  // Timestamps first: a readable diff when something is missing or out of order.
  expect(unique.map(idOf)).toEqual(expected.map(idOf));
  const differing = unique.findIndex((telegram, i) => !telegram.equals(expected[i]));
  expect(differing, `telegram #${differing} arrived with different bytes`).toBe(-1);
  expect(duplicates, `${duplicates} duplicate deliveries`).toBeLessThanOrEqual(maxDuplicates);
  return duplicates;
}
