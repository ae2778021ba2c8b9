// Who may read what. Without a token, everything (the endpoint is then on loopback only, see config.ts). With one,
// /health stays open for supervisors and load balancers, and the rest needs the token.

/** The paths served without a token: they tell nothing about the household. */
const OPEN_PATHS = new Set(['/health']);

/**
 * `Authorization: Bearer TOKEN`, or Basic with the token as the password (any user name): a phone's browser can only
 * send the latter, and it asks for it when told so (see WWW_AUTHENTICATE).
 */
export function isAuthorized(path: string, authorization: string | undefined, token: string | undefined): boolean {
  if (token === undefined || OPEN_PATHS.has(path)) return true;
  const presented = presentedToken(authorization);
  return presented !== undefined && sameSecret(presented, token);
}

export const WWW_AUTHENTICATE = ['Bearer realm="dsmr-datalogger"', 'Basic realm="dsmr-datalogger", charset="UTF-8"'];

function presentedToken(authorization: string | undefined): string | undefined {
  const m = /^(\S+)\s+(\S+)\s*$/.exec(authorization ?? '');
  if (!m) return undefined;
  const scheme = m[1].toLowerCase();
  if (scheme === 'bearer') return m[2];
  if (scheme !== 'basic') return undefined;
  const decoded = Buffer.from(m[2], 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  return colon < 0 ? undefined : decoded.slice(colon + 1);
}

/** Compares in time that depends on the lengths only, not on how many leading characters match. */
export function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  let diff = x.length ^ y.length;
  for (let i = 0; i < Math.max(x.length, y.length); i++) diff |= (x[i % x.length] ?? 0) ^ (y[i % y.length] ?? 0);
  return diff === 0 && x.length > 0;
}
