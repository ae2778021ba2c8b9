// What each path answers. Pure: a request's method, path and Authorization header in, status, headers and body out.
import { isAuthorized, WWW_AUTHENTICATE } from './auth.ts';
import { statusDocument } from './document.ts';
import { METRICS_CONTENT_TYPE, renderMetrics } from './metrics.ts';
import { renderPage } from './page.ts';
import type { StatusService } from './service.ts';

export interface Answer {
  status: number;
  headers: Record<string, string | string[]>;
  body: string;
}

export interface Request {
  method: string;
  /** The path without the query. */
  path: string;
  authorization?: string;
}

const COMMON = {
  'cache-control': 'no-store',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
};
const TEXT = 'text/plain; charset=utf-8';

export function answer(req: Request, service: StatusService, token: string | undefined): Answer {
  if (req.method !== 'GET' && req.method !== 'HEAD') return reply(405, TEXT, 'only GET and HEAD\n', { allow: 'GET, HEAD' });
  if (!isAuthorized(req.path, req.authorization, token)) {
    return reply(401, TEXT, 'this endpoint needs "Authorization: Bearer TOKEN" (DSMR_DATALOGGER_HTTP_TOKEN)\n', { 'www-authenticate': WWW_AUTHENTICATE });
  }
  switch (req.path) {
    case '/health': {
      const { health } = service.view();
      const body = health.healthy ? 'ok\n' : `${health.problems.map((p) => p.message).join('\n')}\n`;
      return reply(health.healthy ? 200 : 503, TEXT, body);
    }
    case '/status': {
      const { status, reading, health } = service.view();
      return reply(200, 'application/json; charset=utf-8', `${JSON.stringify(statusDocument(status, reading, health), null, 2)}\n`);
    }
    case '/metrics': {
      const { status, reading, health } = service.view();
      return reply(200, METRICS_CONTENT_TYPE, renderMetrics(status, reading, health));
    }
    case '/': {
      const { status, reading, health } = service.view();
      const page = renderPage({ doc: statusDocument(status, reading, health), health, history: service.history, now: status.now });
      // Inline styles and SVG only: nothing may load from elsewhere.
      return reply(200, 'text/html; charset=utf-8', page, { 'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'; img-src data:" });
    }
    default:
      return reply(404, TEXT, 'not found: try /, /status, /metrics or /health\n');
  }
}

function reply(status: number, type: string, body: string, extra: Record<string, string | string[]> = {}): Answer {
  return { status, headers: { ...COMMON, 'content-type': type, ...extra }, body };
}
