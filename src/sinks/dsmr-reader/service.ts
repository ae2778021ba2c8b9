import http from 'node:http';
import type { ServerConfig } from '../../config/config.ts';
import type { DeliveryResult, Sink } from '../sink.ts';
import { classifyResponse } from './delivery-result.ts';
import { postForm, telegramForm } from './request.ts';

export interface ApiClientOptions {
  /** Deadline for one request, answer included. */
  timeoutMs: number;
  /** Extra trusted CAs (PEM), for a self-signed DSMR-reader. */
  ca?: Buffer;
  insecure: boolean;
}

/** Posts telegrams to one DSMR-reader server over one kept-alive connection. */
export class DsmrReaderApi implements Sink {
  readonly kind = 'dsmr-reader' as const;
  readonly target: string;

  private constructor(
    private readonly server: ServerConfig,
    private readonly options: ApiClientOptions,
    private readonly transport: Pick<typeof http, 'request'>,
    private readonly agent: http.Agent,
  ) {
    this.target = server.host;
  }

  /** One socket per server: telegrams go one at a time, in meter order. */
  static async create(server: ServerConfig, options: ApiClientOptions): Promise<DsmrReaderApi> {
    if (new URL(server.url).protocol !== 'https:') return new DsmrReaderApi(server, options, http, new http.Agent({ keepAlive: true, maxSockets: 1 }));
    // TLS costs megabytes of memory; a datalogger that only talks http never loads it.
    const [{ default: https }, { trustedCertificates }] = await Promise.all([import('node:https'), import('../trust.ts')]);
    const agent = new https.Agent({ keepAlive: true, maxSockets: 1, ca: trustedCertificates(options.ca), rejectUnauthorized: !options.insecure });
    return new DsmrReaderApi(server, options, https, agent);
  }

  async post(telegram: Buffer): Promise<DeliveryResult> {
    const body = telegramForm(telegram);
    try {
      return await this.attempt(body);
    } catch (err) {
      // The server may close an idle kept-alive connection just as we reuse it; that says nothing about the server.
      if ((err as RequestError).reusedSocket && (err as NodeJS.ErrnoException).code === 'ECONNRESET') {
        try {
          return await this.attempt(body);
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

  private async attempt(body: Buffer): Promise<DeliveryResult> {
    const reply = await postForm(this.transport, this.server, body, this.options.timeoutMs, { agent: this.agent });
    const retryAfter = reply.headers['retry-after'];
    return classifyResponse(reply.status, reply.body, Array.isArray(retryAfter) ? retryAfter[0] : retryAfter, this.server.host);
  }
}

interface RequestError extends Error {
  reusedSocket?: boolean;
}

function unavailable(err: unknown): DeliveryResult {
  const e = err as NodeJS.ErrnoException;
  return { outcome: 'unavailable', reason: e.code ? `${e.code}${e.message && !e.message.includes(e.code) ? ` (${e.message})` : ''}` : e.message };
}
