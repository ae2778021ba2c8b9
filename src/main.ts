import { parseCommandLine, type CommandSpec } from './config/argv.ts';
import { ConfigError, CONFIG_ERROR_EXIT_CODE } from './config/config-error.ts';
import { formatVersion } from './cli/build-info.ts';
import { helpText } from './cli/help.ts';
import { runDatalogger } from './cli/run.ts';
import { watchStopSignals } from './cli/stop-signals.ts';
import { writeQuietly, writeStdout } from './log/logger.ts';

const RUN_COMMAND = { command: '', settings: 'all', settingsFile: true } satisfies CommandSpec;

async function main(argv: string[]): Promise<number> {
  // `node bundle.cjs -- --env-file F` keeps Node's hands off the arguments; the `--` itself is no argument of ours.
  const args = argv[0] === '--' ? argv.slice(1) : argv;
  const [command, ...rest] = args;
  switch (command) {
    case '--version':
    case 'version':
      await writeStdout(`${formatVersion()}\n`);
      return 0;
    case '--help':
    case '-h':
    case 'help':
      await writeStdout(helpText());
      return 0;
    case 'simulate': {
      const { runSimulate } = await import('./simulate/run.ts');
      const stopping = new AbortController();
      watchStopSignals().onStopSignal((signal) => stopping.abort(signal));
      return runSimulate(rest, { signal: stopping.signal, handleSignals: false });
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
    default: {
      // Signals are watched before anything starts, so one that comes while the spool opens is not lost either.
      const signals = watchStopSignals();
      const parsed = parseCommandLine(command === 'run' ? rest : args, RUN_COMMAND);
      if (parsed.help) {
        await writeStdout(helpText());
        return 0;
      }
      return runDatalogger(parsed, process.env, signals);
    }
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  async (err: unknown) => {
    if (err instanceof ConfigError) {
      await writeQuietly(process.stderr, `dsmr-datalogger: configuration error: ${err.message}\n`);
      process.exit(CONFIG_ERROR_EXIT_CODE);
    }
    await writeQuietly(process.stderr, `dsmr-datalogger: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
