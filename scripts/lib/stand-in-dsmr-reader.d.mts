// Types for stand-in-dsmr-reader.mjs, so the TypeScript tests type-check under strict.

export const DATALOGGER_PATH: '/api/v1/datalogger/dsmrreading';

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
  /** Date.now() when the request body had fully arrived. */
  at: number;
  /** performance.now() at the same moment, for latencies below a millisecond. */
  arrivedAt: number;
}

/** Decides the reply for a POST to the datalogger path; return undefined to fall back to the default behaviour. */
export type Responder = (
  req: ResponderRequest,
) => Reply | undefined | Promise<Reply | undefined>;

export interface RecordedRequest {
  method: string;
  path: string;
  key: string | undefined;
  telegram: Buffer;
  status: number;
  /** Date.now() when the request body had fully arrived. */
  at: number;
  /** performance.now() at the same moment. */
  arrivedAt: number;
  /** True when the client went away before the (delayed) reply could be sent. */
  clientGone: boolean;
}

export interface QuietOptions {
  /** Fail when it has not been quiet long enough within this long (default: 10 s or 10 quiet periods). */
  timeoutMs?: number;
  /** Names the server in the failure message. */
  what?: string;
}

export interface ApiServerOptions {
  /** The X-AUTHKEY the default reply accepts; without it, any key (or none) is accepted. */
  key?: string;
  respond?: Responder;
  /** Listen on this port instead of a free one, e.g. to bring a stopped server back at the same address. */
  port?: number;
  /** Called for every request once its reply is decided, e.g. to print it. */
  onRequest?: (request: RecordedRequest) => void;
}

export interface ApiServer {
  url: string;
  /** Every telegram answered with 2xx, raw bytes, in the order the replies were sent. */
  telegrams: Buffer[];
  /** Every request, in the order the replies were decided. */
  requests: RecordedRequest[];
  /** TCP connections accepted so far; with keep-alive, far fewer than requests. */
  readonly connections: number;
  /** TCP connections open now. */
  readonly openConnections: number;
  /** Date.now() when the latest request began or finished arriving (the start time before any). */
  readonly lastArrivalAt: number;
  setResponder(responder: Responder | undefined): void;
  /** Resolves with the first truthy check(), tried now and after every recorded request; fails after timeoutMs. */
  until<T>(check: () => T, opts?: { timeoutMs?: number; what?: string }): Promise<NonNullable<T>>;
  /** Resolves once no request has arrived for `ms`; fails when that has not happened within opts.timeoutMs. */
  quietFor(ms: number, opts?: QuietOptions): Promise<void>;
  close(): Promise<void>;
}

export function startApiServer(opts?: ApiServerOptions): Promise<ApiServer>;

/** Resolves once `lastArrivalAt()` (a Date.now()) is `quietMs` behind; fails when not so within opts.timeoutMs. */
export function waitForQuiet(lastArrivalAt: () => number, quietMs: number, opts?: QuietOptions): Promise<void>;

export { decodeForm, decodeMultipart, formFields, percentDecode } from './form.mjs';
