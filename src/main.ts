import { ConfigError, CONFIG_ERROR_EXIT_CODE } from './config/config-error.ts';
import { formatVersion } from './cli/build-info.ts';
import { helpText } from './cli/help.ts';
import { runDatalogger } from './cli/run.ts';

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case '--version':
    case 'version':
      process.stdout.write(`${formatVersion()}\n`);
      return 0;
    case '--help':
    case '-h':
    case 'help':
      process.stdout.write(helpText());
      return 0;
    case 'simulate': {
      const { runSimulate } = await import('./simulate/run.ts');
      return runSimulate(rest);
    }
    case 'detect': {
      const { runDetect } = await import('./cli/detect.ts');
      return runDetect(rest, process.env);
    }
    case 'check': {
      const { runCheck } = await import('./cli/check.ts');
      return runCheck(rest, process.env);
    }
    case 'inspect': {
      const { runInspect } = await import('./cli/inspect.ts');
      return runInspect(rest, process.env);
    }
    case 'status': {
      const { runStatus } = await import('./cli/status.ts');
      return runStatus(rest, process.env);
    }
    case 'run':
      return runDatalogger(rest, process.env);
    default:
      return runDatalogger(argv, process.env);
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    if (err instanceof ConfigError) {
      process.stderr.write(`dsmr-datalogger: configuration error: ${err.message}\n`);
      process.exit(CONFIG_ERROR_EXIT_CODE);
    }
    process.stderr.write(`dsmr-datalogger: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
