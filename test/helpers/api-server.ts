// A fake DSMR-reader on 127.0.0.1 that records exactly which bytes the datalogger delivered.
// Default behaviour follows DSMR-reader's datalogger endpoint: POST /api/v1/datalogger/dsmrreading with the form
// field `telegram` and header X-AUTHKEY; 201 on success, 403 on a wrong key, 400 without a telegram, 404 elsewhere.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export const DATALOGGER_PATH = '/api/v1/datalogger/dsmrreading';

export interface Reply {
  status: number;
  body?: string;
  headers?: Record<string, string>;
  /** Wait this long before answering, e.g. to make the client time out. */
  delayMs?: number;
}

export interface ResponderRequest {
  key: string | undefined;
  /** The decoded `telegram` field; empty when the field is missing. */
  telegram: Buffer;
  /** 0-based position of this request among all POSTs to the datalogger path. */
  index: number;
}

/** Decides the reply for a POST to the datalogger path; return undefined to fall back to the default behaviour. */
export type Responder = (req: ResponderRequest) => Reply | undefined | Promise<Reply | undefined>;

export interface RecordedRequest {
  method: string;
  path: string;
  key: string | undefined;
  telegram: Buffer;
  status: number;
  /** Date.now() when the request body had fully arrived. */
  at: number;
  /** True when the client went away before the (delayed) reply could be sent. */
  clientGone: boolean;
}

export interface ApiServer {
  url: string;
  /** Every telegram answered with 2xx, raw bytes, in the order the replies were sent. */
  telegrams: Buffer[];
  /** Every request, in the order the replies were decided. */
  requests: RecordedRequest[];
  setResponder(responder: Responder | undefined): void;
  close(): Promise<void>;
}

/** `port`: listen on this port instead of a free one, e.g. to bring a stopped server back at the same address. */
export async function startApiServer(opts: { key?: string; respond?: Responder; port?: number } = {}): Promise<ApiServer> {
  let responder = opts.respond;
  let postCount = 0;
  const telegrams: Buffer[] = [];
  const requests: RecordedRequest[] = [];
  const sockets = new Set<Socket>();
  const timers = new Set<NodeJS.Timeout>();

  const defaultReply = (key: string | undefined, fields: Map<string, Buffer>): Reply => {
    if (opts.key !== undefined && key === undefined) {
      return json(403, { detail: 'Authentication credentials were not provided.' });
    }
    if (opts.key !== undefined && key !== opts.key) return json(403, { detail: 'Invalid token.' });
    if (!fields.has('telegram')) return json(400, { telegram: ['This field is required.'] });
    return { status: 201, body: '' };
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const body = await readBody(req);
    const at = Date.now();
    const method = req.method ?? '';
    const path = (req.url ?? '').split('?')[0] ?? '';
    const keyHeader = req.headers['x-authkey'];
    const key = Array.isArray(keyHeader) ? keyHeader[0] : keyHeader;
    const isForm = (req.headers['content-type'] ?? '').toLowerCase().startsWith('application/x-www-form-urlencoded');
    const fields = isForm ? decodeForm(body) : new Map<string, Buffer>();
    const telegram = fields.get('telegram') ?? Buffer.alloc(0);

    let reply: Reply;
    if (method !== 'POST' || path !== DATALOGGER_PATH) {
      reply = json(404, { detail: 'Not found.' });
    } else {
      const index = postCount++;
      reply = (responder ? await responder({ key, telegram, index }) : undefined) ?? defaultReply(key, fields);
    }
    if (reply.delayMs) await delay(reply.delayMs, timers);

    const clientGone = res.destroyed || req.socket.destroyed;
    requests.push({ method, path, key, telegram, status: reply.status, at, clientGone });
    if (clientGone) return;
    if (reply.status >= 200 && reply.status < 300) telegrams.push(telegram);
    res.writeHead(reply.status, { 'content-type': 'application/json', ...reply.headers });
    res.end(reply.body ?? '');
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (req.destroyed || res.destroyed) return; // the client went away mid-request: nothing to answer
      // A broken responder is a test bug: make it loud in the response and the test output.
      console.error('fake DSMR-reader failed:', error);
      if (!res.headersSent && !res.destroyed) res.writeHead(500).end(String(error));
    });
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    telegrams,
    requests,
    setResponder: (r) => {
      responder = r;
    },
    close: async () => {
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      // Keep-alive sockets would keep server.close() waiting.
      for (const socket of sockets) socket.destroy();
      await closed;
    },
  };
}

/**
 * Decodes application/x-www-form-urlencoded bytes without ever going through a text decoding, so bytes such as 0xAB
 * that are not valid UTF-8 survive exactly. The first occurrence of a name wins.
 */
export function decodeForm(body: Buffer): Map<string, Buffer> {
  const fields = new Map<string, Buffer>();
  if (body.length === 0) return fields;
  let start = 0;
  while (start <= body.length) {
    let end = body.indexOf(0x26 /* & */, start);
    if (end === -1) end = body.length;
    const pair = body.subarray(start, end);
    if (pair.length > 0) {
      const eq = pair.indexOf(0x3d /* = */);
      const name = percentDecode(eq === -1 ? pair : pair.subarray(0, eq)).toString('latin1');
      const value = eq === -1 ? Buffer.alloc(0) : percentDecode(pair.subarray(eq + 1));
      if (!fields.has(name)) fields.set(name, value);
    }
    start = end + 1;
  }
  return fields;
}

export function percentDecode(encoded: Buffer): Buffer {
  const out = Buffer.alloc(encoded.length);
  let n = 0;
  for (let i = 0; i < encoded.length; i++) {
    const byte = encoded[i]!;
    if (byte === 0x2b /* + */) {
      out[n++] = 0x20;
    } else if (byte === 0x25 /* % */ && i + 2 < encoded.length && isHex(encoded[i + 1]!) && isHex(encoded[i + 2]!)) {
      out[n++] = parseInt(String.fromCharCode(encoded[i + 1]!, encoded[i + 2]!), 16);
      i += 2;
    } else {
      // A stray % is kept as-is, like most form parsers do.
      out[n++] = byte;
    }
  }
  return out.subarray(0, n);
}

function isHex(byte: number): boolean {
  return (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x46) || (byte >= 0x61 && byte <= 0x66);
}

function json(status: number, value: unknown): Reply {
  return { status, body: JSON.stringify(value) };
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.once('end', () => resolve(Buffer.concat(chunks)));
    req.once('error', reject);
    req.once('close', () => {
      if (!req.complete) reject(new Error('client aborted the request body'));
    });
  });
}

function delay(ms: number, timers: Set<NodeJS.Timeout>): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      timers.delete(timer);
      resolve();
    }, ms);
    timers.add(timer);
  });
}
