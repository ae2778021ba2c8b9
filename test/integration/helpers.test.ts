// Proves the shared test helpers do what other tests rely on, with real ptys, sockets and processes.
import { createHash } from 'node:crypto';
import { closeSync, constants, existsSync, mkdtempSync, openSync, readSync, rmSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startApiServer, type ApiServer } from '../helpers/api-server.ts';
import { arm64Command, startDatalogger } from '../helpers/datalogger.ts';
import { fixture, manifest, repoRoot, streamEntries, telegramEntries } from '../helpers/fixtures.ts';
import { openPty, type Pty } from '../helpers/pty.ts';
import { waitFor } from '../helpers/wait.ts';

const allBytes = Buffer.from(Array.from({ length: 256 }, (_, i) => i));

describe('waitFor', () => {
  it('resolves with the first truthy value', async () => {
    let calls = 0;
    await expect(waitFor(() => ++calls >= 3 && 'ready', { intervalMs: 1 })).resolves.toBe('ready');
    expect(calls).toBe(3);
  });

  it('names what it waited for when time runs out', async () => {
    await expect(waitFor(() => false, { timeoutMs: 50, what: 'pigs to fly' })).rejects.toThrow(
      'timed out after 50ms waiting for pigs to fly',
    );
  });

  it('treats a throwing check as not yet and reports its last error', async () => {
    await expect(
      waitFor(
        () => {
          throw new Error('ENOENT');
        },
        { timeoutMs: 30 },
      ),
    ).rejects.toThrow(/waiting for condition \(last error: ENOENT\)/);
  });
});

describe('openPty', () => {
  let dir: string;
  let pty: Pty;
  let deviceFd: number | undefined;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'dsmr-pty-'));
    pty = await openPty(dir);
  });

  afterEach(() => {
    if (deviceFd !== undefined) closeSync(deviceFd);
    deviceFd = undefined;
  });

  afterAll(async () => {
    await pty?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const openDevice = () => {
    deviceFd = openSync(pty.devicePath, constants.O_RDONLY | constants.O_NOCTTY | constants.O_NONBLOCK);
    return deviceFd;
  };

  /** Reads from a non-blocking fd until `length` bytes arrived. */
  const readExactly = async (fd: number, length: number, timeoutMs = 15_000) => {
    const chunks: Buffer[] = [];
    let got = 0;
    await waitFor(
      () => {
        for (;;) {
          const buffer = Buffer.alloc(65536);
          let n: number;
          try {
            n = readSync(fd, buffer, 0, buffer.length, null);
          } catch (error) {
            if ((error as NodeJS.ErrnoException).code === 'EAGAIN') return got >= length;
            throw error;
          }
          if (n === 0) throw new Error('EOF on device side');
          chunks.push(buffer.subarray(0, n));
          got += n;
        }
      },
      { timeoutMs, what: `${length} bytes on the device side` },
    );
    return Buffer.concat(chunks);
  };

  it('makes both links', () => {
    expect(pty.devicePath).toBe(join(dir, 'ttyDSMR'));
    expect(pty.meterPath).toBe(join(dir, 'ttyMETER'));
    expect(existsSync(pty.devicePath)).toBe(true);
    expect(existsSync(pty.meterPath)).toBe(true);
  });

  it('passes every byte value through unchanged (raw: no CR/LF translation, no XON/XOFF, no ^C)', async () => {
    const fd = openDevice();
    const payload = Buffer.concat([Buffer.from([0x00, 0xab, 0x0d, 0x0a, 0x00]), allBytes, Buffer.from(allBytes).reverse()]);
    await pty.write(payload);
    expect((await readExactly(fd, payload.length)).equals(payload)).toBe(true);
  });

  it('delivers a 440 KB real capture byte-exact while it is being read', async () => {
    const fd = openDevice();
    const capture = fixture('nielsbasjes-dsmr-tools/stream__ttyUSB0-raw.txt');
    const [, received] = await Promise.all([pty.write(capture), readExactly(fd, capture.length, 30_000)]);
    expect(received.length).toBe(capture.length);
    expect(received.equals(capture)).toBe(true);
  });

  it('keeps bytes written while nothing has the device side open', async () => {
    await pty.write('/early\r\n');
    const fd = openDevice();
    expect((await readExactly(fd, 8)).toString('latin1')).toBe('/early\r\n');
  });

  it('fails a write that nobody reads, with a clear message, instead of hanging', async () => {
    const ownDir = mkdtempSync(join(tmpdir(), 'dsmr-pty-stall-'));
    const stalled = await openPty(ownDir);
    try {
      // Far more than socat and the kernel buffer hold; nothing reads, so the meter side must stop accepting.
      await expect(stalled.write(Buffer.alloc(1024 * 1024, 0x41), { timeoutMs: 1_000 })).rejects.toThrow(
        /stalled after 1000ms: \d+ of 1048576 bytes accepted/,
      );
    } finally {
      await stalled.close();
      rmSync(ownDir, { recursive: true, force: true });
    }
  });

  it('vanish removes the links and kills the open port; restore brings a working pty back', async () => {
    const fd = openDevice();
    await pty.vanish();
    expect(existsSync(pty.devicePath)).toBe(false);
    expect(existsSync(pty.meterPath)).toBe(false);
    // The datalogger's open port dies: reads end (EOF or EIO), they no longer say "try again".
    const dead = (() => {
      try {
        return readSync(fd, Buffer.alloc(16), 0, 16, null) === 0 ? 'EOF' : 'data';
      } catch (error) {
        return (error as NodeJS.ErrnoException).code;
      }
    })();
    expect(['EOF', 'EIO']).toContain(dead);
    await expect(pty.write('x')).rejects.toThrow(/not running/);

    await pty.restore();
    expect(existsSync(pty.devicePath)).toBe(true);
    expect(existsSync(pty.meterPath)).toBe(true);
    closeSync(fd);
    const fresh = openDevice();
    const payload = Buffer.from([0x2f, 0x00, 0xab, 0x21, 0x0d, 0x0a]);
    await pty.write(payload);
    expect((await readExactly(fresh, payload.length)).equals(payload)).toBe(true);
  });
});

describe('startApiServer', () => {
  let api: ApiServer;
  const agent = new Agent({ keepAlive: true });

  afterEach(async () => {
    await api?.close();
  });

  afterAll(() => agent.destroy());

  const post = (opts: { path?: string; key?: string; body: Buffer | string; contentType?: string }) =>
    new Promise<{ status: number; body: string }>((resolve, reject) => {
      const body = typeof opts.body === 'string' ? Buffer.from(opts.body, 'latin1') : opts.body;
      const headers: Record<string, string | number> = {
        'content-type': opts.contentType ?? 'application/x-www-form-urlencoded',
        'content-length': body.length,
      };
      if (opts.key !== undefined) headers['x-authkey'] = opts.key;
      const req = request(
        `${api.url}${opts.path ?? '/api/v1/datalogger/dsmrreading'}`,
        { method: 'POST', headers, agent },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
        },
      );
      req.on('error', reject);
      req.end(body);
    });

  /** Percent-encodes every byte, so the test does not depend on any encoder's idea of safe characters. */
  const encodeAll = (bytes: Buffer) => [...bytes].map((b) => `%${b.toString(16).padStart(2, '0')}`).join('');

  it('decodes a telegram holding every byte 0..255 exactly', async () => {
    api = await startApiServer({ key: 'secret' });
    const response = await post({ key: 'secret', body: `telegram=${encodeAll(allBytes)}` });
    expect(response.status).toBe(201);
    expect(api.telegrams).toHaveLength(1);
    expect(api.telegrams[0]!.equals(allBytes)).toBe(true);
    expect(api.requests[0]).toMatchObject({ key: 'secret', status: 201, path: '/api/v1/datalogger/dsmrreading' });
  });

  it('decodes + as space, upper- and lower-case escapes, and ignores other fields', async () => {
    api = await startApiServer();
    const response = await post({ body: 'other=1&telegram=%2FISK5%5c2+a%ab!&telegram=second' });
    expect(response.status).toBe(201);
    expect(api.telegrams[0]!.equals(Buffer.from([0x2f, 0x49, 0x53, 0x4b, 0x35, 0x5c, 0x32, 0x20, 0x61, 0xab, 0x21]))).toBe(
      true,
    );
  });

  it('answers 403 for a wrong or missing key and keeps nothing', async () => {
    api = await startApiServer({ key: 'secret' });
    const wrong = await post({ key: 'wrong', body: 'telegram=x' });
    expect(wrong.status).toBe(403);
    expect(JSON.parse(wrong.body)).toEqual({ detail: 'Invalid token.' });
    expect((await post({ body: 'telegram=x' })).status).toBe(403);
    expect(api.telegrams).toHaveLength(0);
    expect(api.requests.map((r) => r.status)).toEqual([403, 403]);
  });

  it('answers 404 for another path and 400 without a telegram field', async () => {
    api = await startApiServer({ key: 'secret' });
    expect((await post({ path: '/api/v2/datalogger/dsmrreading', key: 'secret', body: 'telegram=x' })).status).toBe(404);
    expect((await post({ key: 'secret', body: 'tele=x' })).status).toBe(400);
    expect((await post({ key: 'secret', body: 'telegram=x', contentType: 'text/plain' })).status).toBe(400);
    expect(api.telegrams).toHaveLength(0);
  });

  it('lets a responder script failures and fall back to the default', async () => {
    api = await startApiServer({
      respond: ({ index }) => (index < 2 ? { status: 503, body: 'down', delayMs: 20 } : undefined),
    });
    expect((await post({ body: 'telegram=a' })).status).toBe(503);
    expect((await post({ body: 'telegram=b' })).status).toBe(503);
    expect((await post({ body: 'telegram=c' })).status).toBe(201);
    expect(api.telegrams.map((t) => t.toString())).toEqual(['c']);
    api.setResponder(() => ({ status: 500 }));
    expect((await post({ body: 'telegram=d' })).status).toBe(500);
    api.setResponder(undefined);
    expect((await post({ body: 'telegram=e' })).status).toBe(201);
    expect(api.telegrams.map((t) => t.toString())).toEqual(['c', 'e']);
  });

  it('decodes a multipart telegram byte for byte', async () => {
    api = await startApiServer({ key: 'secret' });
    const boundary = 'b0undary';
    const telegram = Buffer.concat([Buffer.from('/ISK5\r\n', 'latin1'), allBytes, Buffer.from('!1234\r\n', 'latin1')]);
    const body = Buffer.concat([
      Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="telegram"\r\n\r\n`, 'latin1'),
      telegram,
      Buffer.from(`\r\n--${boundary}--\r\n`, 'latin1'),
    ]);
    const response = await post({ key: 'secret', body, contentType: `multipart/form-data; boundary=${boundary}` });
    expect(response.status).toBe(201);
    expect(api.telegrams[0]!.equals(telegram)).toBe(true);
  });

  it('counts connections: keep-alive reuses one', async () => {
    api = await startApiServer();
    await post({ body: 'telegram=a' });
    await post({ body: 'telegram=b' });
    expect(api.requests).toHaveLength(2);
    expect(api.connections).toBe(1);
    expect(api.openConnections).toBe(1);
  });

  it('until resolves on the request that makes the check true, and fails in time otherwise', async () => {
    const seen: number[] = [];
    api = await startApiServer({ onRequest: (r) => seen.push(r.status) });
    const second = api.until(() => api.telegrams.length >= 2 && api.telegrams.length, { timeoutMs: 5_000 });
    await post({ body: 'telegram=a' });
    await post({ body: 'telegram=b' });
    await expect(second).resolves.toBe(2);
    expect(seen).toEqual([201, 201]);
    expect(api.requests.every((r) => r.arrivedAt > 0 && r.at > 0)).toBe(true);
    await expect(api.until(() => api.telegrams.length >= 3, { timeoutMs: 50, what: 'a third' })).rejects.toThrow(
      'timed out after 50 ms waiting for a third',
    );
  });

  it('quietFor waits for a quiet period after the last request, not a fixed time from the call', async () => {
    api = await startApiServer();
    await post({ body: 'telegram=a' });
    const started = Date.now();
    let stop = false;
    // Requests keep coming for about 300 ms: the quiet period can only start after the last of them.
    const busy = (async () => {
      while (!stop && Date.now() - started < 300) {
        await post({ body: 'telegram=more' });
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    })();
    await api.quietFor(200, { timeoutMs: 5_000 });
    stop = true;
    await busy;
    const last = api.requests.at(-1)!.at;
    expect(Date.now() - last).toBeGreaterThanOrEqual(200);
    expect(Date.now() - started).toBeGreaterThanOrEqual(450);
  });

  it('quietFor fails at its deadline while requests keep arriving', async () => {
    api = await startApiServer();
    let stop = false;
    const busy = (async () => {
      while (!stop) {
        await post({ body: 'telegram=more' });
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    })();
    try {
      await expect(api.quietFor(200, { timeoutMs: 500, what: 'server A' })).rejects.toThrow(
        'server A was not quiet for 200 ms within 500 ms',
      );
    } finally {
      stop = true;
      await busy;
    }
  });

  it('closes promptly although a keep-alive connection is open', async () => {
    api = await startApiServer();
    await post({ body: 'telegram=a' });
    const started = Date.now();
    await api.close();
    expect(Date.now() - started).toBeLessThan(2_000);
  });
});

describe('startDatalogger', () => {
  const script = (code: string) => [process.execPath, '-e', code];

  it('collects lines, matches old and new ones, and stops on SIGTERM', async () => {
    const child = startDatalogger({
      command: script(`
        console.log('first ' + process.env.DSMR_DATALOGGER_LOG_LEVEL);
        console.error('on stderr');
        process.on('SIGTERM', () => { console.log('bye'); process.exit(0); });
        setTimeout(() => console.log('later'), 100);
        setInterval(() => {}, 1000);`),
      env: { DSMR_DATALOGGER_LOG_LEVEL: 'debug' },
    });
    expect(await child.waitForLine(/^later$/)).toBe('later');
    expect(await child.waitForLine(/^first/)).toBe('first debug');
    expect(child.lines).toContain('on stderr');
    expect(await child.stop()).toEqual({ code: 0, signal: null });
    expect(child.lines).toContain('bye');
  });

  it('removes datalogger settings from the parent environment', async () => {
    process.env.DSMRREADER_REMOTE_DATALOGGER_API_HOSTS = 'http://leak';
    process.env.DSMR_DATALOGGER_DATA_DIR = '/leak';
    try {
      const child = startDatalogger({
        command: script(
          `console.log(Object.keys(process.env).filter((k) => /^DSMR(READER|_DATALOGGER)_/.test(k)).join(',') || 'none')`,
        ),
      });
      expect(await child.waitForExit()).toEqual({ code: 0, signal: null });
      expect(child.lines).toEqual(['none']);
    } finally {
      delete process.env.DSMRREADER_REMOTE_DATALOGGER_API_HOSTS;
      delete process.env.DSMR_DATALOGGER_DATA_DIR;
    }
  });

  it('fails a wait as soon as the process exits without the line', async () => {
    const child = startDatalogger({ command: script(`console.log('config error'); process.exit(2)`) });
    const started = Date.now();
    await expect(child.waitForLine(/never/, 10_000)).rejects.toThrow(/exited with code 2[\s\S]*config error/);
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it('kills and reports a process that ignores SIGTERM', async () => {
    const child = startDatalogger({
      command: script(`process.on('SIGTERM', () => {}); console.log('up'); setInterval(() => {}, 1000)`),
    });
    await child.waitForLine(/^up$/);
    await expect(child.stop('SIGTERM', 300)).rejects.toThrow(/did not exit within 300ms/);
    expect(child.proc.signalCode).toBe('SIGKILL');
  });

  it('reports a command that cannot start', async () => {
    const child = startDatalogger({ command: ['/nonexistent/dsmr-datalogger'] });
    await expect(child.waitForExit()).rejects.toThrow(/could not start.*ENOENT/);
  });

  it('builds the qemu command for arm64 executables', () => {
    expect(arm64Command('/x/dsmr-datalogger-linux-arm64')).toEqual([
      'qemu-aarch64-static',
      '-L',
      '/usr/aarch64-linux-gnu',
      '/x/dsmr-datalogger-linux-arm64',
    ]);
  });
});

describe('fixtures', () => {
  it('lists every corpus file with its size and hash', () => {
    const entries = manifest();
    expect(entries).toHaveLength(128);
    for (const entry of entries) {
      const bytes = fixture(entry.file);
      expect(bytes.length, entry.file).toBe(entry.bytes);
      expect(createHash('sha256').update(bytes).digest('hex').slice(0, 16), entry.file).toBe(entry.sha256);
    }
  });

  it('types the entries by kind', () => {
    expect(telegramEntries().filter((e) => e.crc_valid === true)).toHaveLength(53);
    expect(streamEntries().every((e) => e.telegrams > 0)).toBe(true);
    expect(repoRoot).toMatch(/[^/]$/);
    expect(existsSync(join(repoRoot, 'package.json'))).toBe(true);
  });
});
