import { readFileSync } from 'node:fs';
import tls from 'node:tls';

// Giving Node a `ca` list replaces its bundled roots, so keep them, and add the system's store (where a user or a
// distribution installs its CAs) and the configured CA file, for a self-signed DSMR-reader.
const SYSTEM_CA_BUNDLES = ['/etc/ssl/certs/ca-certificates.crt', '/etc/pki/tls/certs/ca-bundle.crt'];

export function trustedCertificates(extra?: Buffer): string[] {
  const system = SYSTEM_CA_BUNDLES.flatMap((path) => {
    try {
      return [readFileSync(path, 'utf8')];
    } catch {
      return [];
    }
  });
  return [...tls.rootCertificates, ...system, ...(extra ? [extra.toString()] : [])];
}
