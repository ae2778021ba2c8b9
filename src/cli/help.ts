import type { SettingSpec } from '../config/settings.ts';
import { SETTINGS } from '../config/settings.ts';

export function helpText(): string {
  const rows = (Object.values(SETTINGS) as SettingSpec[]).map((s) => {
    const flag = s.flag ? `--${s.flag}` : '(no flag)';
    return `  ${s.env}${s.aliases ? ` (or ${s.aliases.join(', ')})` : ''}\n      ${flag}: ${s.help}`;
  });
  return `dsmr-datalogger: reads DSMR P1 telegrams from a smart meter and forwards them to DSMR-reader servers.

Usage:
  dsmr-datalogger [--settings FILE] [--setting value ...]   run the datalogger
  dsmr-datalogger simulate [--help]                          a simulated DSMR 5 meter, for trying a set-up
  dsmr-datalogger detect [--serial-port P | --network H:P]   find the meter: line settings, header, version, CRC, interval
  dsmr-datalogger check [--settings FILE] [--setting value]  validate the settings and test each server's API and key
  dsmr-datalogger inspect [FILE|-] [--ndjson]                decode telegrams to JSON
  dsmr-datalogger status [--url URL] [--env-file PATH]      ask the running datalogger how it is doing
  dsmr-datalogger --version | --help

Settings come from flags, the environment and a settings file of KEY=VALUE lines (--settings FILE), in that order
of precedence. DSMR-reader's own remote-datalogger names work unchanged. API keys are read from the environment or
the settings file only, never from the command line. --env-file FILE is the same as --settings FILE, except when the
bundle runs as \`node dsmr-datalogger.cjs\`: Node itself then claims --env-file (a missing file ends it with Node's
own message), so use --settings there.
Stop with SIGTERM, SIGINT or SIGHUP: telegrams not yet delivered are kept for the next start.

${rows.join('\n')}
`;
}
