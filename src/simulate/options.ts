// Command-line options of `dsmr-datalogger simulate`. A bad option yields one line naming it and what it expects.

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

export class OptionError extends Error {}

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

const VALUE_OPTIONS = new Set(['interval', 'count', 'tcp-port', 'tcp-host', 'pty', 'pty-group', 'output', 'seed', 'start', 'solar']);
const FLAG_OPTIONS = new Set(['fast', 'help']);

// socat takes the link path inside its address syntax, where `,` `:` `!` and quotes have meanings.
const SAFE_PTY_PATH = /^[A-Za-z0-9_./+-]+$/;

function number(name: string, raw: string, what: string, valid: (n: number) => boolean): number {
  const n = raw.trim() === '' ? Number.NaN : Number(raw);
  if (!valid(n)) throw new OptionError(`--${name} expects ${what}, got "${raw}"`);
  return n;
}

export function parseSimulateOptions(argv: string[]): SimulateOptions {
  const given = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '-h') {
      given.set('help', '');
      continue;
    }
    if (!arg.startsWith('--')) throw new OptionError(`unexpected argument "${arg}" (see --help)`);
    const eq = arg.indexOf('=');
    const name = arg.slice(2, eq === -1 ? undefined : eq);
    if (FLAG_OPTIONS.has(name)) {
      if (eq !== -1) throw new OptionError(`--${name} takes no value`);
      given.set(name, '');
    } else if (VALUE_OPTIONS.has(name)) {
      const value: string | undefined = eq === -1 ? argv[++i] : arg.slice(eq + 1);
      if (value === undefined || (eq === -1 && value.startsWith('--'))) throw new OptionError(`--${name} needs a value`);
      given.set(name, value);
    } else {
      throw new OptionError(`unknown option "--${name}" (see --help)`);
    }
  }

  const targets = ['tcp-port', 'pty', 'output'].filter((name) => given.has(name));
  if (targets.length > 1) throw new OptionError(`use only one of --tcp-port, --pty and --output, got ${targets.map((t) => `--${t}`).join(' and ')}`);
  if (given.has('tcp-host') && !given.has('tcp-port')) throw new OptionError('--tcp-host needs --tcp-port');
  if (given.has('pty-group') && !given.has('pty')) throw new OptionError('--pty-group needs --pty');

  let target: SimulateTarget = { kind: 'stdout' };
  if (given.has('tcp-port')) {
    const port = number('tcp-port', given.get('tcp-port')!, 'a TCP port number from 0 to 65535', (n) => Number.isInteger(n) && n >= 0 && n <= 65535);
    const host = given.get('tcp-host') ?? '127.0.0.1';
    if (host.trim() === '') throw new OptionError('--tcp-host expects an address to listen on, got ""');
    target = { kind: 'tcp', host, port };
  } else if (given.has('pty')) {
    const path = given.get('pty')!;
    if (!SAFE_PTY_PATH.test(path)) throw new OptionError(`--pty expects a path of letters, digits and _ . / + -, got "${path}"`);
    const group = given.get('pty-group') ?? 'dialout';
    if (!/^[A-Za-z0-9_.-]+$/.test(group)) throw new OptionError(`--pty-group expects a group name or number, or "none", got "${group}"`);
    target = { kind: 'pty', path, group: group === 'none' ? undefined : { name: group, required: given.has('pty-group') } };
  } else if (given.has('output')) {
    const path = given.get('output')!;
    if (path === '') throw new OptionError('--output expects a path, got ""');
    target = { kind: 'file', path };
  }

  let start: Date | undefined;
  if (given.has('start')) {
    const raw = given.get('start')!;
    start = new Date(raw);
    if (raw.trim() === '' || Number.isNaN(start.getTime())) throw new OptionError(`--start expects an ISO 8601 time such as 2026-03-29T01:59:00+01:00, got "${raw}"`);
  }

  return {
    help: given.has('help'),
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
