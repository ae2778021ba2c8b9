// Debian's Prometheus tools, for real: promtool's checker on the real /metrics text, and a real Prometheus server on
// 127.0.0.1 scraping one target, with its own data directory, queried through its HTTP API.
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { waitFor } from './wait.ts';

/** promtool check metrics: resolves with its complaints (empty when none); rejects only when it cannot run. */
export function promtoolCheckMetrics(text: string): Promise<{ code: number; output: string }> {
  return new Promise((resolve, reject) => {
    const child = execFile('promtool', ['check', 'metrics'], (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
      if (code === -1) return reject(error);
      resolve({ code, output: `${stdout}${stderr}` });
    });
    child.stdin!.end(text);
  });
}

export interface Prometheus {
  url: string;
  /** The instant vector of a PromQL expression: each series' labels and value. */
  query(expr: string): Promise<{ metric: Record<string, string>; value: number }[]>;
  log(): string;
  close(): Promise<void>;
}

const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** `target`: host:port of the /metrics to scrape, every `intervalS` seconds. */
export async function startPrometheus(dir: string, target: string, opts: { intervalS?: number; bearerToken?: string } = {}): Promise<Prometheus> {
  const interval = `${opts.intervalS ?? 1}s`;
  const configPath = join(dir, 'prometheus.yml');
  const auth = opts.bearerToken ? `\n    authorization:\n      credentials: ${JSON.stringify(opts.bearerToken)}` : '';
  writeFileSync(configPath, `global:\n  scrape_interval: ${interval}\n  scrape_timeout: ${interval}\nscrape_configs:\n  - job_name: dsmr-datalogger\n    static_configs:\n      - targets: [${JSON.stringify(target)}]${auth}\n`);
  const storage = join(dir, 'prometheus-data');
  mkdirSync(storage, { recursive: true });
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  let output = '';
  const proc = spawn('prometheus', [`--config.file=${configPath}`, `--storage.tsdb.path=${storage}`, `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn'], { stdio: ['ignore', 'pipe', 'pipe'] });
  running.add(proc);
  proc.once('exit', () => running.delete(proc));
  for (const stream of [proc.stdout!, proc.stderr!]) stream.on('data', (chunk: Buffer) => (output += chunk.toString()));
  await waitFor(async () => (await fetch(`${url}/-/ready`)).ok, { timeoutMs: 30_000, what: `Prometheus to be ready on ${url}; its log: ${output}` });

  return {
    url,
    query: async (expr) => {
      const response = await fetch(`${url}/api/v1/query?query=${encodeURIComponent(expr)}`);
      const body = (await response.json()) as { status: string; data: { result: { metric: Record<string, string>; value: [number, string] }[] } };
      if (body.status !== 'success') throw new Error(`query ${expr}: ${JSON.stringify(body)}`);
      return body.data.result.map((r) => ({ metric: r.metric, value: Number(r.value[1]) }));
    },
    log: () => output,
    close: async () => {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      const exited = new Promise((resolve) => proc.once('exit', resolve));
      proc.kill('SIGTERM');
      const timer = setTimeout(() => proc.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}
