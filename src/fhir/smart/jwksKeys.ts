import { createPrivateKey, type JsonWebKey, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { invalidInput } from '../outcomes';

/** The two client-assertion algorithms SMART Backend Services requires servers to support (backend-services.html#signature-verification). */
export type AssertionAlg = 'RS384' | 'ES384';

/** A private key ready to sign client assertions, with the `kid` the server finds its public half under. */
export interface SigningKey {
  readonly kid: string;
  readonly alg: AssertionAlg;
  readonly key: KeyObject;
}

/**
 * Picks the signing key from a JWKS (RFC 7517 §5) holding the client's private keys. The server holds the public
 * halves (registered, or fetched from the client's `jku`) and finds the right one by `kid`
 * (backend-services.html#authenticating-to-the-token-endpoint), so every key here must have one. RS384 needs an RSA
 * key, ES384 an EC key on P-384 (RFC 7518 §3.1).
 *
 * @param kid the key to use; default the first key usable for `alg`.
 */
export function signingKeyFromJwks(jwks: unknown, alg: AssertionAlg, kid?: string): SigningKey {
  const keys = (jwks as { keys?: unknown } | null)?.keys;
  if (!Array.isArray(keys)) {
    throw invalidInput('The JWKS has no "keys" array (RFC 7517 §5)');
  }
  const usable = (keys as JsonWebKey[]).filter(
    (k) =>
      typeof k.kid === 'string' &&
      typeof k.d === 'string' &&
      (k.alg === undefined || k.alg === alg) &&
      (alg === 'RS384' ? k.kty === 'RSA' : k.kty === 'EC' && k.crv === 'P-384') &&
      (kid === undefined || k.kid === kid)
  );
  const jwk = usable[0];
  if (!jwk) {
    throw invalidInput(
      `The JWKS holds no private ${alg === 'RS384' ? 'RSA' : 'EC P-384'} key with a kid${kid ? ` named ${kid}` : ''} for ${alg}`
    );
  }
  return { kid: jwk.kid as string, alg, key: createPrivateKey({ key: jwk, format: 'jwk' }) };
}

/** Reads the JWKS file (its path comes from configuration; the file itself is a secret, never logged). */
export function readJwksFile(path: string): unknown {
  try {
    return JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw invalidInput(`Cannot read the JWKS file: ${(err as Error).message.split('\n')[0]}`);
  }
}
