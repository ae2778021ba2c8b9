// node:crypto, loaded on first use: loading it costs about 2.4 MiB of resident memory (measured on Node 24 beside
// http, net and fs), and a datalogger reading a plain-text meter from the single executable never needs it.
import { createRequire } from 'node:module';

type NodeCrypto = typeof import('node:crypto');

let loaded: NodeCrypto | undefined;

export function nodeCrypto(): NodeCrypto {
  loaded ??= createRequire((import.meta as { url: string }).url)('node:crypto') as NodeCrypto;
  return loaded;
}
