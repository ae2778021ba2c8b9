import { ConfigError } from './config-error.ts';

export interface EnvFileEntry {
  value: string;
  line: number;
}

// KEY=VALUE lines as in DSMR-reader's .env: comments, blank lines, an optional `export`, and optional quotes.
export function parseEnvFile(text: string, path: string): Map<string, EnvFileEntry> {
  const entries = new Map<string, EnvFileEntry>();
  const lines = text.split(/\r?\n/);
  lines.forEach((raw, index) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const match = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$/.exec(line);
    if (!match) {
      throw new ConfigError(`${path}:${index + 1}: expected KEY=VALUE, found "${line}"`);
    }
    entries.set(match[1], { value: unquote(match[2], `${path}:${index + 1}`), line: index + 1 });
  });
  return entries;
}

function unquote(value: string, where: string): string {
  const quote = value[0];
  if (quote === '"' || quote === "'") {
    const end = value.lastIndexOf(quote);
    if (end === 0) throw new ConfigError(`${where}: the value has an opening ${quote} but no closing one`);
    return value.slice(1, end);
  }
  // An unquoted value may carry a trailing comment.
  return value.replace(/\s+#.*$/, '');
}
