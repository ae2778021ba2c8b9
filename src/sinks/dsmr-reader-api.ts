import http from 'node:http';
import type { ServerConfig } from '../config/config.ts';
import type { DeliveryResult } from './classify.ts';
import { classifyResponse } from './classify.ts';
import { encodeFormField } from './form-encode.ts';
import { readResponseBody } from './response-body.ts';

export interface ApiClientOptions {
  timeoutMs: number;
  /** Extra trusted CAs (PEM), for a self-signed DSMR-reader. */
  ca?: Buffer;
  insecure: boolean;
}

/** Posts telegrams to one DSMR-reader server over one kept-alive connection. */
export class DsmrReaderApi {
  private readonly url: URL;

  private constructor(
    private readonly server: ServerConfig,
    private readonly options: ApiClientOptions,
    private readonly transport: Pick<typeof http, 'request'>,
    private readonly agent: http.Agent,
  ) {
    this.url = new URL(server.url);
  }

  /** One socket per server: telegrams go one at a time, in meter order. */
  static async create(server: ServerConfig, options: ApiClientOptions): Promise<DsmrReaderApi> {
    if (new URL(server.url).protocol !== 'https:') return new DsmrReaderApi(server, options, http, new http.Agent({ keepAlive: true, maxSockets: 1 }));
    // TLS costs megabytes of memory; a datalogger that only talks http never loads it.
    const [{ default: https }, { trustedCertificates }] = await Promise.all([import('node:https'), import('./trust.ts')]);
    const agent = new https.Agent({ keepAlive: true, maxSockets: 1, ca: trustedCertificates(options.ca), rejectUnauthorized: !options.insecure });
    return new DsmrReaderApi(server, options, https, agent);
  }

  async post(telegram: Buffer): Promise<DeliveryResult> {
    try {
      return await this.attempt(telegram);
    } catch (err) {
      // The server may close an idle kept-alive connection just as we reuse it; that says nothing about the server.
      if ((err as RequestError).reusedSocket && (err as NodeJS.ErrnoException).code === 'ECONNRESET') {
        try {
          return await this.attempt(telegram);
        } catch (again) {
          return unavailable(again);
        }
      }
      return unavailable(err);
    }
  }

  close(): void {
    this.agent.destroy();
  }

  private attempt(telegram: Buffer): Promise<DeliveryResult> {
    const body = encodeFormField('telegram', telegram);
    return new Promise((resolve, reject) => {
      const req = this.transport.request(this.url, {
        method: 'POST',
        agent: this.agent,
        headers: {
          'X-AUTHKEY': this.server.key,
          'Content-Type': 'application/x-www-form-urlencoded',
          'Content-Length': body.length,
        },
      });
      req.setTimeout(this.options.timeoutMs, () => {
        req.destroy(Object.assign(new Error(`no answer within ${this.options.timeoutMs / 1000} s`), { code: 'ETIMEDOUT' }));
      });
      req.on('error', (err) => reject(Object.assign(err, { reusedSocket: req.reusedSocket })));
      req.on('response', (res) => {
        const retryAfter = res.headers['retry-after'];
        readResponseBody(res).then(
          (text) => resolve(classifyResponse(res.statusCode ?? 0, text, Array.isArray(retryAfter) ? retryAfter[0] : retryAfter, this.server.host)),
          reject,
        );
      });
      req.end(body);
    });
  }
}

interface RequestError extends Error {
  reusedSocket?: boolean;
}

function unavailable(err: unknown): DeliveryResult {
  const e = err as NodeJS.ErrnoException;
  return { outcome: 'unavailable', reason: e.code ? `${e.code}${e.message && !e.message.includes(e.code) ? ` (${e.message})` : ''}` : e.message };
}
