// The bench's DSMR-reader: the shared stand-in (scripts/lib/stand-in-dsmr-reader.mjs) plus what the bench needs of
// it. It checks every telegram, in order, against what the bench fed: a datalogger that loses, reorders or garbles
// telegrams does not get a figure. It notes when each body had fully arrived, and counts connections per phase.
import { startApiServer } from '../lib/stand-in-dsmr-reader.mjs';
import { withoutLineEnd } from './stats.mjs';

/** @param {{ key: string }} opts */
export async function startCheckedServer({ key }) {
  let mode = 'up';
  /** @type {Buffer[]} */
  let expected = [];
  let received = 0;
  /** @type {number[]} performance.now() when the body of the n-th accepted telegram had fully arrived. */
  let arrivals = [];
  let mismatches = 0;
  let firstMismatch = '';
  let refused = 0;
  let connectionsBefore = 0;

  const server = await startApiServer({
    key,
    respond: ({ key: authKey, telegram, arrivedAt }) => {
      if (mode === 'down') {
        refused++;
        return { status: 503, body: '{"detail":"down for the benchmark"}' };
      }
      // A wrong key: the stand-in's own 403. A missing field counts as a mismatch, like a wrong telegram.
      if (authKey !== key) return undefined;
      const want = expected[received];
      if (!want || !withoutLineEnd(telegram).equals(withoutLineEnd(want))) {
        mismatches++;
        firstMismatch ||= `request ${received}: ${want ? 'not the telegram fed at this position' : 'more telegrams than were fed'} (got ${JSON.stringify(telegram.subarray(0, 60).toString('latin1'))}...)`;
      }
      arrivals.push(arrivedAt);
      received++;
      return { status: 201, body: '{}' };
    },
  });

  return {
    url: server.url,
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
    /** Connections used since expect(): those still open then, and every one opened since. */
    get connections() {
      return server.connections - connectionsBefore;
    },
    /** 'down' answers 503, which every datalogger must treat as "keep the telegram and retry". */
    setMode(/** @type {'up' | 'down'} */ next) {
      mode = next;
    },
    /** Starts a new count: the telegrams about to be fed, in the order the server must get them. */
    expect(/** @type {Buffer[]} */ telegrams) {
      expected = telegrams;
      received = 0;
      arrivals = [];
      mismatches = 0;
      firstMismatch = '';
      connectionsBefore = server.connections - server.openConnections;
    },
    /** Resolves once `count` telegrams have arrived since expect(); rejects after timeoutMs. */
    async waitForCount(/** @type {number} */ count, /** @type {number} */ timeoutMs) {
      await server
        .until(() => received >= count, { timeoutMs, what: `${count} telegrams` })
        .catch(() => {
          throw new Error(`only ${received} of ${count} telegrams arrived within ${timeoutMs} ms`);
        });
      return received;
    },
    close: () => server.close(),
  };
}
