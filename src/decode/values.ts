import type { ValueKind } from './obis.ts';
import { isTimestampText, parseTimestamp } from './timestamp.ts';

export type DecodedValue =
  | { type: 'number'; raw: string; value: number; unit: string | null }
  | { type: 'timestamp'; raw: string; iso: string | null; dst: boolean | null }
  | { type: 'obis'; raw: string }
  /** text: the hex-decoded form for values the meter hex-encodes, when it decodes to readable text; else null. */
  | { type: 'text'; raw: string; text: string | null };

const NUMBER = /^([-+]?\d+(?:\.\d+)?)(?:\*([^()*]+))?$/;
const OBIS_REFERENCE = /^\d{1,3}-\d{1,3}:\d{1,3}\.\d{1,3}\.\d{1,3}$/;

export function decodeValue(raw: string, kind: ValueKind): DecodedValue {
  if (kind === 'text') return { type: 'text', raw, text: null };
  if (kind === 'hex') return { type: 'text', raw, text: hexToText(raw) };
  if (isTimestampText(raw)) {
    const ts = parseTimestamp(raw);
    if (ts) return { type: 'timestamp', ...ts };
  }
  if (OBIS_REFERENCE.test(raw)) return { type: 'obis', raw };
  const n = NUMBER.exec(raw);
  if (n) return { type: 'number', raw, value: Number(n[1]), unit: n[2] ?? null };
  return { type: 'text', raw, text: null };
}

/**
 * Identifiers and messages are sent as hex of their characters ("4B3845..." = "K8E..."). Returns the text only when
 * the hex decodes to readable characters; anonymised or binary identifiers stay as sent.
 */
export function hexToText(raw: string): string | null {
  if (raw.length % 2 !== 0 || !/^[0-9A-Fa-f]*$/.test(raw)) return null;
  let text = '';
  for (let i = 0; i < raw.length; i += 2) {
    const code = parseInt(raw.slice(i, i + 2), 16);
    const readable = code === 0x09 || code === 0x0a || code === 0x0d || (code >= 0x20 && code <= 0x7e) || code >= 0xa0;
    if (!readable) return null;
    text += String.fromCharCode(code);
  }
  return text;
}

export interface SplitLine {
  /** The OBIS part before the first "(", e.g. "1-0:1.8.1" or "1-0:1.8.0*255". */
  id: string;
  /** The text inside each "(...)", in order. */
  groups: string[];
  /** Text that is neither an id nor a complete group (a missing ")" or characters between groups). */
  rest: string;
}

/** Cuts "ID(v1)(v2)..." into its parts without ever failing; what does not fit lands in `rest`. */
export function splitLine(line: string): SplitLine {
  const open = line.indexOf('(');
  const id = open < 0 ? line : line.slice(0, open);
  const groups: string[] = [];
  let i = open < 0 ? line.length : open;
  while (i < line.length && line[i] === '(') {
    const close = line.indexOf(')', i + 1);
    if (close < 0) break;
    groups.push(line.slice(i + 1, close));
    i = close + 1;
  }
  return { id, groups, rest: line.slice(i) };
}
