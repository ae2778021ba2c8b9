// The input transforms chained as the datalogger chains them (decrypting input → framer → telegram check), in
// process, for tests that feed a byte stream in chunks and look at what would be forwarded.
import { createCipheriv } from 'node:crypto';
import { createLogger } from '../../src/log/logger.ts';
import { DecryptingInput } from '../../src/transforms/decrypting-input.ts';
import { TelegramFramer } from '../../src/transforms/framer.ts';
import { TelegramCheck } from '../../src/transforms/telegram-check.ts';

export interface InputChain {
  input: DecryptingInput;
  framer: TelegramFramer;
  check: TelegramCheck;
  /** Telegrams that passed the check, in order. */
  forwarded: Buffer[];
  /** Log lines, without their timestamp. */
  logs: string[];
  push(bytes: Buffer): void;
  end(): void;
}

export function inputChain(options: { key?: Buffer; crcCheck?: boolean } = {}): InputChain {
  const framer = new TelegramFramer();
  const check = new TelegramCheck({ crcCheck: options.crcCheck ?? true });
  const forwarded: Buffer[] = [];
  const logs: string[] = [];
  const judge = (telegrams: Buffer[]) => {
    for (const telegram of telegrams) if (check.judge(telegram).accept) forwarded.push(telegram);
  };
  const input = new DecryptingInput(
    { key: options.key, log: createLogger('info', (line) => logs.push(line.trim().replace(/^\S+ /, ''))) },
    { bytes: (bytes) => judge(framer.push(bytes)), boundary: () => judge(framer.discontinuity()) },
  );
  return {
    input,
    framer,
    check,
    forwarded,
    logs,
    push: (bytes) => input.push(bytes),
    end: () => {
      input.end();
      judge(framer.end());
    },
  };
}

/** Feeds `stream` in chunks of the sizes `size()` gives, then ends the input. */
export function feed(chain: InputChain, stream: Buffer, size: () => number = () => stream.length): InputChain {
  for (let i = 0; i < stream.length; ) {
    const n = Math.max(1, size());
    chain.push(stream.subarray(i, i + n));
    i += n;
  }
  chain.end();
  return chain;
}

/** An encrypted frame as a Smarty meter builds it (Luxembourg authentication key), for counters the corpus lacks. */
export function encryptFrame(plaintext: Buffer, key: Buffer, counter: number, systemTitle = Buffer.from('SAG12345')): Buffer {
  const fc = Buffer.alloc(4);
  fc.writeUInt32BE(counter);
  const cipher = createCipheriv('aes-128-gcm', key, Buffer.concat([systemTitle, fc]), { authTagLength: 12 });
  cipher.setAAD(Buffer.from('3000112233445566778899AABBCCDDEEFF', 'hex'));
  const body = Buffer.concat([Buffer.of(0x30), fc, cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
  const length = Buffer.alloc(2);
  length.writeUInt16BE(body.length);
  return Buffer.concat([Buffer.of(0xdb, 0x08), systemTitle, Buffer.of(0x82), length, body]);
}

/** A deterministic PRNG (LCG), so a failing case can be replayed from its seed. */
export function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32;
}
