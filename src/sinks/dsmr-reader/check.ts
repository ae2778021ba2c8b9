// Asks a DSMR-reader server whether it would take telegrams, without storing one: POST the endpoint with the key and
// an empty form. DSMR-reader looks at the API switch, then the key, then the form (see answers.ts), so a 400 means
// the API is on and the key is accepted, and nothing was stored. A GET would not do: Django answers 405 to any GET
// there, API on or off, before the key is looked at.
import http from 'node:http';
import type { Config, ServerConfig } from '../../config/config.ts';
import { SETTINGS } from '../../config/settings.ts';
import { readAnswer } from './answers.ts';
import { postForm, telegramForm } from './request.ts';

const MAX_BODY = 2048;

export type ProbeOutcome = 'ok' | 'key-rejected' | 'api-disabled' | 'not-dsmr-reader' | 'redirect' | 'unexpected' | 'unreachable';

export interface ProbeResult {
  host: string;
  outcome: ProbeOutcome;
  /** One line for the user. */
  message: string;
}

export async function probeServer(server: ServerConfig, index: number, config: Pick<Config, 'timeoutMs' | 'insecure' | 'servers'>, ca?: Buffer): Promise<ProbeResult> {
  const keyHint = config.servers.length > 1 ? `key ${index + 1} of ${SETTINGS.apiKeys.env}` : SETTINGS.apiKeys.env;
  let reply;
  try {
    reply = await postForm(await transportFor(server), server, telegramForm(undefined), config.timeoutMs, await connectionOptions(server, ca, config.insecure), MAX_BODY);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    return { host: server.host, outcome: 'unreachable', message: `unreachable (${e.code ?? e.message}${e.code && e.message && !e.message.includes(e.code) ? `: ${e.message}` : ''})` };
  }
  const answer = readAnswer(reply.status, reply.body);
  const said = `HTTP ${answer.status}${answer.said ? ` "${answer.said.length > 120 ? `${answer.said.slice(0, 120)}…` : answer.said}"` : ''}`;
  const result = (outcome: ProbeOutcome, message: string): ProbeResult => ({ host: server.host, outcome, message });
  switch (answer.meaning) {
    case 'bad-data':
      return reply.status === 400 ? result('ok', 'API enabled and the key is accepted') : result('unexpected', `unexpected answer ${said}`);
    case 'stored':
      return result('ok', `API enabled and the key is accepted (${said} to an empty request)`);
    case 'key-rejected':
      return result('key-rejected', `the API key is rejected (${said}): compare ${keyHint} with the key in DSMR-reader under Configuration > API`);
    case 'api-disabled':
      return result('api-disabled', `the API is disabled (${said}): enable it in DSMR-reader under Configuration > API`);
    case 'not-dsmr-reader':
      return result('not-dsmr-reader', `no DSMR-reader datalogger API at ${server.url} (${said}): check the address in ${SETTINGS.apiHosts.env}`);
    case 'redirect':
      return result('redirect', `redirected to ${reply.headers.location ?? '(no location)'} (HTTP ${answer.status}): use that address in ${SETTINGS.apiHosts.env}`);
    default:
      return result('unexpected', `unexpected answer ${said}`);
  }
}

async function transportFor(server: ServerConfig): Promise<Pick<typeof http, 'request'>> {
  return new URL(server.url).protocol === 'https:' ? (await import('node:https')).default : http;
}

async function connectionOptions(server: ServerConfig, ca: Buffer | undefined, insecure: boolean): Promise<http.RequestOptions> {
  if (new URL(server.url).protocol !== 'https:') return { agent: false };
  const { trustedCertificates } = await import('../trust.ts');
  return { agent: false, ca: trustedCertificates(ca), rejectUnauthorized: !insecure } as http.RequestOptions;
}
