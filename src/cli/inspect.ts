// `dsmr-datalogger inspect [FILE|-]`: decodes a capture (one telegram, a raw serial dump, or an encrypted Luxembourg
// stream) into JSON, to see what a meter really sends. Output goes to stdout, problems to stderr.

import { readFileSync } from 'node:fs';
import { ConfigError } from '../config/config-error.ts';
import { parseCommandLine, type SettingsFileArg } from '../config/argv.ts';
import { loadSettings } from '../config/load.ts';
import { readerGone, writeQuietly, writeStdout } from '../log/logger.ts';
import { decodeTelegram, type DecodedTelegram } from '../decode/decode.ts';
import { splitTelegrams } from '../decode/stream.ts';
import { FrameDecryptor, parseAadSetting, parseHexKey, type AadSetting } from '../transforms/decrypt.ts';
import { ENCRYPTED_FRAME_TAG, readFrameHeader } from '../transforms/encrypted-framer.ts';
import { DECRYPTION_KEY_SETTING } from '../transforms/decrypting-input.ts';

export const INSPECT_USAGE = `Usage: dsmr-datalogger inspect [FILE|-] [--ndjson] [--settings FILE]

Decodes the telegrams in FILE (default: stdin) to JSON: header, DSMR version, timestamps with their DST flag, OBIS
codes with names and values with units, M-Bus channels (gas, water, heat), the power-failure log, text messages and
Belgian peak values. FILE may hold one telegram or a raw capture of many; pieces cut short are shown with
"complete": false. Encrypted (Luxembourg Smarty) captures are decrypted with DSMR_DATALOGGER_DECRYPTION_KEY (and
DSMR_DATALOGGER_DECRYPTION_AAD) from the environment or the --settings file.

Options:
  --ndjson          one JSON object per line instead of one JSON array
  --settings FILE   KEY=VALUE file to take the decryption key from (--env-file FILE is the same)
  -h, --help        show this help

Exit status: 0 when at least one telegram was found, 1 when none, 2 for a wrong option or an unreadable file.
`;

export interface InspectedTelegram extends DecodedTelegram {
  /** Byte offset of the telegram's "/" in the input; null for a telegram decrypted from a frame. */
  offset: number | null;
  /** False when the telegram was cut short (no "!" line before the next telegram or the end of the input). */
  complete: boolean;
  /** The frame a decrypted telegram came in; null for plain input. */
  encryption: { systemTitle: string; frameCounter: number } | null;
}

export interface DecryptionSettings {
  key?: Buffer;
  aad?: AadSetting;
}

/** The decryption key and AAD from the environment or an env file: the same names and rules as the datalogger's. */
export function readDecryptionSettings(settingsFile: SettingsFileArg | undefined, env: Record<string, string | undefined>): DecryptionSettings {
  const { raw } = loadSettings({}, settingsFile, env);
  const settings: DecryptionSettings = {};
  if (raw.decryptionKey) {
    const key = parseHexKey(raw.decryptionKey.value);
    if (!key) throw new ConfigError(`${raw.decryptionKey.origin} is "(hidden)": expected the 16-byte key from your grid operator as 32 hex digits`);
    settings.key = key;
  }
  const aad = parseAadSetting(raw.decryptionAad?.value);
  if (typeof aad === 'string') throw new ConfigError(`${raw.decryptionAad!.origin} is "(hidden)": ${aad}`);
  settings.aad = aad;
  return settings;
}

/** Decodes every telegram of a capture; `problems` collects what the user should hear about on stderr. */
export function inspectBytes(data: Buffer, decryption: DecryptionSettings, problems: string[] = []): InspectedTelegram[] {
  if (hasEncryptedFrame(data)) return inspectEncrypted(data, decryption, problems);
  const segments = splitTelegrams(data);
  return segments.map((segment) => ({ offset: segment.offset, complete: segment.complete, encryption: null, ...decodeTelegram(segment.bytes) }));
}

function hasEncryptedFrame(data: Buffer): boolean {
  for (let at = data.indexOf(ENCRYPTED_FRAME_TAG); at >= 0; at = data.indexOf(ENCRYPTED_FRAME_TAG, at + 1)) {
    if (typeof readFrameHeader(data.subarray(at)) !== 'string') return true;
  }
  return false;
}

function inspectEncrypted(data: Buffer, decryption: DecryptionSettings, problems: string[]): InspectedTelegram[] {
  if (!decryption.key) {
    problems.push(`the input holds encrypted frames (0xDB, Luxembourg Smarty): encrypted telegrams need ${DECRYPTION_KEY_SETTING}, the 32 hex digits of the key from your grid operator`);
    return [];
  }
  const decryptor = new FrameDecryptor(decryption.key, decryption.aad);
  const out: InspectedTelegram[] = [];
  const failures = new Map<string, number>();
  for (const outcome of decryptor.push(data)) {
    if (!outcome.ok) {
      failures.set(outcome.error.message, (failures.get(outcome.error.message) ?? 0) + 1);
      continue;
    }
    const { plaintext, systemTitle, frameCounter } = outcome.frame;
    const title = /^[\x20-\x7e]{8}$/.test(systemTitle.toString('latin1')) ? systemTitle.toString('latin1') : systemTitle.toString('hex').toUpperCase();
    out.push({ offset: null, complete: true, encryption: { systemTitle: title, frameCounter }, ...decodeTelegram(plaintext) });
  }
  for (const [message, count] of failures) problems.push(`${count} encrypted frame(s) not decrypted: ${message}`);
  if (decryptor.framer.pendingBytes > 0) problems.push(`the input ends inside an encrypted frame (${decryptor.framer.pendingBytes} bytes of it)`);
  return out;
}

export async function runInspect(argv: string[], env: Record<string, string | undefined>): Promise<number> {
  const args = parseCommandLine(argv, { command: 'inspect', options: { ndjson: {} }, settingsFile: true, positionals: 1 });
  if (args.help) {
    await writeStdout(INSPECT_USAGE);
    return 0;
  }
  const file = args.positionals[0];
  const decryption = readDecryptionSettings(args.settingsFile, env);
  const data = await readInput(file ?? '-');
  const problems: string[] = [];
  const telegrams = inspectBytes(data, decryption, problems);
  for (const problem of problems) await writeQuietly(process.stderr, `dsmr-datalogger inspect: ${problem}\n`);
  const text = args.options.has('ndjson') ? telegrams.map((t) => `${JSON.stringify(t)}\n`).join('') : `${JSON.stringify(telegrams, null, 2)}\n`;
  await writeStdout(text);
  // `inspect FILE | head -1`: the reader has what it wanted.
  if (readerGone(process.stdout)) return 0;
  if (telegrams.length === 0) {
    if (problems.length === 0) await writeQuietly(process.stderr, `dsmr-datalogger inspect: no telegram (a "/" identification line) found in ${file && file !== '-' ? file : 'stdin'}\n`);
    return 1;
  }
  return 0;
}

async function readInput(file: string): Promise<Buffer> {
  if (file !== '-') {
    try {
      return readFileSync(file);
    } catch (err) {
      throw new ConfigError(`inspect: ${file} cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
    }
  }
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk, 'latin1') : chunk);
  return Buffer.concat(chunks);
}
