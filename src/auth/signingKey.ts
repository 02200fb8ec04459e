import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** A public JSON Web Key (RFC 7517) as published in a JWKS. */
export interface PublicJwk {
  readonly kty: string;
  readonly kid: string;
  readonly alg: string;
  readonly use: 'sig';
  readonly [member: string]: unknown;
}

/** The authorization server's signing key: private half for signing, public half for its JWKS. */
export interface SigningKey {
  readonly kid: string;
  /** ES256 (ECDSA P-256, RFC 7518 §3.4): asymmetric, so resource servers verify with the public half only. */
  readonly alg: 'ES256';
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
  readonly publicJwk: PublicJwk;
}

interface StoredKey {
  readonly kid: string;
  readonly alg: 'ES256';
  readonly privateJwk: Record<string, unknown>;
}

/** RFC 7638 JWK thumbprint (SHA-256, base64url) of an EC public key: a stable, content-derived `kid`. */
export function ecThumbprint(jwk: { crv?: unknown; kty?: unknown; x?: unknown; y?: unknown }): string {
  const canonical = JSON.stringify({ crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y });
  return createHash('sha256').update(canonical).digest('base64url');
}

function fromPrivateJwk(stored: StoredKey): SigningKey {
  const privateKey = createPrivateKey({ key: stored.privateJwk, format: 'jwk' });
  const publicKey = createPublicKey(privateKey);
  const jwk = publicKey.export({ format: 'jwk' }) as Record<string, unknown>;
  return {
    kid: stored.kid,
    alg: stored.alg,
    privateKey,
    publicKey,
    publicJwk: { ...jwk, kty: String(jwk.kty), kid: stored.kid, alg: stored.alg, use: 'sig' },
  };
}

/** A fresh ES256 key (tests, or the first start). */
export function generateSigningKey(): SigningKey {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const privateJwk = privateKey.export({ format: 'jwk' }) as Record<string, unknown>;
  return fromPrivateJwk({ kid: ecThumbprint(privateJwk), alg: 'ES256', privateJwk });
}

/**
 * The signing key kept in `<dataDir>/auth/signing-key.json`: generated on first start, read on later starts, so
 * tokens issued before a restart still verify. The file holds a private key: it is written with mode 0600 and
 * renamed into place, so a crash never leaves half a key.
 */
export function loadOrCreateSigningKey(dataDir: string): { key: SigningKey; created: boolean } {
  const dir = join(dataDir, 'auth');
  const file = join(dir, 'signing-key.json');
  if (existsSync(file)) {
    return { key: fromPrivateJwk(JSON.parse(readFileSync(file, 'utf8')) as StoredKey), created: false };
  }
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const key = generateSigningKey();
  const stored: StoredKey = {
    kid: key.kid,
    alg: key.alg,
    privateJwk: key.privateKey.export({ format: 'jwk' }),
  };
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(stored), { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, file);
  return { key, created: true };
}
