// The file input's status: closed before it starts, open while replaying, closed at the end.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { FileSource } from '../../src/sources/file.ts';

describe('file source status', () => {
  const dir = mkdtempSync(join(tmpdir(), 'source-file-'));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('is closed, then open while replaying, then closed when the file ended', async () => {
    const path = join(dir, 'capture.txt');
    writeFileSync(path, '/ISK5\r\n!1234\r\n');
    let now = 1000;
    const clock = { now: () => now, setTimeout: () => ({}), clearTimeout: () => undefined };
    const source = new FileSource(path, clock);
    expect(source.status()).toEqual({ kind: 'file', target: path, state: 'closed', since: 1000, stalls: 0 });
    now = 2000;
    const ended = new Promise<void>((resolve) => source.start({ data: () => undefined, discontinuity: () => undefined, end: resolve }));
    expect(source.status()).toMatchObject({ state: 'open', since: 2000 });
    now = 3000;
    await ended;
    expect(source.status()).toMatchObject({ state: 'closed', since: 3000 });
    expect(new FileSource('-').status().target).toBe('stdin');
  });
});
