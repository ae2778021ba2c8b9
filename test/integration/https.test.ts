// HTTPS to a DSMR-reader with a self-signed certificate: trusted through the CA-file setting, refused without it,
// and accepted with the explicit insecure setting.
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeForm } from '../helpers/api-server.ts';
import { startDatalogger } from '../helpers/datalogger.ts';
import { VALID_DSMR5 } from '../helpers/streams.ts';
import { waitFor } from '../helpers/wait.ts';

let dir: string;
let server: https.Server;
let url: string;
const received: Buffer[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'dsmr-https-'));
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-days', '2', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'pipe' });
  server = https.createServer({ key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')) }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const telegram = decodeForm(Buffer.concat(chunks)).get('telegram');
      if (req.headers['x-authkey'] === 'tls-key' && telegram) received.push(telegram);
      res.writeHead(201).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
  rmSync(dir, { recursive: true, force: true });
});

function replay(extraEnv: Record<string, string>) {
  const dl = startDatalogger({
    env: {
      DSMRREADER_REMOTE_DATALOGGER_INPUT_METHOD: 'file',
      DSMR_DATALOGGER_INPUT_FILE: '-',
      DSMRREADER_REMOTE_DATALOGGER_API_HOSTS: url,
      DSMRREADER_REMOTE_DATALOGGER_API_KEYS: 'tls-key',
      DSMR_DATALOGGER_DATA_DIR: mkdtempSync(join(dir, 'data-')),
      ...extraEnv,
    },
  });
  onTestFailed(() => console.log(dl.lines.join('\n')));
  dl.proc.stdin!.end(VALID_DSMR5);
  return dl;
}

describe('HTTPS', () => {
  it('trusts a self-signed server through DSMR_DATALOGGER_CA_FILE', async () => {
    received.length = 0;
    const dl = replay({ DSMR_DATALOGGER_CA_FILE: join(dir, 'cert.pem') });
    expect((await dl.waitForExit(20_000)).code).toBe(0);
    expect(received.map((t) => t.toString('latin1'))).toEqual([VALID_DSMR5.toString('latin1')]);
  });

  it('refuses it without, keeping the telegram, and says why once', async () => {
    received.length = 0;
    const dl = replay({});
    await dl.waitForLine(/unavailable \((DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN)/);
    await waitFor(() => dl.lines.some((l) => /waiting until 1 telegram/.test(l)), { what: 'the telegram to be kept' });
    expect(received).toHaveLength(0);
    expect((await dl.stop('SIGTERM')).code).toBe(0);
    expect(dl.lines.some((l) => /1 telegram\(s\) kept for the next start/.test(l))).toBe(true);
  });

  it('accepts it with DSMR_DATALOGGER_INSECURE, and says so at start', async () => {
    received.length = 0;
    const dl = replay({ DSMR_DATALOGGER_INSECURE: 'true' });
    expect((await dl.waitForExit(20_000)).code).toBe(0);
    expect(received).toHaveLength(1);
    expect(dl.lines.some((l) => /certificates are not checked/.test(l))).toBe(true);
  });
});
