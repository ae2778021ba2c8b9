// `dsmr-datalogger check`: validates the configuration and asks every DSMR-reader server whether telegrams would be
// taken, without storing one.
//
// How, from DSMR-reader's source (dsmr_api/views/v1.py, DataloggerDsmrReading.post, and its tests): the datalogger
// endpoint checks, in this order, that the API is enabled (else 405 "API is disabled"), that X-AUTHKEY is the key
// (else 403 "Invalid auth key"), and that the form has a `telegram` field (else 400 "Invalid data") - only then is a
// telegram parsed and a reading created. So we POST {host}/api/v1/datalogger/dsmrreading with the key and an empty
// form: 400 means the API is on and the key is accepted, and nothing was stored. A GET would not do: Django answers
// 405 to any GET there, API on or off, before the key is looked at.

import http from 'node:http';
import https from 'node:https';
import { readFileSync } from 'node:fs';
import type { Config, ServerConfig } from '../config/config.ts';
import { parseCommandLine } from '../config/argv.ts';
import { loadConfig } from '../config/load.ts';
import { SETTINGS } from '../config/settings.ts';
import { describeLine } from '../sources/serial-settings.ts';
import { trustedCertificates } from '../sinks/trust.ts';
import { readResponseBody } from '../sinks/response-body.ts';
import { writeStdout } from '../log/logger.ts';

export const CHECK_USAGE = `Usage: dsmr-datalogger check [--settings FILE] [--setting value ...]

Validates the configuration (the same settings as the datalogger itself) and asks each DSMR-reader server whether
its API is enabled and the key is accepted, without creating a reading: an empty POST to
{host}/api/v1/datalogger/dsmrreading, which DSMR-reader refuses with 400 once the key checks out. One line per
server. Exit status: 0 when every server is good, 1 when one is not, 2 for a configuration error.
`;

const MAX_BODY = 2048;

export type ProbeOutcome = 'ok' | 'key-rejected' | 'api-disabled' | 'not-dsmr-reader' | 'redirect' | 'unexpected' | 'unreachable';

export interface ProbeResult {
  host: string;
  outcome: ProbeOutcome;
  /** One line for the user. */
  message: string;
}

export async function runCheck(argv: string[], env: Record<string, string | undefined>): Promise<number> {
  const args = parseCommandLine(argv, { command: 'check', settings: 'all', settingsFile: true });
  if (args.help) {
    await writeStdout(CHECK_USAGE);
    return 0;
  }
  const { config, unknown } = loadConfig(args, env);
  const out: string[] = [];
  out.push(`configuration ok: input ${describeInput(config)}; ${config.servers.length} server(s)${config.decryptionKey ? '; decryption key set' : ''}`);
  for (const name of unknown) out.push(`warning: ${name} is not a setting this program knows; it is ignored`);
  const ca = config.caFile ? readFileSync(config.caFile) : undefined;
  const results = await Promise.all(config.servers.map((server, i) => probeServer(server, i, config, ca)));
  for (const r of results) out.push(`${r.outcome === 'ok' ? 'ok  ' : 'FAIL'} ${r.host}: ${r.message}`);
  await writeStdout(`${out.join('\n')}\n`);
  return results.every((r) => r.outcome === 'ok') ? 0 : 1;
}

function describeInput(config: Config): string {
  const input = config.input;
  if (input.kind === 'network') return `network ${input.host}:${input.port}`;
  if (input.kind === 'file') return input.path === '-' ? 'stdin' : `file ${input.path}`;
  return `serial ${input.path} (${input.line === 'auto' ? 'line settings auto-detected' : describeLine(input.line)})`;
}

export async function probeServer(server: ServerConfig, index: number, config: Pick<Config, 'timeoutMs' | 'insecure' | 'servers'>, ca?: Buffer): Promise<ProbeResult> {
  const keyHint = config.servers.length > 1 ? `key ${index + 1} of ${SETTINGS.apiKeys.env}` : SETTINGS.apiKeys.env;
  let status: number;
  let body: string;
  let location: string | undefined;
  try {
    ({ status, body, location } = await emptyPost(server, config.timeoutMs, ca, config.insecure));
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    return { host: server.host, outcome: 'unreachable', message: `unreachable (${e.code ?? e.message}${e.code && e.message && !e.message.includes(e.code) ? `: ${e.message}` : ''})` };
  }
  const said = brief(body);
  const answer = `HTTP ${status}${said ? ` "${said}"` : ''}`;
  if (status === 400) return { host: server.host, outcome: 'ok', message: 'API enabled and the key is accepted' };
  if (status === 200 || status === 201) return { host: server.host, outcome: 'ok', message: `API enabled and the key is accepted (${answer} to an empty request)` };
  if (status === 403) return { host: server.host, outcome: 'key-rejected', message: `the API key is rejected (${answer}): compare ${keyHint} with the key in DSMR-reader under Configuration > API` };
  if (status === 405) return { host: server.host, outcome: 'api-disabled', message: `the API is disabled (${answer}): enable it in DSMR-reader under Configuration > API` };
  if (status === 401 || status === 404) return { host: server.host, outcome: 'not-dsmr-reader', message: `no DSMR-reader datalogger API at ${server.url} (${answer}): check the address in ${SETTINGS.apiHosts.env}` };
  if (status >= 300 && status < 400) return { host: server.host, outcome: 'redirect', message: `redirected to ${location ?? '(no location)'} (HTTP ${status}): use that address in ${SETTINGS.apiHosts.env}` };
  return { host: server.host, outcome: 'unexpected', message: `unexpected answer ${answer}` };
}

function emptyPost(server: ServerConfig, timeoutMs: number, ca: Buffer | undefined, insecure: boolean): Promise<{ status: number; body: string; location?: string }> {
  const url = new URL(server.url);
  const secure = url.protocol === 'https:';
  return new Promise((resolve, reject) => {
    const req = (secure ? https : http).request(url, {
      method: 'POST',
      agent: false,
      headers: { 'X-AUTHKEY': server.key, 'Content-Type': 'application/x-www-form-urlencoded', 'Content-Length': 0 },
      ...(secure ? { ca: trustedCertificates(ca), rejectUnauthorized: !insecure } : {}),
    });
    req.setTimeout(timeoutMs, () => req.destroy(Object.assign(new Error(`no answer within ${timeoutMs / 1000} s`), { code: 'ETIMEDOUT' })));
    req.on('error', reject);
    req.on('response', (res) => {
      readResponseBody(res, MAX_BODY).then((body) => resolve({ status: res.statusCode ?? 0, body, location: res.headers.location }), reject);
    });
    req.end();
  });
}

function brief(body: string): string {
  const text = body.replace(/<[^>]*>/g, ' ').replace(/\s+/g, ' ').trim();
  return text.length > 120 ? `${text.slice(0, 120)}…` : text;
}

