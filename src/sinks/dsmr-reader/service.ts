import type { ServerConfig } from '../../config/config.ts';
import type { DeliveryResult, Sink } from '../sink.ts';
import { classifyResponse } from './delivery-result.ts';
import { KeepAliveConnection, type PostError } from './keep-alive.ts';
import { telegramForm } from './request.ts';

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
    private readonly connection: KeepAliveConnection,
  ) {
    this.target = server.host;
  }

  /** One socket per server: telegrams go one at a time, in meter order. */
  static async create(server: ServerConfig, options: ApiClientOptions): Promise<DsmrReaderApi> {
    const url = new URL(server.url);
    if (url.protocol !== 'https:') return new DsmrReaderApi(server, options, new KeepAliveConnection(url, server.key));
    // TLS costs megabytes of memory; a datalogger that only talks http never loads it.
    const [{ connect }, { trustedCertificates }] = await Promise.all([import('node:tls'), import('../trust.ts')]);
    const tls = { connect, ca: trustedCertificates(options.ca), rejectUnauthorized: !options.insecure };
    return new DsmrReaderApi(server, options, new KeepAliveConnection(url, server.key, { tls }));
  }

  async post(telegram: Buffer): Promise<DeliveryResult> {
    const body = telegramForm(telegram);
    try {
      return await this.attempt(body);
    } catch (err) {
      // The server may close an idle kept-alive connection just as we reuse it; that says nothing about the server.
      if ((err as PostError).reusedSocket && (err as PostError).code === 'ECONNRESET') {
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
    this.connection.close();
  }

  private async attempt(body: string): Promise<DeliveryResult> {
    const answer = await this.connection.post(body, this.options.timeoutMs);
    return classifyResponse(answer.status, answer.body, answer.retryAfter, this.server.host);
  }
}

function unavailable(err: unknown): DeliveryResult {
  const e = err as NodeJS.ErrnoException;
  return { outcome: 'unavailable', reason: e.code ? `${e.code}${e.message && !e.message.includes(e.code) ? ` (${e.message})` : ''}` : e.message };
}
