// `dsmr-datalogger check`: validates the configuration and asks every DSMR-reader server whether telegrams would be
// taken, without storing one (see sinks/dsmr-reader/check.ts for how).

import { readFileSync } from 'node:fs';
import type { Config } from '../config/config.ts';
import { parseCommandLine } from '../config/argv.ts';
import { loadConfig } from '../config/load.ts';
import { describeLine } from '../sources/serial-settings.ts';
import { probeServer } from '../sinks/dsmr-reader/check.ts';
import { writeStdout } from '../log/logger.ts';

export const CHECK_USAGE = `Usage: dsmr-datalogger check [--settings FILE] [--setting value ...]

Validates the configuration (the same settings as the datalogger itself) and asks each DSMR-reader server whether
its API is enabled and the key is accepted, without creating a reading: an empty POST to
{host}/api/v1/datalogger/dsmrreading, which DSMR-reader refuses with 400 once the key checks out. Each MQTT broker
is asked whether it takes the login, by one connection that publishes nothing. One line per server and broker.
Exit status: 0 when every one is good, 1 when one is not, 2 for a configuration error.
`;

export async function runCheck(argv: string[], env: Record<string, string | undefined>): Promise<number> {
  const args = parseCommandLine(argv, { command: 'check', settings: 'all', settingsFile: true });
  if (args.help) {
    await writeStdout(CHECK_USAGE);
    return 0;
  }
  const { config, unknown } = loadConfig(args, env);
  const out: string[] = [];
  const brokers = config.mqtt.length ? `; ${config.mqtt.length} MQTT broker(s)` : '';
  out.push(`configuration ok: input ${describeInput(config)}; ${config.servers.length} server(s)${brokers}${config.decryptionKey ? '; decryption key set' : ''}`);
  for (const name of unknown) out.push(`warning: ${name} is not a setting this program knows; it is ignored`);
  const ca = config.caFile ? readFileSync(config.caFile) : undefined;
  const results = await Promise.all([
    ...config.servers.map((server, i) => probeServer(server, i, config, ca)),
    // mqtt.js is loaded only when a broker is named, as in the datalogger.
    ...config.mqtt.map(async (broker) => (await import('../sinks/mqtt/check.ts')).probeBroker(broker, config.timeoutMs)),
  ]);
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
