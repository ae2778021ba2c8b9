// A stand-in DSMR-reader on 127.0.0.1: POST /api/v1/datalogger/dsmrreading with the form field `telegram` and the
// header X-AUTHKEY, answered 201 like DSMR-reader does. Keep-alive is on (Node's default), so a datalogger that reuses
// its connection can. It notes when each request body has fully arrived and checks every telegram, in order,
// against what the bench fed: a datalogger that loses, reorders or garbles telegrams does not get a figure.
import { createServer } from 'node:http';
import { performance } from 'node:perf_hooks';
import { formField, withoutLineEnd } from './stats.mjs';

export const DATALOGGER_PATH = '/api/v1/datalogger/dsmrreading';

export async function startApiServer({ key }) {
  let mode = 'up';
  let expected = [];
  let received = 0;
  /** performance.now() when the body of the n-th accepted telegram had fully arrived. */
  let arrivals = [];
  let mismatches = 0;
  let firstMismatch = '';
  let refused = 0;
  let connections = 0;
  const sockets = new Set();
  const waiters = new Set();

  const notify = () => {
    for (const waiter of [...waiters]) waiter();
  };

  const accept = (body, authKey) => {
    const at = performance.now();
    if (authKey !== key) return { status: 403, body: '{"detail":"Invalid token."}' };
    const telegram = formField(body, 'telegram');
    if (telegram === undefined) return { status: 400, body: '{"telegram":["This field is required."]}' };
    const want = expected[received];
    if (!want || !withoutLineEnd(telegram).equals(withoutLineEnd(want))) {
      mismatches++;
      firstMismatch ||= `request ${received}: ${want ? 'not the telegram fed at this position' : 'more telegrams than were fed'} (got ${JSON.stringify(telegram.subarray(0, 60).toString('latin1'))}...)`;
    }
    arrivals.push(at);
    received++;
    notify();
    return { status: 201, body: '{}' };
  };

  const server = createServer((req, res) => {
    const chunks = [];
    req.on('data', (chunk) => chunks.push(chunk));
    req.on('end', () => {
      const path = (req.url ?? '').split('?')[0];
      let reply;
      if (req.method !== 'POST' || path !== DATALOGGER_PATH) reply = { status: 404, body: '{"detail":"Not found."}' };
      else if (mode === 'down') {
        refused++;
        reply = { status: 503, body: '{"detail":"down for the benchmark"}' };
      } else reply = accept(Buffer.concat(chunks), req.headers['x-authkey']);
      res.writeHead(reply.status, { 'content-type': 'application/json' });
      res.end(reply.body);
    });
  });
  server.on('connection', (socket) => {
    connections++;
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });

  return {
    url: `http://127.0.0.1:${server.address().port}`,
    get received() {
      return received;
    },
    get arrivals() {
      return arrivals;
    },
    get mismatches() {
      return mismatches;
    },
    get firstMismatch() {
      return firstMismatch;
    },
    get refused() {
      return refused;
    },
    get connections() {
      return connections;
    },
    /** 'down' answers 503, which every datalogger must treat as "keep the telegram and retry". */
    setMode(next) {
      mode = next;
    },
    /** Starts a new count: the telegrams about to be fed, in the order the server must get them. */
    expect(telegrams) {
      expected = telegrams;
      received = 0;
      arrivals = [];
      mismatches = 0;
      firstMismatch = '';
      connections = sockets.size;
    },
    /** Resolves once `count` telegrams have arrived since expect(); rejects after timeoutMs. */
    waitForCount(count, timeoutMs) {
      return new Promise((resolve, reject) => {
        const check = () => {
          if (received < count) return;
          done();
          resolve(received);
        };
        const timer = setTimeout(() => {
          done();
          reject(new Error(`only ${received} of ${count} telegrams arrived within ${timeoutMs} ms`));
        }, timeoutMs);
        const done = () => {
          clearTimeout(timer);
          waiters.delete(check);
        };
        waiters.add(check);
        check();
      });
    },
    async close() {
      const closed = new Promise((resolve) => server.close(resolve));
      for (const socket of sockets) socket.destroy();
      await closed;
    },
  };
}
