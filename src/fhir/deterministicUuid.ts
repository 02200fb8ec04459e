import { createHash } from 'node:crypto';

/**
 * A UUID derived from a key (SHA-1, formatted like an RFC 4122 version-5 UUID): same key, same UUID. The engine's
 * transaction entries use it as their `urn:uuid:` fullUrl (FHIR R4 bundle.html#references), so a rerun builds the
 * same Bundle byte for byte.
 */
export function deterministicUuid(key: string): string {
  const hex = createHash('sha1').update(key).digest('hex');
  const variant = ((parseInt(hex.slice(16, 18), 16) & 0x3f) | 0x80).toString(16).padStart(2, '0');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-5${hex.slice(13, 16)}-${variant}${hex.slice(18, 20)}-${hex.slice(20, 32)}`;
}
