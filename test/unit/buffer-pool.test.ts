// The datalogger turns Node's Buffer pool off (src/platform/buffer-pool.ts): small Buffers no longer share a slab.
import { afterEach, describe, expect, it } from 'vitest';
import { turnOffBufferPool } from '../../src/platform/buffer-pool.ts';

const poolSize = Buffer.poolSize;
afterEach(() => {
  Buffer.poolSize = poolSize;
});

describe('turnOffBufferPool', () => {
  it('gives each small Buffer, from a string or allocUnsafe, a backing store of its own size', () => {
    // With the pool, both are slices of one 8 KiB slab.
    expect(Buffer.from('dsmr/reading/electricity_currently_delivered').buffer.byteLength).toBe(poolSize);
    turnOffBufferPool();
    const fromString = Buffer.from('dsmr/reading/electricity_currently_delivered');
    const unsafe = Buffer.allocUnsafe(12);
    expect(fromString.buffer.byteLength).toBe(fromString.length);
    expect(unsafe.buffer.byteLength).toBe(12);
    expect(fromString.buffer).not.toBe(unsafe.buffer);
  });
});
