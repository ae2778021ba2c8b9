// The incumbent: DSMR-reader's "datalogger only" script, taken verbatim from its install guide and changed only
// where it hard-codes what the bench must set. The changes, each checked to apply exactly once:
// - the serial port and baud rate come from DSMRREADER_REMOTE_DATALOGGER_SERIAL_PORT / _SERIAL_BAUDRATE
//   instead of '/dev/ttyUSB0' and 115200;
// - API_SERVERS comes from DSMRREADER_REMOTE_DATALOGGER_API_HOSTS / _API_KEYS instead of the placeholder;
// - SLEEP is DSMRREADER_REMOTE_DATALOGGER_SLEEP, default 0 instead of 0.5 s: the guide's half second after every
//   telegram would cap it at 2 telegrams/s and make the CPU and latency runs measure sleep() instead of work.
// Everything else, a new HTTP connection per telegram (requests.post without a Session), readline() on pyserial
// and the print()s, is as deployed. It runs as the guide's supervisor entry runs it: python3 -u.
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const SCRIPT_MARKER = '``/home/dsmr/dsmr_datalogger_api_client.py`` with contents::';

/** The indented literal block that follows the marker in the reStructuredText guide, dedented. */
export function extractSeedScript(rst) {
  const lines = rst.split('\n');
  const at = lines.findIndex((line) => line.includes(SCRIPT_MARKER));
  if (at === -1) throw new Error(`the seed guide no longer contains "${SCRIPT_MARKER}"`);
  const block = [];
  for (const line of lines.slice(at + 1)) {
    if (line.trim() !== '' && !line.startsWith('    ')) break;
    block.push(line.slice(4));
  }
  return `${block.join('\n').trim()}\n`;
}

function replaceOnce(source, anchor, replacement) {
  const first = source.indexOf(anchor);
  if (first === -1 || source.indexOf(anchor, first + 1) !== -1) {
    throw new Error(`the seed script changed: expected exactly one ${JSON.stringify(anchor.slice(0, 60))}`);
  }
  return source.slice(0, first) + replacement + source.slice(first + anchor.length);
}

export function patchSeedScript(script) {
  let s = script;
  s = replaceOnce(s, 'from time import sleep\n', 'import os\nfrom time import sleep\n');
  s = replaceOnce(s, 'SLEEP = 0.5\n', "SLEEP = float(os.environ.get('DSMRREADER_REMOTE_DATALOGGER_SLEEP', '0'))\n");
  const serversStart = s.indexOf('API_SERVERS = (');
  const serversEnd = s.indexOf('\n)\n', serversStart);
  if (serversStart === -1 || serversEnd === -1) throw new Error('the seed script changed: no API_SERVERS = ( ... ) block');
  s =
    s.slice(0, serversStart) +
    [
      'API_SERVERS = tuple(zip(',
      "    [host.strip().rstrip('/') + '/api/v1/datalogger/dsmrreading' for host in os.environ['DSMRREADER_REMOTE_DATALOGGER_API_HOSTS'].split(',')],",
      "    [key.strip() for key in os.environ['DSMRREADER_REMOTE_DATALOGGER_API_KEYS'].split(',')],",
      '))',
    ].join('\n') +
    s.slice(serversEnd + 2);
  s = replaceOnce(s, "serial_handle.port = '/dev/ttyUSB0'", "serial_handle.port = os.environ['DSMRREADER_REMOTE_DATALOGGER_SERIAL_PORT']");
  s = replaceOnce(s, 'serial_handle.baudrate = 115200', "serial_handle.baudrate = int(os.environ.get('DSMRREADER_REMOTE_DATALOGGER_SERIAL_BAUDRATE', '115200'))");
  return s;
}

/** A python3 that has pyserial and requests (Debian's python3-serial and python3-requests), or an explanation. */
export function findPython() {
  const tried = [];
  for (const candidate of ['/usr/bin/python3', 'python3']) {
    try {
      execFileSync(candidate, ['-c', 'import serial, requests'], { stdio: 'pipe' });
      return candidate;
    } catch (err) {
      tried.push(`${candidate}: ${String(err.stderr ?? err.message).trim().split('\n').pop()}`);
    }
  }
  throw new Error(`the seed script needs python3 with pyserial and requests (apt-get install python3-serial python3-requests); ${tried.join('; ')}`);
}

/** Writes the runnable copy into `dir` and returns the command that runs it. */
export function prepareSeed(guidePath, dir) {
  const script = patchSeedScript(extractSeedScript(readFileSync(guidePath, 'utf8')));
  const path = join(dir, 'dsmr_datalogger_api_client.py');
  writeFileSync(path, script);
  return { command: `${findPython()} -u ${path}`, scriptPath: path };
}
