// One kept-alive HTTP/1.1 connection to a DSMR-reader server, for the one request a telegram needs: a fixed head and
// a form body written at once, and the answer's status, Retry-After and the start of its body read back. Node's HTTP
// client (request object, agent, header checks, response stream) cost about as much CPU per telegram as all the rest
// of the datalogger together, without the optimizing JIT that the single executables run without.
import net from 'node:net';
import type tls from 'node:tls';

export interface Answer {
  status: number;
  body: string;
  retryAfter: string | undefined;
}

export interface PostError extends NodeJS.ErrnoException {
  /** The request went out on a connection an earlier request had used: a reset then says nothing about the server. */
  reusedSocket?: boolean;
}

/** `tls`: connect with TLS (an https: URL): node:tls's connect (loaded by the caller only then) and its options. */
export interface KeepAliveOptions {
  tls?: { connect: typeof tls.connect } & Pick<tls.ConnectionOptions, 'ca' | 'rejectUnauthorized'>;
}

const HEAD_END = Buffer.from('\r\n\r\n');
const CRLF = Buffer.from('\r\n');

export class KeepAliveConnection {
  private socket: net.Socket | undefined;
  private used = false;
  /**
   * One deadline timer for every request, re-armed with refresh(): a timer set and cleared per request had Node
   * create and delete its timer list each time, a few percent of the CPU a telegram. Unreferenced: while a request
   * is out its socket keeps the process alive; afterwards nothing should.
   */
  private deadline: { timer: NodeJS.Timeout; ms: number } | undefined;
  /** The request in flight, to which the connection's listeners and the deadline report; undefined between requests. */
  private inFlight: InFlight | undefined;
  private readonly head: string;
  private readonly port: number;
  private readonly hostname: string;
  private readonly badKey: boolean;

  constructor(
    url: URL,
    key: string,
    private readonly options: KeepAliveOptions = {},
  ) {
    // Node's client refuses these too: a line break in a header would be a second header, or a second request.
    this.badKey = /[\r\n\0]/.test(key);
    this.hostname = url.hostname.replace(/^\[(.*)\]$/, '$1');
    this.port = Number(url.port) || (options.tls ? 443 : 80);
    this.head = `POST ${url.pathname}${url.search} HTTP/1.1\r\nHost: ${url.host}\r\nX-AUTHKEY: ${key}\r\nContent-Type: application/x-www-form-urlencoded\r\nConnection: keep-alive\r\nContent-Length: `;
  }

  /** Posts the body, ASCII (a urlencoded form: its length is its byte count); `timeoutMs` bounds the whole exchange. */
  post(body: string, timeoutMs: number, maxBody = 4096): Promise<Answer> {
    if (this.badKey) return Promise.reject(Object.assign(new Error('the API key holds a line break or NUL, which no HTTP header can carry'), { code: 'ERR_INVALID_CHAR' }));
    return new Promise((resolve, reject) => {
      // A connection the server has half closed (its FIN came in between requests) cannot carry another.
      if (this.socket && (this.socket.destroyed || !this.socket.writable)) this.drop(this.socket);
      const reused = this.socket !== undefined && this.used;
      const socket = this.socket ?? this.connect();
      this.socket = socket;
      const reader = new AnswerReader(maxBody);
      let settled = false;
      const finish = (err: PostError | undefined, answer?: Answer) => {
        if (settled) return;
        settled = true;
        this.inFlight = undefined;
        if (err) {
          this.drop(socket);
          reject(Object.assign(err, { reusedSocket: reused }));
          return;
        }
        if (!reader.reusable) this.drop(socket);
        resolve(answer!);
      };
      this.inFlight = { socket, reader, timeoutMs, finish };
      this.armDeadline(timeoutMs);
      this.used = true;
      socket.write(`${this.head}${body.length}\r\n\r\n${body}`, 'latin1');
    });
  }

  private armDeadline(ms: number): void {
    if (this.deadline?.ms === ms) {
      this.deadline.timer.refresh();
      return;
    }
    if (this.deadline) clearTimeout(this.deadline.timer);
    this.deadline = { timer: setTimeout(() => this.expired(), ms).unref(), ms };
  }

  private expired(): void {
    const request = this.inFlight;
    request?.finish(Object.assign(new Error(`no complete answer within ${request.timeoutMs / 1000} s`), { code: 'ETIMEDOUT' }));
  }

  close(): void {
    if (this.deadline) clearTimeout(this.deadline.timer);
    this.deadline = undefined;
    if (this.socket) this.drop(this.socket);
  }

  private connect(): net.Socket {
    this.used = false;
    const socket = this.options.tls ? this.connectTls(this.options.tls) : net.connect({ host: this.hostname, port: this.port });
    // As Node's client: no Nagle delay on a request written at once, and TCP keep-alive on the idle connection.
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 1000);
    // Listeners for the connection's whole life, handing on to the request in flight. Added per request, they left
    // the bytes a server sent between requests to nobody, and a stray answer could be taken for the next one's own.
    // Between requests the server may close the connection: the next request then opens a new one.
    socket.on('data', (chunk: Buffer) => this.received(socket, chunk));
    socket.on('error', (err: Error) => this.broken(socket, err));
    socket.on('close', () => this.ended(socket));
    socket.on('end', () => {
      if (this.socket === socket) this.socket = undefined;
    });
    return socket;
  }

  private received(socket: net.Socket, chunk: Buffer): void {
    const request = this.inFlight;
    // Bytes nobody asked for: the connection no longer says which answer is which.
    if (request?.socket !== socket) return this.drop(socket);
    let answer: Answer | undefined;
    try {
      answer = request.reader.push(chunk);
    } catch (err) {
      return request.finish(err as PostError);
    }
    if (answer) request.finish(undefined, answer);
  }

  private broken(socket: net.Socket, err: Error): void {
    if (this.socket === socket) this.socket = undefined;
    if (this.inFlight?.socket === socket) this.inFlight.finish(err);
  }

  private ended(socket: net.Socket): void {
    if (this.socket === socket) this.socket = undefined;
    const request = this.inFlight;
    if (request?.socket !== socket) return;
    const answer = request.reader.closed();
    if (answer) request.finish(undefined, answer);
    else request.finish(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }));
  }

  private connectTls(options: NonNullable<KeepAliveOptions['tls']>): net.Socket {
    const { connect, ...trust } = options;
    const servername = net.isIP(this.hostname) ? undefined : this.hostname;
    return connect({ host: this.hostname, port: this.port, servername, ...trust });
  }

  private drop(socket: net.Socket): void {
    if (this.socket === socket) this.socket = undefined;
    socket.destroy();
  }
}

interface InFlight {
  socket: net.Socket;
  reader: AnswerReader;
  timeoutMs: number;
  finish(err: PostError | undefined, answer?: Answer): void;
}

const enum Phase {
  Head,
  Fixed,
  ChunkSize,
  ChunkData,
  ChunkEnd,
  Trailers,
  UntilClose,
}

/** Reads one HTTP/1.x answer from the bytes of a connection. */
class AnswerReader {
  private pending: Buffer = Buffer.alloc(0);
  private phase = Phase.Head;
  private status = 0;
  private retryAfter: string | undefined;
  private keepAlive = false;
  private remaining = 0;
  private readonly kept: Buffer[] = [];
  private keptBytes = 0;
  private done = false;

  constructor(private readonly maxBody: number) {}

  /** Whether the connection can carry the next request. */
  get reusable(): boolean {
    return this.done && this.keepAlive && this.pending.length === 0;
  }

  /** The answer once it is complete. */
  push(chunk: Buffer): Answer | undefined {
    this.pending = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    for (;;) {
      const progressed = this.step();
      if (this.done) return this.answer();
      if (!progressed) return undefined;
    }
  }

  /** The connection closed: an answer that runs until the close is complete; anything else is cut off. */
  closed(): Answer | undefined {
    if (this.phase !== Phase.UntilClose) return undefined;
    this.done = true;
    return this.answer();
  }

  private answer(): Answer {
    return { status: this.status, body: Buffer.concat(this.kept).toString('utf8'), retryAfter: this.retryAfter };
  }

  private step(): boolean {
    switch (this.phase) {
      case Phase.Head:
        return this.readHead();
      case Phase.Fixed:
      case Phase.ChunkData:
      case Phase.UntilClose: {
        if (this.pending.length === 0) return false;
        const n = this.phase === Phase.UntilClose ? this.pending.length : Math.min(this.remaining, this.pending.length);
        this.keep(this.pending.subarray(0, n));
        this.pending = this.pending.subarray(n);
        this.remaining -= n;
        if (this.phase === Phase.UntilClose || this.remaining > 0) return n > 0;
        if (this.phase === Phase.Fixed) this.done = true;
        else this.phase = Phase.ChunkEnd;
        return true;
      }
      case Phase.ChunkSize: {
        const line = this.line();
        if (line === undefined) return false;
        const size = parseInt(line.split(';')[0].trim(), 16);
        if (!Number.isFinite(size) || size < 0) throw protocolError(`bad chunk size "${line.slice(0, 40)}"`);
        this.remaining = size;
        this.phase = size === 0 ? Phase.Trailers : Phase.ChunkData;
        return true;
      }
      case Phase.ChunkEnd: {
        const line = this.line();
        if (line === undefined) return false;
        this.phase = Phase.ChunkSize;
        return true;
      }
      case Phase.Trailers: {
        const line = this.line();
        if (line === undefined) return false;
        if (line === '') this.done = true;
        return true;
      }
    }
  }

  private line(): string | undefined {
    const end = this.pending.indexOf(CRLF);
    if (end < 0) {
      if (this.pending.length > 8192) throw protocolError('a line longer than 8 KiB');
      return undefined;
    }
    const text = this.pending.toString('latin1', 0, end);
    this.pending = this.pending.subarray(end + 2);
    return text;
  }

  private readHead(): boolean {
    const end = this.pending.indexOf(HEAD_END);
    if (end < 0) {
      if (this.pending.length > 65536) throw protocolError('answer headers longer than 64 KiB');
      return false;
    }
    // Up to and with the CRLF that ends the last header line, so that every header line ends in one.
    const head = this.pending.toString('latin1', 0, end + 2);
    this.pending = this.pending.subarray(end + 4);
    const statusLine = /^HTTP\/1\.([01]) (\d{3})(?: |\r)/.exec(head);
    if (!statusLine) throw protocolError(`not an HTTP answer ("${head.slice(0, Math.min(40, head.indexOf('\r\n')))}")`);
    const status = Number(statusLine[2]);
    // An interim answer (100 Continue, 103 Early Hints): the real one follows.
    if (status >= 100 && status < 200) return true;
    // The four headers that matter, found by native searches in the lower-cased head (header names ignore case).
    const lower = head.toLowerCase();
    const header = (name: string): string | undefined => {
      const at = lower.indexOf(`\r\n${name}:`);
      if (at < 0) return undefined;
      const from = at + name.length + 3;
      return head.slice(from, head.indexOf('\r\n', from)).trim();
    };
    const lengthText = header('content-length');
    const length = lengthText === undefined ? undefined : Number(lengthText);
    const chunked = /(^|,)\s*chunked\s*$/i.test(header('transfer-encoding') ?? '');
    const connection = (header('connection') ?? '').toLowerCase();
    this.retryAfter = header('retry-after');
    this.status = status;
    const http11 = statusLine[1] === '1';
    this.keepAlive = http11 ? !/\bclose\b/.test(connection) : /\bkeep-alive\b/.test(connection);
    if (status === 204 || status === 304) this.done = true;
    else if (chunked) this.phase = Phase.ChunkSize;
    else if (length !== undefined) {
      if (!Number.isSafeInteger(length) || length < 0) throw protocolError('bad Content-Length');
      this.remaining = length;
      this.phase = Phase.Fixed;
      if (length === 0) this.done = true;
    } else {
      this.phase = Phase.UntilClose;
      this.keepAlive = false;
    }
    return true;
  }

  private keep(bytes: Buffer): void {
    if (this.keptBytes < this.maxBody) this.kept.push(bytes);
    this.keptBytes += bytes.length;
  }
}

function protocolError(what: string): PostError {
  return Object.assign(new Error(`the server's answer is not valid HTTP: ${what}`), { code: 'EPROTO' });
}
