// Where the status endpoint listens, and which addresses only this machine can reach.

export interface ListenAddress {
  /** As given to listen(): an IP address or a host name, IPv6 without brackets. */
  host: string;
  port: number;
}

/** Loopback by default; a port no Home Assistant, DSMR-reader, Node-RED, Grafana, Prometheus or exporter uses. */
export const DEFAULT_LISTEN: ListenAddress = { host: '127.0.0.1', port: 7523 };

export const LISTEN_EXPECTED = 'host:port such as 127.0.0.1:7523, [::1]:7523 or 0.0.0.0:7523, or off';

/** "host:port", "[v6]:port" or "off"; a string naming what is wrong otherwise. */
export function parseListen(text: string): ListenAddress | 'off' | { error: string } {
  const value = text.trim();
  if (value.toLowerCase() === 'off') return 'off';
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([A-Za-z0-9.-]+)):(\d{1,5})$/.exec(value);
  if (!m) return { error: LISTEN_EXPECTED };
  const port = Number(m[3]);
  // 0 takes any free port, said in the log: for tests and for running several side by side.
  if (port > 65535) return { error: 'a TCP port from 0 to 65535 after the host' };
  return { host: m[1] ?? m[2], port };
}

/** Only this machine can connect: 127.0.0.0/8, ::1 or localhost. Host names other than localhost may be anything. */
export function isLoopback(host: string): boolean {
  const h = host.toLowerCase();
  return h === 'localhost' || h === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h) || /^::ffff:127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);
}

/** The address a client on this machine uses to reach a server listening on `listen`. */
export function localUrl(listen: ListenAddress): string {
  const host = listen.host === '0.0.0.0' ? '127.0.0.1' : listen.host === '::' ? '::1' : listen.host;
  return `http://${formatListen({ host, port: listen.port })}`;
}

export function formatListen(listen: ListenAddress): string {
  return `${listen.host.includes(':') ? `[${listen.host}]` : listen.host}:${listen.port}`;
}
