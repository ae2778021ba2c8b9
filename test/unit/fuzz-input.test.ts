// Seeded fuzz streams through the whole input chain (decrypting input → framer → telegram check): intact telegrams
// from the corpus mixed with random noise, bit flips, NUL and '/' floods, long lines, cut-off telegrams and
// encrypted-looking noise, fed in every kind of chunking. Properties, for every seed:
//   - what is forwarded is exactly the intact valid telegrams of the stream, each once, in order, byte for byte;
//   - nothing throws;
//   - memory stays bounded: the bytes held back never exceed one encrypted frame and the header after it.
// A failing seed replays on its own: FUZZ_SEED=<seed> npx vitest run test/unit/fuzz-input.test.ts
import { describe, expect, it } from 'vitest';
import { checkCrc } from '../../src/transforms/crc-check.ts';
import { DEFAULT_MAX_ENCRYPTED_FRAME_BYTES } from '../../src/transforms/encrypted-framer.ts';
import { TelegramFramer } from '../../src/transforms/framer.ts';
import { telegramEntries, fixture } from '../helpers/fixtures.ts';
import { encryptFrame, inputChain, prng, type InputChain } from '../helpers/input-chain.ts';

type Random = () => number;

/** The corpus telegrams as the framer cuts them: `valid` end in a CRC that checks out, `crcLess` are DSMR 2.2/3. */
const pool = (() => {
  const valid: Buffer[] = [];
  const crcLess: Buffer[] = [];
  for (const entry of telegramEntries()) {
    if (!entry.complete || !entry.ends_crlf) continue;
    const framer = new TelegramFramer();
    const frames = [...framer.push(fixture(entry.file)), ...framer.end()];
    if (frames.length !== 1) continue;
    const crc = checkCrc(frames[0]).status;
    if (crc === 'valid') valid.push(frames[0]);
    else if (crc === 'absent' && entry.version.startsWith('DSMR 2.2')) crcLess.push(frames[0]);
  }
  return { valid, crcLess };
})();

const KEY = Buffer.from('000102030405060708090A0B0C0D0E0F', 'hex');
const HELD_BOUND = DEFAULT_MAX_ENCRYPTED_FRAME_BYTES + 16;

const int = (r: Random, n: number) => Math.floor(r() * n);
const pick = <T>(r: Random, items: T[]): T => items[int(r, items.length)];
function randomBytes(r: Random, n: number): Buffer {
  const bytes = Buffer.alloc(n);
  for (let i = 0; i < n; i++) bytes[i] = r() * 256;
  return bytes;
}

/** Flips 1-3 bits between the '/' and the '!': a CRC16 catches every such error. */
function flipBits(r: Random, telegram: Buffer): Buffer {
  const damaged = Buffer.from(telegram);
  const bang = telegram.indexOf(0x21);
  for (let n = 1 + int(r, 3); n > 0; n--) damaged[1 + int(r, bang - 1)] ^= 1 << int(r, 8);
  return damaged;
}

/** A telegram cut off before its '!': with the '!' and its CRC it would be whole. */
const cutOff = (r: Random, telegram: Buffer) => telegram.subarray(0, int(r, telegram.indexOf(0x21)));

/** Noise that starts like an encrypted frame: tag, title length, a title, a plausible length, suite 0. */
function encryptedLookingNoise(r: Random): Buffer {
  const length = 18 + int(r, DEFAULT_MAX_ENCRYPTED_FRAME_BYTES - 40);
  const header = Buffer.concat([Buffer.of(0xdb, 0x08), randomBytes(r, 8), Buffer.of(0x82, length >> 8, length & 0xff, pick(r, [0x10, 0x20, 0x30]))]);
  return Buffer.concat([header, randomBytes(r, int(r, 40))]);
}

/** Junk between telegrams; `ofTelegram` is a telegram of the stream's kind to damage or cut. */
function noise(r: Random, ofTelegram: Buffer, flips: boolean): Buffer {
  switch (int(r, flips ? 9 : 8)) {
    case 0: return randomBytes(r, int(r, 4000));
    case 1: return Buffer.alloc(int(r, 6000));
    case 2: return Buffer.alloc(int(r, 20000), '/');
    case 3: return Buffer.concat([Buffer.from('/XYZ5 long line\r\n1-0:1.8.1('), Buffer.alloc(int(r, 40000), 'A')]);
    case 4: return Buffer.concat([Buffer.of(0x2f), randomBytes(r, int(r, 3000))]);
    case 5: return cutOff(r, ofTelegram);
    case 6: return encryptedLookingNoise(r);
    case 7: return Buffer.concat([encryptedLookingNoise(r), cutOff(r, ofTelegram)]);
    default: return flipBits(r, ofTelegram);
  }
}

/** Chunk sizes a serial port, a TCP bridge or a file could deliver. */
function chunking(r: Random): () => number {
  switch (int(r, 4)) {
    case 0: return () => 1;
    case 1: return () => 1 + int(r, 16);
    case 2: return () => 1 + int(r, 2000);
    default: return () => 1 + int(r, 70000);
  }
}

interface Case {
  stream: Buffer;
  expected: Buffer[];
  key?: Buffer;
}

/** A plain meter: telegrams (with CRCs, or a DSMR 2.2 meter without) and noise in between. */
function plainCase(r: Random): Case {
  const telegrams = r() < 0.25 ? pool.crcLess : pool.valid;
  const parts: Buffer[] = [];
  const expected: Buffer[] = [];
  for (let n = 4 + int(r, 10); n > 0; n--) {
    if (r() < 0.7) parts.push(noise(r, pick(r, telegrams), telegrams === pool.valid));
    const telegram = pick(r, telegrams);
    parts.push(telegram);
    expected.push(telegram);
  }
  if (r() < 0.5) parts.push(noise(r, pick(r, telegrams), telegrams === pool.valid));
  return { stream: Buffer.concat(parts), expected, key: r() < 0.3 ? KEY : undefined };
}

/** An encrypted meter: frames of valid telegrams, damaged and cut-off frames, and noise in between. */
function encryptedCase(r: Random): Case {
  const parts: Buffer[] = [];
  const expected: Buffer[] = [];
  let counter = 1;
  for (let n = 4 + int(r, 10); n > 0; n--) {
    const plaintext = pick(r, pool.valid);
    const frame = encryptFrame(plaintext, KEY, counter++);
    if (r() < 0.3) {
      const junk = int(r, 5);
      if (junk === 0) parts.push(randomBytes(r, int(r, 3000)));
      else if (junk === 1) parts.push(encryptedLookingNoise(r));
      else if (junk === 2) parts.push(frame.subarray(0, int(r, frame.length)));
      else if (junk === 3) parts.push(Buffer.alloc(int(r, 3000)));
      else {
        const damaged = Buffer.from(frame);
        damaged[int(r, damaged.length)] ^= 1 << int(r, 8);
        parts.push(damaged);
      }
    }
    parts.push(frame);
    expected.push(plaintext);
  }
  return { stream: Buffer.concat(parts), expected, key: KEY };
}

function run(testCase: Case, size: () => number): InputChain {
  const chain = inputChain({ key: testCase.key });
  for (let i = 0; i < testCase.stream.length; ) {
    const n = Math.max(1, size());
    chain.push(testCase.stream.subarray(i, i + n));
    i += n;
    if (chain.input.pendingBytes > HELD_BOUND) throw new Error(`${chain.input.pendingBytes} bytes held back`);
  }
  chain.end();
  return chain;
}

const latin1 = (buffers: Buffer[]) => buffers.map((b) => b.toString('latin1'));
const only = process.env.FUZZ_SEED === undefined ? undefined : Number(process.env.FUZZ_SEED);
const seeds = (first: number, count: number) => (only !== undefined ? [only] : Array.from({ length: count }, (_, i) => first + i));

describe('fuzzed input streams', () => {
  it('the corpus gives the fuzzer telegrams of both kinds', () => {
    expect(pool.valid.length).toBeGreaterThan(30);
    expect(pool.crcLess.length).toBeGreaterThan(10);
  });

  it.each([
    ['a plain meter', plainCase, 1, 240],
    ['an encrypted meter', encryptedCase, 10_001, 80],
  ] as const)('%s: exactly the intact telegrams come out, once each, in order', (_name, makeCase, first, count) => {
    for (const seed of seeds(first, count)) {
      const r = prng(seed);
      const testCase = makeCase(r);
      const chain = run(testCase, chunking(r));
      expect(latin1(chain.forwarded), `seed ${seed}`).toEqual(latin1(testCase.expected));
    }
  });

  it('megabytes of uniform random noise around telegrams lose none of them', () => {
    const r = prng(424242);
    const parts: Buffer[] = [];
    const expected: Buffer[] = [];
    for (let n = 0; n < 24; n++) {
      parts.push(randomBytes(r, 150_000 + int(r, 100_000)));
      const telegram = pick(r, pool.valid);
      parts.push(telegram);
      expected.push(telegram);
    }
    const chain = run({ stream: Buffer.concat(parts), expected }, () => 4096);
    expect(latin1(chain.forwarded)).toEqual(latin1(expected));
    expect(chain.input.state).toBe('plain');
  });
});
