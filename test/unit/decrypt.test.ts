import { describe, expect, it } from 'vitest';
import { createCipheriv } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DecryptionError, FrameDecryptor, decryptFrame, parseAadSetting, parseHexKey } from '../../src/transforms/decrypt.ts';
import { EncryptedFramer, isEncryptedStart, parseEncryptedFrame } from '../../src/transforms/encrypted-framer.ts';
import { decodeTelegram } from '../../src/decode/decode.ts';
import { encryptFrame as smartyFrame, feed, inputChain, prng } from '../helpers/input-chain.ts';

const corpus = join(__dirname, '..', 'fixtures', 'telegrams');
const read = (file: string) => readFileSync(join(corpus, file));
const readHex = (file: string) => Buffer.from(readFileSync(join(corpus, file), 'latin1').replace(/\s+/g, ''), 'hex');

// The three vectors of ENCRYPTION.md, with their keys, AADs and the plaintext files they must decrypt to.
const esphome = {
  frame: read('esphome-libs-dsmr_parser/encrypted/encrypted_packet.bin'),
  key: Buffer.from('AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', 'hex'),
  plaintext: read('dsmr_parser/TELEGRAM_SAGEMCOM_T210_D_R.txt'),
};
const athombvKey = Buffer.from('0123456789abcdef0123456789abcdef', 'hex');
const athombvPlaintext = read('athombv-node-dsmr-parser/dsmr-luxembourgh-spec-example.txt');
const withAad = readHex('athombv-node-dsmr-parser/encrypted/dsmr-luxembourgh-spec-example-with-aad.hex.txt');
const withoutAad = readHex('athombv-node-dsmr-parser/encrypted/dsmr-luxembourgh-spec-example-without-aad.hex.txt');
const athombvAk = Buffer.from('ffeeddccbbaa99887766554433221100', 'hex');


function expectDecryptionError(fn: () => unknown, reason: DecryptionError['reason']): DecryptionError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(DecryptionError);
    expect((error as DecryptionError).reason).toBe(reason);
    return error as DecryptionError;
  }
  throw new Error('expected a DecryptionError');
}

// Builds a frame the way a meter does, to test layouts the corpus has no vector for.
function encryptFrame(plaintext: Buffer, key: Buffer, opts: { lengthForm?: 'short' | '81' | '82'; sc?: number; counter?: number } = {}): Buffer {
  const systemTitle = Buffer.from('SAG12345');
  const sc = opts.sc ?? 0x30;
  const fc = Buffer.alloc(4);
  fc.writeUInt32BE(opts.counter ?? 1);
  const cipher = createCipheriv('aes-128-gcm', key, Buffer.concat([systemTitle, fc]), { authTagLength: 12 });
  cipher.setAAD(Buffer.concat([Buffer.of(sc), Buffer.from('00112233445566778899AABBCCDDEEFF', 'hex')]));
  const ct = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  const body = Buffer.concat([Buffer.of(sc), fc, ct, cipher.getAuthTag()]);
  const form = opts.lengthForm ?? '82';
  const length =
    form === 'short' ? Buffer.of(body.length) : form === '81' ? Buffer.of(0x81, body.length) : Buffer.of(0x82, body.length >> 8, body.length & 0xff);
  return Buffer.concat([Buffer.of(0xdb, 0x08), systemTitle, length, body]);
}

describe('decryptFrame on the corpus vectors', () => {
  it('esphome binary frame (Luxembourg public AK, the default AAD) gives the Austrian plaintext byte for byte', () => {
    const result = decryptFrame(esphome.frame, esphome.key);
    expect(result.plaintext.equals(esphome.plaintext)).toBe(true);
    expect(result.systemTitle.toString('latin1')).toBe('SYSTEMID');
    expect(result.frameCounter).toBe(0x10000001);
    expect(decodeTelegram(result.plaintext).crc).toEqual({ given: '7EF9', computed: '7EF9', valid: true });
  });

  it('athombv hex frame with AAD decrypts with that AAD, given whole or as its authentication key', () => {
    const aad = Buffer.concat([Buffer.of(0x30), athombvAk]);
    expect(decryptFrame(withAad, athombvKey, { aad }).plaintext.equals(athombvPlaintext)).toBe(true);
    expect(decryptFrame(withAad, athombvKey, { authenticationKey: athombvAk }).plaintext.equals(athombvPlaintext)).toBe(true);
    const frame = parseEncryptedFrame(withAad)!;
    expect(frame.systemTitle.toString('latin1')).toBe('systitle');
    expect(frame.frameCounter).toBe(0x11223344);
    expect(frame.ciphertext.length).toBe(athombvPlaintext.length);
  });

  it('athombv hex frame without AAD decrypts with AAD turned off', () => {
    expect(decryptFrame(withoutAad, athombvKey, null).plaintext.equals(athombvPlaintext)).toBe(true);
  });

  it('a wrong key, or a wrong AAD, is one typed DecryptionError with a clear message', () => {
    const wrongKey = Buffer.alloc(16, 0x11);
    const error = expectDecryptionError(() => decryptFrame(esphome.frame, wrongKey), 'authentication');
    expect(error.name).toBe('DecryptionError');
    expect(error.message).toMatch(/key/);
    expectDecryptionError(() => decryptFrame(withAad, athombvKey), 'authentication'); // default LU AK, but the vector used another
    expectDecryptionError(() => decryptFrame(withoutAad, athombvKey), 'authentication');
    expectDecryptionError(() => decryptFrame(withAad, athombvKey, null), 'authentication');
    expectDecryptionError(() => decryptFrame(esphome.frame, Buffer.alloc(15)), 'unsupported');
    expectDecryptionError(() => decryptFrame(esphome.frame.subarray(0, 100), esphome.key), 'unsupported');
  });

  it('a damaged frame fails the tag check instead of yielding corrupted text', () => {
    const damaged = Buffer.from(esphome.frame);
    damaged[100] ^= 0x01;
    expectDecryptionError(() => decryptFrame(damaged, esphome.key), 'authentication');
  });
});

describe('EncryptedFramer', () => {
  const frames = [esphome.frame, withAad, withoutAad];
  const stream = Buffer.concat([Buffer.from('noise\r\n/not a telegram\r\n'), frames[0], frames[1], Buffer.of(0x00, 0xdb, 0x07, 0xdb, 0x08, 1, 2, 3, 4, 5, 6, 7, 8, 0x83), frames[2]]);

  it('recognises the encrypted first byte', () => {
    expect(isEncryptedStart(0xdb)).toBe(true);
    expect(isEncryptedStart('/'.charCodeAt(0))).toBe(false);
  });

  it('finds every frame, skipping garbage and false 0xDB starts', () => {
    const framer = new EncryptedFramer();
    const out = framer.push(stream);
    expect(out.map((f) => f.toString('hex'))).toEqual(frames.map((f) => f.toString('hex')));
    expect(framer.stats.skippedBytes).toBe(24 + 14);
    expect(framer.pendingBytes).toBe(0);
  });

  it('reassembles frames split across arbitrary chunk boundaries', () => {
    for (let seed = 1; seed <= 30; seed++) {
      const random = prng(seed);
      const framer = new EncryptedFramer();
      const out: Buffer[] = [];
      for (let i = 0; i < stream.length; ) {
        const n = seed === 1 ? 1 : 1 + Math.floor(random() * 700);
        out.push(...framer.push(stream.subarray(i, i + n)));
        i += n;
      }
      expect(out.map((f) => f.toString('hex')), `seed ${seed}`).toEqual(frames.map((f) => f.toString('hex')));
    }
  });

  it('does not wait forever on a length beyond the size bound', () => {
    const framer = new EncryptedFramer(2048);
    const bogus = Buffer.concat([Buffer.of(0xdb, 0x08), Buffer.alloc(8), Buffer.of(0x82, 0xff, 0xff, 0x30)]);
    expect(framer.push(Buffer.concat([bogus, esphome.frame])).map((f) => f.toString('hex'))).toEqual([esphome.frame.toString('hex')]);
  });

  it('drops a partial frame at a discontinuity instead of joining it to the next', () => {
    const framer = new EncryptedFramer();
    expect(framer.push(esphome.frame.subarray(0, 300))).toEqual([]);
    framer.discontinuity();
    expect(framer.stats.truncated).toBe(1);
    expect(framer.push(esphome.frame).length).toBe(1);
  });

  it('reads the one- and two-byte A-XDR length forms too', () => {
    const key = Buffer.alloc(16, 0x42);
    const small = Buffer.from('/ABC5X\r\n\r\n!');
    for (const lengthForm of ['short', '81', '82'] as const) {
      const plaintext = lengthForm === 'short' ? small : Buffer.from(`/ABC5X\r\n\r\n${'1-0:1.8.1(000001.000*kWh)\r\n'.repeat(lengthForm === '81' ? 5 : 40)}!`);
      const frame = encryptFrame(plaintext, key, { lengthForm });
      const [cut] = new EncryptedFramer().push(Buffer.concat([frame, Buffer.of(0xdb)]));
      expect(cut.equals(frame), lengthForm).toBe(true);
      expect(decryptFrame(cut, key).plaintext.equals(plaintext)).toBe(true);
    }
  });

  it('rejects security modes other than authenticated encryption as unsupported', () => {
    const frame = encryptFrame(Buffer.from('/ABC5X\r\n\r\n!'), Buffer.alloc(16, 1), { sc: 0x20 });
    expect(new EncryptedFramer().push(frame).length).toBe(1);
    expectDecryptionError(() => decryptFrame(frame, Buffer.alloc(16, 1)), 'unsupported');
  });
});

describe('FrameDecryptor', () => {
  it('turns encrypted bytes into plain telegrams', () => {
    const decryptor = new FrameDecryptor(esphome.key);
    const half = Math.floor(esphome.frame.length / 2);
    expect(decryptor.push(esphome.frame.subarray(0, half))).toEqual([]);
    const [outcome] = decryptor.push(esphome.frame.subarray(half));
    expect(outcome.ok && outcome.frame.plaintext.equals(esphome.plaintext)).toBe(true);
  });

  it('reports every frame of a wrong key as the same typed error, for the caller to log once', () => {
    const decryptor = new FrameDecryptor(Buffer.alloc(16, 9));
    const outcomes = decryptor.push(Buffer.concat([esphome.frame, esphome.frame, esphome.frame]));
    expect(outcomes.length).toBe(3);
    for (const outcome of outcomes) {
      expect(outcome.ok).toBe(false);
      if (!outcome.ok) expect(outcome.error.reason).toBe('authentication');
    }
    expect(new Set(outcomes.map((o) => (o.ok ? '' : o.error.message))).size).toBe(1);
  });
});

describe('key and AAD settings', () => {
  it('parses 32-hex-digit keys', () => {
    expect(parseHexKey('AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA')?.equals(esphome.key)).toBe(true);
    expect(parseHexKey(' 0x0123456789abcdef0123456789abcdef ')?.equals(athombvKey)).toBe(true);
    expect(parseHexKey('0123')).toBeNull();
    expect(parseHexKey('zz23456789abcdef0123456789abcdef')).toBeNull();
  });

  it('parses the AAD setting: default, none, authentication key, full AAD', () => {
    expect(parseAadSetting(undefined)).toBeUndefined();
    expect(parseAadSetting('')).toBeUndefined();
    expect(parseAadSetting('none')).toBeNull();
    expect(parseAadSetting('ffeeddccbbaa99887766554433221100')).toEqual({ authenticationKey: athombvAk });
    expect(parseAadSetting('30ffeeddccbbaa99887766554433221100')).toEqual({ aad: Buffer.concat([Buffer.of(0x30), athombvAk]) });
    expect(typeof parseAadSetting('xyz')).toBe('string');
  });
});

describe('DecryptingInput with the framer and the check behind it', () => {
  const plain = [read('nielsbasjes-dsmr-tools/ttyUSB0-raw__telegram1.txt'), read('nielsbasjes-dsmr-tools/ttyUSB0-raw__telegram2.txt')].map((t) => t.subarray(t.indexOf(0x2f)));
  const latin1 = (buffers: Buffer[]) => buffers.map((b) => b.toString('latin1'));
  /** Line noise that reads as a frame header: 0xDB 0x08, a system title, a length (498), security control 0x30. */
  const noiseHeader = (length = 498) => Buffer.concat([Buffer.of(0xdb, 0x08), Buffer.from('SAG12345'), Buffer.of(0x82, length >> 8, length & 0xff, 0x30, 0x00, 0x01)]);
  const fakeHeader = noiseHeader();
  const chunkings: [string, () => number][] = [['whole', () => 1 << 30], ['bytes', () => 1], ['random', ((r) => () => 1 + Math.floor(r() * 300))(prng(7))]];

  // Regression: a header like this switched the input to "encrypted" for good: no plain telegram was forwarded again.
  it.each(chunkings)('noise that looks like a frame header does not silence a plain meter (chunks: %s)', (_name, size) => {
    for (const key of [undefined, esphome.key]) {
      const stream = Buffer.concat([plain[0], fakeHeader, Buffer.from('\r\n'), plain[1], plain[0], fakeHeader, plain[1], plain[0]]);
      const chain = feed(inputChain({ key }), stream, size);
      expect(latin1(chain.forwarded)).toEqual(latin1([plain[0], plain[1], plain[0], plain[1], plain[0]]));
      expect(chain.input.state).toBe('plain');
      expect(chain.input.stats).toEqual({ frames: 0, decrypted: 0, failed: 0 });
      expect(chain.logs).toEqual([]);
    }
  });

  it('holds a plain telegram back while a header that looks real waits for its frame, at most that long', () => {
    const chain = inputChain();
    chain.push(Buffer.concat([noiseHeader(plain[0].length + 100), plain[0]]));
    expect(chain.forwarded).toEqual([]); // 100 bytes of the frame could still be on their way
    chain.push(plain[1]);
    expect(latin1(chain.forwarded)).toEqual(latin1([plain[0], plain[1]]));
  });

  it('a real frame behind a false header is still decrypted, and so are the ones after it', () => {
    const frames = [1, 2, 3].map((n) => smartyFrame(plain[n % 2], esphome.key, n));
    const stream = Buffer.concat([frames[0], fakeHeader, frames[1], frames[2]]);
    for (const [name, size] of chunkings) {
      const chain = feed(inputChain({ key: esphome.key }), stream, size);
      expect(latin1(chain.forwarded), name).toEqual(latin1([plain[1], plain[0], plain[1]]));
      // Once the meter is known to encrypt, the false frame counts as a damaged one.
      expect(chain.input.stats).toEqual({ frames: 4, decrypted: 3, failed: 1 });
    }
  });

  it('plain telegrams between encrypted frames are forwarded too', () => {
    const stream = Buffer.concat([esphome.frame, plain[0], esphome.frame, plain[1]]);
    const chain = feed(inputChain({ key: esphome.key }), stream, () => 5);
    expect(latin1(chain.forwarded)).toEqual(latin1([esphome.plaintext, plain[0], esphome.plaintext, plain[1]]));
  });

  it('without a key, one frame followed by plain bytes is not enough to call the meter encrypted; two back to back are', () => {
    const lone = feed(inputChain(), Buffer.concat([esphome.frame, plain[0]]));
    expect(lone.input.state).toBe('plain');
    expect(latin1(lone.forwarded)).toEqual(latin1([plain[0]]));
    const two = feed(inputChain(), Buffer.concat([esphome.frame, esphome.frame, plain[0]]), () => 3);
    expect(two.input.state).toBe('no-key');
    expect(two.input.stats).toEqual({ frames: 2, decrypted: 0, failed: 2 });
    expect(two.logs).toHaveLength(1);
    expect(two.logs[0]).toMatch(/^ERROR .*DSMR_DATALOGGER_DECRYPTION_KEY/);
    expect(latin1(two.forwarded)).toEqual(latin1([plain[0]]));
  });

  it('a frame the input ends with counts: nothing follows to contradict its length', () => {
    const chain = feed(inputChain(), esphome.frame);
    expect(chain.input.state).toBe('no-key');
    expect(chain.input.stats.frames).toBe(1);
  });
});
