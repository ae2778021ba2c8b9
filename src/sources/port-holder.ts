// Who else has the serial port open: only one program can read a meter, and "the port is busy" is only useful with
// the name of the program to stop. Linux: every process's open files are links under /proc/PID/fd.
import { readdir, readFile, readlink, realpath } from '../platform/promised-fs.ts';
import { basename } from 'node:path';

export interface PortHolder {
  pid: number;
  /** The program's name (and the script an interpreter runs): never its arguments, which may carry secrets. */
  program: string;
  /** The supervisorctl program that runs it, for the advice to stop it; undefined when it is not one we know. */
  supervisorProgram?: string;
}

const INTERPRETERS = /^(node|nodejs|deno|bun|python[\d.]*)$/;

// Programs known to read a P1 port under supervisor, by what their command line contains.
const KNOWN_SERVICES: [RegExp, string][] = [
  [/dsmr-datalogger/, 'dsmr-datalogger'],
  [/dsmr_datalogger_api_client/, 'dsmr_client_datalogger'],
  [/manage\.py\0dsmr_datalogger/, 'dsmr_datalogger'],
];

/** The open (EBUSY) or lock (serialport's "Cannot lock port") failure of a port another program holds. */
export function isPortBusy(err: unknown): boolean {
  const e = err as NodeJS.ErrnoException | undefined;
  return e?.code === 'EBUSY' || /cannot lock port|resource busy/i.test(e?.message ?? '');
}

/**
 * Processes other than this one with the device open. The other end of a pseudo-terminal (socat, a terminal
 * emulator) holds it too, and is no competing reader. Processes of other users cannot be seen without root.
 */
export async function findPortHolders(path: string): Promise<PortHolder[]> {
  let device: string;
  let pids: string[];
  try {
    device = await realpath(path);
    pids = (await readdir('/proc')).filter((name) => /^\d+$/.test(name) && Number(name) !== process.pid);
  } catch {
    return [];
  }
  const ptyIndex = /^\/dev\/pts\/(\d+)$/.exec(device)?.[1];
  const holders = await Promise.all(pids.map((pid) => holderOf(Number(pid), device, ptyIndex)));
  return holders.filter((h): h is PortHolder => h !== undefined);
}

async function holderOf(pid: number, device: string, ptyIndex: string | undefined): Promise<PortHolder | undefined> {
  let fds: string[];
  try {
    fds = await readdir(`/proc/${pid}/fd`);
  } catch {
    return undefined; // Gone meanwhile, or another user's.
  }
  const targets = await Promise.all(fds.map((fd) => readlink(`/proc/${pid}/fd/${fd}`).then((t) => [fd, t] as const, () => undefined)));
  if (!targets.some((t) => t?.[1] === device)) return undefined;
  if (ptyIndex !== undefined) {
    for (const t of targets) {
      if (t?.[1] !== '/dev/ptmx' && t?.[1] !== '/dev/pts/ptmx') continue;
      const info = await readFile(`/proc/${pid}/fdinfo/${t[0]}`, 'utf8').catch(() => '');
      if (new RegExp(`^tty-index:\\s*${ptyIndex}$`, 'm').test(info)) return undefined;
    }
  }
  const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
  return { pid, program: programName(cmdline), supervisorProgram: KNOWN_SERVICES.find(([re]) => re.test(cmdline))?.[1] };
}

function programName(cmdline: string): string {
  const [exe = '', script] = cmdline.split('\0');
  const name = basename(exe) || 'unknown program';
  return INTERPRETERS.test(name) && script && !script.startsWith('-') ? `${name} ${basename(script)}` : name;
}

/** "PID 812 (dsmr-datalogger)", for a log line or a report. */
export function describeHolders(holders: PortHolder[]): string {
  return holders.map((h) => `PID ${h.pid} (${h.program})`).join(', ');
}

/** What to do about it: the supervisorctl command for a service we know, else the processes to stop. */
export function stopAdvice(holders: PortHolder[]): string {
  const services = [...new Set(holders.map((h) => h.supervisorProgram).filter((s): s is string => s !== undefined))];
  if (services.length > 0) return `stop it first: ${services.map((s) => `sudo supervisorctl stop ${s}`).join(' && ')}`;
  if (holders.length > 0) return `stop ${describeHolders(holders)} first`;
  // Without root the processes of other users (the service runs as its own user) cannot be seen.
  return 'stop the program that holds it first, most likely the installed datalogger: sudo supervisorctl stop dsmr-datalogger (run as root to see which one it is)';
}
