// `dsmr-datalogger status`: asks the running datalogger's endpoint and prints a short summary for a person.
// Exit status: 0 healthy, 1 unhealthy, 2 not reachable (or not allowed to ask).
import { ConfigError } from '../config/config-error.ts';
import { loadSettings } from '../config/load.ts';
import { SETTINGS } from '../config/settings.ts';
import { parseCommandLine } from '../config/argv.ts';
import { writeStdout } from '../log/logger.ts';
import { statusEndpoint } from '../config/config.ts';
import { localUrl } from '../status/address.ts';
import type { StatusDocument } from '../status/document.ts';
import { formatBytes, formatCount, formatDuration, formatKwh, formatPower, plural } from '../status/format.ts';
import { netPowerW } from '../status/reading.ts';

export const STATUS_USAGE = `Usage: dsmr-datalogger status [--url http://HOST:PORT] [--settings FILE] [--json]

Asks the running datalogger (at ${SETTINGS.httpListen.env}, by default 127.0.0.1:7523) how it is doing and prints a
short summary; --json prints its /status document as it is. The token, when the endpoint needs one, comes from
${SETTINGS.httpToken.env} in the environment or the env file. Exit status: 0 healthy, 1 unhealthy, 2 not reachable.
`;

const REQUEST_TIMEOUT_MS = 5000;

export async function runStatus(argv: string[], env: Record<string, string | undefined>): Promise<number> {
  const args = parseCommandLine(argv, { command: 'status', options: { url: { value: true }, json: {} }, settingsFile: true });
  if (args.help) {
    await writeStdout(STATUS_USAGE);
    return 0;
  }
  const url = args.options.get('url');
  if (url !== undefined && !/^https?:\/\/[^/]+/.test(url)) throw new ConfigError(`--url is "${url}": expected the address of the endpoint, e.g. http://127.0.0.1:7523`);
  const json = args.options.has('json');
  // The same listen and token settings as the datalogger, so that its settings file is all this needs.
  const { raw } = loadSettings({}, args.settingsFile, env);
  const endpoint = statusEndpoint({ httpListen: raw.httpListen, httpToken: raw.httpToken });
  if (!url && !endpoint.listen) {
    process.stderr.write(`the status endpoint is turned off (${SETTINGS.httpListen.env}=off); give --url to ask one elsewhere\n`);
    return 2;
  }
  const base = (url ?? localUrl(endpoint.listen!)).replace(/\/+$/, '');
  const headers: Record<string, string> = endpoint.token ? { authorization: `Bearer ${endpoint.token}` } : {};

  let response: Response;
  try {
    response = await fetch(`${base}/status`, { headers, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
  } catch (err) {
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    const why = cause?.code ?? cause?.message ?? (err as Error).message;
    process.stderr.write(`the datalogger does not answer at ${base} (${why}): is it running, and is ${SETTINGS.httpListen.env} the same here?\n`);
    return 2;
  }
  if (response.status === 401) {
    process.stderr.write(`${base} wants a token: set ${SETTINGS.httpToken.env} (in the environment or the --settings file) to the datalogger's\n`);
    return 2;
  }
  if (!response.ok) {
    process.stderr.write(`${base}/status answered HTTP ${response.status}: is this a dsmr-datalogger?\n`);
    return 2;
  }
  const text = await response.text();
  let doc: StatusDocument;
  try {
    doc = JSON.parse(text) as StatusDocument;
  } catch {
    process.stderr.write(`${base}/status did not answer JSON: is this a dsmr-datalogger?\n`);
    return 2;
  }
  process.stdout.write(json ? text : summary(doc));
  return doc.healthy ? 0 : 1;
}

export function summary(doc: StatusDocument): string {
  const input = doc.input;
  const lines = [`dsmr-datalogger ${doc.version}, up ${formatDuration(doc.uptimeSeconds * 1000)}: ${doc.healthy ? 'healthy' : 'UNHEALTHY'}`];
  for (const problem of doc.problems) lines.push(`  ! ${problem}`);
  const last = input.lastTelegramAgeSeconds === null ? 'no telegram yet' : `last telegram ${formatDuration(input.lastTelegramAgeSeconds * 1000)} ago`;
  lines.push(`meter: ${input.kind} ${input.target}${input.line ? ` (${input.line})` : ''}, ${input.state}; ${last}; ${formatCount(input.telegramsAccepted)} telegrams, ${formatCount(input.crcFailures)} CRC failures`);
  const latest = doc.latest;
  const net = latest ? netPowerW(latest) : undefined;
  if (latest && net !== undefined) {
    const total = latest.delivered.totalKwh === null ? '' : `; taken in total ${formatKwh(latest.delivered.totalKwh)}`;
    lines.push(`power: ${formatPower(net)} ${net >= 0 ? 'from' : 'into'} the grid (meter time ${latest.meterTime ?? 'unknown'})${total}`);
  }
  for (const o of doc.outputs) {
    const waiting = o.queuedInMemory + o.spooledTelegrams;
    const backlog = waiting === 0 ? 'nothing waiting' : `${plural(waiting, 'telegram')} waiting${o.spooledBytes ? ` (${formatBytes(o.spooledBytes)} spooled)` : ''}`;
    const since = formatDuration(Date.parse(doc.now) - Date.parse(o.since));
    lines.push(`${o.target}: ${o.state} for ${since}; ${backlog}; ${formatCount(o.delivered)} delivered${o.lastAnswer ? `; last answer: ${o.lastAnswer}` : ''}`);
  }
  return `${lines.join('\n')}\n`;
}
