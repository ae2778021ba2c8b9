// Run by serial-stty.test.ts under Deno (`deno run -A test/integration/deno-serial-probe.ts DEVICE BAUD DATABITS
// PARITY STOPBITS`): opens the port with the stty backend and reports on stdout, one line per event:
//   open | data <hex> | closed [<error code or message>] | error <message>
// It ends on its own once the port is closed; on SIGTERM it closes the port first, so the test can check release.
import process from 'node:process';
import { sttyBackend } from '../../src/sources/serial-stty.ts';
import type { Parity } from '../../src/sources/serial-settings.ts';

const [path, baud = '115200', dataBits = '8', parity = 'none', stopBits = '1'] = process.argv.slice(2);
const say = (line: string) => process.stdout.write(`${line}\n`);

try {
  const connection = await sttyBackend({
    path,
    baudRate: Number(baud),
    dataBits: Number(dataBits) as 5 | 6 | 7 | 8,
    parity: parity as Parity,
    stopBits: Number(stopBits) as 1 | 2,
    xonxoff: false,
    rtscts: false,
  });
  connection.onData((chunk) => say(`data ${chunk.toString('hex')}`));
  connection.onClose((err) => {
    const detail = err ? ` ${(err as { code?: string }).code ?? err.message}` : '';
    say(`closed${detail}`);
    process.exit(0);
  });
  process.once('SIGTERM', () => void connection.close());
  say('open');
} catch (err) {
  say(`error ${(err as Error).message}`);
  process.exit(1);
}
