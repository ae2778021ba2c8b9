// A stand-in DSMR-reader on 127.0.0.1 that records exactly which bytes a datalogger delivered; the one server behind
// the tests (test/helpers/api-server.ts), the bench and the demo. Types: stand-in-dsmr-reader.d.mts beside it.
//
// Default behaviour follows DSMR-reader's datalogger endpoint: POST /api/v1/datalogger/dsmrreading with the form
// field `telegram` (urlencoded, or multipart as Django also takes it) and header X-AUTHKEY; 201 on success, 403 on a
// wrong key, 400 without a telegram, 404 elsewhere. Keep-alive is on (Node's default), so a client that reuses its
// connection can; `connections` counts how many it opened.
import { createServer } from 'node:http';
import { performance } from 'node:perf_hooks';
import { formFields } from './form.mjs';

export { decodeForm, decodeMultipart, formFields, percentDecode } from './form.mjs';

export const DATALOGGER_PATH = '/api/v1/datalogger/dsmrreading';

/** @typedef {import('./stand-in-dsmr-reader.d.mts').Reply} Reply */
/** @typedef {import('./stand-in-dsmr-reader.d.mts').Responder} Responder */
/** @typedef {import('./stand-in-dsmr-reader.d.mts').RecordedRequest} RecordedRequest */
/** @typedef {import('./stand-in-dsmr-reader.d.mts').ApiServer} ApiServer */
/** @typedef {import('./stand-in-dsmr-reader.d.mts').ApiServerOptions} ApiServerOptions */
/** @typedef {import('./stand-in-dsmr-reader.d.mts').QuietOptions} QuietOptions */

/**
 * `port`: listen on this port instead of a free one, e.g. to bring a stopped server back at the same address.
 * @param {ApiServerOptions} [opts]
 * @returns {Promise<ApiServer>}
 */
export async function startApiServer(opts = {}) {
  let responder = opts.respond;
  let postCount = 0;
  let connections = 0;
  let lastArrivalAt = Date.now();
  /** @type {Buffer[]} */
  const telegrams = [];
  /** @type {RecordedRequest[]} */
  const requests = [];
  /** @type {Set<import('node:net').Socket>} */
  const sockets = new Set();
  /** @type {Set<NodeJS.Timeout>} */
  const timers = new Set();
  /** @type {Set<() => void>} */
  const listeners = new Set();

  /** @returns {Reply} */
  const defaultReply = (/** @type {string | undefined} */ key, /** @type {Map<string, Buffer>} */ fields) => {
    if (opts.key !== undefined && key === undefined) {
      return json(403, { detail: 'Authentication credentials were not provided.' });
    }
    if (opts.key !== undefined && key !== opts.key) return json(403, { detail: 'Invalid token.' });
    if (!fields.has('telegram')) return json(400, { telegram: ['This field is required.'] });
    return { status: 201, body: '' };
  };

  /** @param {RecordedRequest} record */
  const record = (record) => {
    requests.push(record);
    opts.onRequest?.(record);
    for (const listener of [...listeners]) listener();
  };

  const handle = async (/** @type {import('node:http').IncomingMessage} */ req, /** @type {import('node:http').ServerResponse} */ res) => {
    const body = await readBody(req);
    const at = Date.now();
    const arrivedAt = performance.now();
    lastArrivalAt = at;
    const method = req.method ?? '';
    const path = (req.url ?? '').split('?')[0] ?? '';
    const keyHeader = req.headers['x-authkey'];
    const key = Array.isArray(keyHeader) ? keyHeader[0] : keyHeader;
    const fields = formFields(req.headers['content-type'], body);
    const telegram = fields.get('telegram') ?? Buffer.alloc(0);

    /** @type {Reply} */
    let reply;
    if (method !== 'POST' || path !== DATALOGGER_PATH) {
      reply = json(404, { detail: 'Not found.' });
    } else {
      const index = postCount++;
      reply = (responder ? await responder({ key, telegram, index, at, arrivedAt }) : undefined) ?? defaultReply(key, fields);
    }
    if (reply.delayMs) await delay(reply.delayMs, timers);

    const clientGone = res.destroyed || req.socket.destroyed;
    if (!clientGone && reply.status >= 200 && reply.status < 300) telegrams.push(telegram);
    record({ method, path, key, telegram, status: reply.status, at, arrivedAt, clientGone });
    if (clientGone) return;
    res.writeHead(reply.status, { 'content-type': 'application/json', ...reply.headers });
    res.end(reply.body ?? '');
  };

  const server = createServer((req, res) => {
    lastArrivalAt = Date.now();
    handle(req, res).catch((/** @type {unknown} */ error) => {
      if (req.destroyed || res.destroyed) return; // the client went away mid-request: nothing to answer
      // A broken responder is a test bug: make it loud in the response and the test output.
      console.error('stand-in DSMR-reader failed:', error);
      if (!res.headersSent && !res.destroyed) res.writeHead(500).end(String(error));
    });
  });
  server.on('connection', (socket) => {
    connections++;
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, '127.0.0.1', () => resolve(undefined));
  });
  const address = /** @type {import('node:net').AddressInfo} */ (server.address());

  return {
    url: `http://127.0.0.1:${address.port}`,
    telegrams,
    requests,
    get connections() {
      return connections;
    },
    get openConnections() {
      return sockets.size;
    },
    get lastArrivalAt() {
      return lastArrivalAt;
    },
    setResponder: (r) => {
      responder = r;
    },
    until: (check, waitOpts) => untilEvent(check, listeners, waitOpts),
    quietFor: (ms, quietOpts) => waitForQuiet(() => lastArrivalAt, ms, quietOpts),
    close: async () => {
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      const closed = new Promise((resolve) => server.close(() => resolve(undefined)));
      // Keep-alive sockets would keep server.close() waiting.
      for (const socket of sockets) socket.destroy();
      await closed;
    },
  };
}

/**
 * Resolves once nothing has arrived for `quietMs` by `lastArrivalAt()` (Date.now() of the latest arrival); fails when
 * that has not happened within `timeoutMs`. For "nothing more arrives" checks: a condition, not a fixed sleep.
 * @param {() => number} lastArrivalAt
 * @param {number} quietMs
 * @param {QuietOptions} [opts]
 * @returns {Promise<void>}
 */
export async function waitForQuiet(lastArrivalAt, quietMs, opts = {}) {
  const timeoutMs = opts.timeoutMs ?? Math.max(10_000, 10 * quietMs);
  const started = Date.now();
  const deadline = started + timeoutMs;
  for (;;) {
    const now = Date.now();
    const quietAt = Math.max(lastArrivalAt(), started) + quietMs;
    if (now >= quietAt) return;
    if (quietAt > deadline) {
      throw new Error(`${opts.what ?? 'the stand-in DSMR-reader'} was not quiet for ${quietMs} ms within ${timeoutMs} ms: requests kept arriving`);
    }
    await new Promise((resolve) => setTimeout(resolve, quietAt - now));
  }
}

/**
 * Resolves with the first truthy `check()`, tried now and after every recorded request; fails after `timeoutMs`.
 * @template T
 * @param {() => T} check
 * @param {Set<() => void>} listeners
 * @param {{ timeoutMs?: number, what?: string }} [opts]
 * @returns {Promise<T>}
 */
function untilEvent(check, listeners, { timeoutMs = 15_000, what = 'a condition at the stand-in DSMR-reader' } = {}) {
  return new Promise((resolve, reject) => {
    const done = () => {
      clearTimeout(timer);
      listeners.delete(listener);
    };
    const listener = () => {
      let value;
      try {
        value = check();
      } catch (error) {
        done();
        reject(error);
        return;
      }
      if (!value) return;
      done();
      resolve(value);
    };
    const timer = setTimeout(() => {
      done();
      reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`));
    }, timeoutMs);
    listeners.add(listener);
    listener();
  });
}

/**
 * @param {number} status
 * @param {unknown} value
 * @returns {Reply}
 */
function json(status, value) {
  return { status, body: JSON.stringify(value) };
}

/**
 * @param {import('node:http').IncomingMessage} req
 * @returns {Promise<Buffer>}
 */
function readBody(req) {
  return new Promise((resolve, reject) => {
    /** @type {Buffer[]} */
    const chunks = [];
    req.on('data', (/** @type {Buffer} */ chunk) => chunks.push(chunk));
    req.once('end', () => resolve(Buffer.concat(chunks)));
    req.once('error', reject);
    req.once('close', () => {
      if (!req.complete) reject(new Error('client aborted the request body'));
    });
  });
}

/**
 * @param {number} ms
 * @param {Set<NodeJS.Timeout>} timers
 * @returns {Promise<void>}
 */
function delay(ms, timers) {
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      timers.delete(timer);
      resolve();
    }, ms);
    timers.add(timer);
  });
}
