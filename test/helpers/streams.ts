// Real telegrams from the corpus, and a mixed real-world stream built from them with the telegrams that must come out.
import { fixture } from './fixtures.ts';

/** A fixture from its '/' on: some corpus files carry a stray line end before the telegram. */
export function telegram(file: string): Buffer {
  const bytes = fixture(file);
  return bytes.subarray(bytes.indexOf(0x2f));
}

export const VALID_DSMR5 = telegram('nielsbasjes-dsmr-tools/ttyUSB0-raw__telegram1.txt');
export const VALID_DSMR5_B = telegram('nielsbasjes-dsmr-tools/ttyUSB0-raw__telegram2.txt');
export const VALID_KAIFA = telegram('dsmr_parser/TELEGRAM_V4_2.txt');
export const VALID_BELGIAN = telegram('dsmr-reader/test_fluvius__TestDatalogger.txt');
export const CRC_LESS_DSMR22 = telegram('nielsbasjes-dsmr-tools/TestDsmrParserOnRealDSMR2__L43.txt');
export const CRC_LESS_DSMR3 = telegram('athombv-node-dsmr-parser/dsmr-3.0-spec-example.txt');
export const BAD_CRC_REAL = telegram('hansij66-dsmr2mqtt/dsmr.raw__telegram1.txt');
export const BAD_CRC_INVENTED = telegram('nielsbasjes-dsmr-tools/TestCRCValidator__L116.txt');
export const UNUSUAL_BYTES = telegram('dsmr_parser/TELEGRAM_ISKRA_IE.txt');

/** Valid, CRC-less, bad-CRC, truncated and noise, and the telegrams that must come out, in order. */
export function mixedStream(): { stream: Buffer; expected: Buffer[] } {
  const noise = Buffer.from([0x00, 0x00, 0xff, 0x13, 0x0d, 0x0a, 0x21, 0x42, 0x00]);
  const parts: [Buffer, boolean][] = [
    [noise, false],
    [VALID_DSMR5, true],
    [BAD_CRC_REAL, false],
    [VALID_DSMR5.subarray(0, 400), false], // cut short: the next telegram starts mid-line
    [VALID_DSMR5_B, true],
    [CRC_LESS_DSMR22, true],
    [noise, false],
    [BAD_CRC_INVENTED, false],
    [VALID_KAIFA, true],
    [CRC_LESS_DSMR3, true],
    [VALID_BELGIAN.subarray(0, 200), false],
    [Buffer.from('\r\n'), false],
    [VALID_BELGIAN, true],
    [UNUSUAL_BYTES, true],
  ];
  return { stream: Buffer.concat(parts.map(([b]) => b)), expected: parts.filter(([, keep]) => keep).map(([b]) => b) };
}

