// Command-line options of `dsmr-datalogger simulate`. A bad option yields one line naming it and what it expects.
import { parseCommandLine, type CommandSpec } from '../config/argv.ts';
import { ConfigError } from '../config/config-error.ts';

export type SimulateTarget =
  | { kind: 'stdout' }
  | { kind: 'file'; path: string }
  | { kind: 'tcp'; host: string; port: number }
  /** group: who else may open the pty; `required` when asked for by name (by default a failure is only logged). */
  | { kind: 'pty'; path: string; group: { name: string; required: boolean } | undefined };

export interface SimulateOptions {
  help: boolean;
  intervalSeconds: number;
  /** Undefined: run until stopped. */
  count: number | undefined;
  fast: boolean;
  seed: number | undefined;
  start: Date | undefined;
  solarPeakKw: number;
  target: SimulateTarget;
}


export const SIMULATE_USAGE = `Usage: dsmr-datalogger simulate [options]

A simulated DSMR 5.0 smart meter: realistic telegrams with valid CRCs and rising counters, one per interval,
so you can try a DSMR-reader set-up without a meter. Telegrams go to stdout unless one of --tcp-port, --pty or
--output is given. Log lines go to stderr. Stop with Ctrl-C.

Options:
  --interval SECONDS  time between telegrams (default 1, as DSMR 5 meters)
  --count N           stop after N telegrams (default: run until stopped)
  --tcp-port PORT     listen like a P1-to-WiFi bridge and stream to every client (0 = any free port)
  --tcp-host HOST     address to listen on with --tcp-port (default 127.0.0.1)
  --pty PATH          create a pseudo-terminal linked at PATH for the datalogger to open as its serial port
                      (needs socat)
  --pty-group GROUP   make the pty read-write for GROUP (mode 0660), as a USB serial adapter is, so a service user
                      such as dsmr can open it (default dialout; "none": only the user running simulate)
  --output PATH       write to this device or file (a missing file is created, a missing /dev/ entry is an error)
  --fast              do not wait between telegrams: as fast as the reader takes them (for benchmarks);
                      with --tcp-port it waits for a client first
  --seed N            reproduce the same telegrams (0 to 4294967295; default random, logged at start)
  --start TIME        meter time of the first telegram, ISO 8601 (default now)
  --solar KWP         peak power of the simulated solar panels in kW (default 3, 0 = none)
  -h, --help          show this help

Examples:
  dsmr-datalogger simulate --count 3          three telegrams on stdout
  dsmr-datalogger simulate --tcp-port 8088    a P1 bridge; read it with the datalogger's
                                              --input-method ipv4 --network-host 127.0.0.1 --network-port 8088
  dsmr-datalogger simulate --pty /tmp/p1      a serial port; read it with --serial-port /tmp/p1
  dsmr-datalogger simulate --fast --count 86400 | dsmr-datalogger --input-method file --input-file -
`;

const SIMULATE_COMMAND = {
  command: 'simulate',
  options: Object.fromEntries([
    ...['interval', 'count', 'tcp-port', 'tcp-host', 'pty', 'pty-group', 'output', 'seed', 'start', 'solar'].map((name) => [name, { value: true }]),
    ['fast', {}],
  ]),
} satisfies CommandSpec;

// socat takes the link path inside its address syntax, where `,` `:` `!` and quotes have meanings.
const SAFE_PTY_PATH = /^[A-Za-z0-9_./+-]+$/;

function number(name: string, raw: string, what: string, valid: (n: number) => boolean): number {
  const n = raw.trim() === '' ? Number.NaN : Number(raw);
  if (!valid(n)) throw new ConfigError(`--${name} expects ${what}, got "${raw}"`);
  return n;
}

export function parseSimulateOptions(argv: string[]): SimulateOptions {
  const args = parseCommandLine(argv, SIMULATE_COMMAND);
  const given = args.options;

  const targets = ['tcp-port', 'pty', 'output'].filter((name) => given.has(name));
  if (targets.length > 1) throw new ConfigError(`use only one of --tcp-port, --pty and --output, got ${targets.map((t) => `--${t}`).join(' and ')}`);
  if (given.has('tcp-host') && !given.has('tcp-port')) throw new ConfigError('--tcp-host needs --tcp-port');
  if (given.has('pty-group') && !given.has('pty')) throw new ConfigError('--pty-group needs --pty');

  let target: SimulateTarget = { kind: 'stdout' };
  if (given.has('tcp-port')) {
    const port = number('tcp-port', given.get('tcp-port')!, 'a TCP port number from 0 to 65535', (n) => Number.isInteger(n) && n >= 0 && n <= 65535);
    const host = given.get('tcp-host') ?? '127.0.0.1';
    if (host.trim() === '') throw new ConfigError('--tcp-host expects an address to listen on, got ""');
    target = { kind: 'tcp', host, port };
  } else if (given.has('pty')) {
    const path = given.get('pty')!;
    if (!SAFE_PTY_PATH.test(path)) throw new ConfigError(`--pty expects a path of letters, digits and _ . / + -, got "${path}"`);
    const group = given.get('pty-group') ?? 'dialout';
    if (!/^[A-Za-z0-9_.-]+$/.test(group)) throw new ConfigError(`--pty-group expects a group name or number, or "none", got "${group}"`);
    target = { kind: 'pty', path, group: group === 'none' ? undefined : { name: group, required: given.has('pty-group') } };
  } else if (given.has('output')) {
    const path = given.get('output')!;
    if (path === '') throw new ConfigError('--output expects a path, got ""');
    target = { kind: 'file', path };
  }

  let start: Date | undefined;
  if (given.has('start')) {
    const raw = given.get('start')!;
    start = new Date(raw);
    if (raw.trim() === '' || Number.isNaN(start.getTime())) throw new ConfigError(`--start expects an ISO 8601 time such as 2026-03-29T01:59:00+01:00, got "${raw}"`);
  }

  return {
    help: args.help,
    intervalSeconds: given.has('interval')
      ? number('interval', given.get('interval')!, 'a number of seconds from 0.001 to 86400', (n) => n >= 0.001 && n <= 86_400)
      : 1,
    count: given.has('count') ? number('count', given.get('count')!, 'a whole number of telegrams, 1 or more', (n) => Number.isSafeInteger(n) && n >= 1) : undefined,
    fast: given.has('fast'),
    seed: given.has('seed') ? number('seed', given.get('seed')!, 'a whole number from 0 to 4294967295', (n) => Number.isInteger(n) && n >= 0 && n <= 0xffffffff) : undefined,
    start,
    solarPeakKw: given.has('solar') ? number('solar', given.get('solar')!, 'a peak power in kW from 0 to 50', (n) => n >= 0 && n <= 50) : 3,
    target,
  };
}
