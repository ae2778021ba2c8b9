// The one request DSMR-reader's datalogger API takes: POST {host}/api/v1/datalogger/dsmrreading, X-AUTHKEY, a form.
import type http from 'node:http';
import type { IncomingMessage } from 'node:http';
import type { ServerConfig } from '../../config/config.ts';
import { readResponseBody } from '../response-body.ts';
import { encodeFormField } from './encode.ts';

export interface Reply {
  status: number;
  body: string;
  headers: IncomingMessage['headers'];
}

type Transport = Pick<typeof http, 'request'>;

/** The form body for a telegram, percent-encoded from its bytes. An empty body asks only "would you take one?". */
export function telegramForm(telegram: Buffer | undefined): string {
  return telegram ? encodeFormField('telegram', telegram) : '';
}

/**
 * Sends the request and reads the answer. timeoutMs is a deadline for the whole exchange, not an idle timeout: a
 * server trickling a byte a second must not hold a telegram for minutes.
 */
export function postForm(transport: Transport, server: ServerConfig, body: string, timeoutMs: number, options: http.RequestOptions, maxBody?: number): Promise<Reply & { reusedSocket: boolean }> {
  return new Promise((resolve, reject) => {
    const req = transport.request(new URL(server.url), {
      ...options,
      method: 'POST',
      headers: { 'X-AUTHKEY': server.key, 'Content-Type': 'application/x-www-form-urlencoded', 'Content-Length': body.length },
    });
    const deadline = setTimeout(() => {
      req.destroy(Object.assign(new Error(`no complete answer within ${timeoutMs / 1000} s`), { code: 'ETIMEDOUT' }));
    }, timeoutMs);
    const fail = (err: Error) => {
      clearTimeout(deadline);
      reject(Object.assign(err, { reusedSocket: req.reusedSocket }));
    };
    req.on('error', fail);
    req.on('response', (res) => {
      res.on('error', fail);
      readResponseBody(res, maxBody).then((text) => {
        clearTimeout(deadline);
        resolve({ status: res.statusCode ?? 0, body: text, headers: res.headers, reusedSocket: req.reusedSocket });
      }, fail);
    });
    req.end(body);
  });
}
