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
    case 'run':
      return runDatalogger(rest, process.env, onStopSignal);
    default:
      return runDatalogger(argv, process.env, onStopSignal);
  }
}

/**
 * supervisor stops with SIGTERM, a terminal with SIGINT, and a closed session or a log-rotation habit with SIGHUP:
 * each is an orderly stop that hands what is queued to the spool, never a loss.
 */
function onStopSignal(stop: (why: string) => void): void {
  for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) process.once(signal, () => stop(`${signal} received`));
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
