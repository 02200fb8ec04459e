import { createPublicKey, type KeyObject } from 'node:crypto';
import type { KeyResolver } from './jwtVerification';

/** A JSON Web Key Set (RFC 7517 §5). */
export interface Jwks {
  readonly keys: ReadonlyArray<Readonly<Record<string, unknown>>>;
}

/** Key types that fit an `alg` (RFC 7518 §3.1): an RS key never verifies an ES token and the reverse. */
function keyTypeOf(alg: string): string | undefined {
  if (alg.startsWith('RS') || alg.startsWith('PS')) {
    return 'RSA';
  }
  if (alg.startsWith('ES')) {
    return 'EC';
  }
  return undefined;
}

/** The public key of `jwks` for a header: by `kid` when the token names one, else the only key of the right type. */
export function keyFromJwks(jwks: Jwks, header: { readonly kid?: string; readonly alg: string }): KeyObject {
  const kty = keyTypeOf(header.alg);
  const candidates = jwks.keys.filter(
    (k) =>
      k.kty === kty &&
      (header.kid === undefined || k.kid === header.kid) &&
      (k.use === undefined || k.use === 'sig') &&
      (k.alg === undefined || k.alg === header.alg) &&
      // A private member in a published set is a leak, not a key to trust.
      k.d === undefined
  );
  if (candidates.length !== 1) {
    throw new Error(candidates.length === 0 ? 'no matching key' : 'ambiguous key');
  }
  return createPublicKey({ key: candidates[0], format: 'jwk' });
}

/** A resolver over fixed key sets per issuer (configuration, tests). */
export function staticJwksResolver(byIssuer: ReadonlyMap<string, Jwks>): KeyResolver {
  return async (header, issuer) => {
    const jwks = byIssuer.get(issuer);
    if (!jwks) {
      throw new Error('unknown issuer');
    }
    return keyFromJwks(jwks, header);
  };
}

export interface RemoteJwksOptions {
  /** JWKS URL per trusted issuer. Only these are ever fetched: a token cannot name its own key URL. */
  readonly jwksUrlByIssuer: ReadonlyMap<string, string>;
  readonly fetch?: typeof fetch;
  readonly now: () => Date;
  /** How long a fetched set is used before it is fetched again. */
  readonly cacheMs?: number;
  /** A `kid` not in the cached set triggers a refetch at most this often (key rotation without a fetch storm). */
  readonly minRefetchMs?: number;
}

/** A resolver that fetches each trusted issuer's JWKS over HTTP and caches it. */
export function remoteJwksResolver(options: RemoteJwksOptions): KeyResolver {
  const doFetch = options.fetch ?? fetch;
  const cacheMs = options.cacheMs ?? 10 * 60_000;
  const minRefetchMs = options.minRefetchMs ?? 60_000;
  const cache = new Map<string, { jwks: Jwks; fetchedAt: number }>();

  const load = async (issuer: string, url: string): Promise<Jwks> => {
    const response = await doFetch(url, { headers: { Accept: 'application/json' }, redirect: 'error' });
    if (!response.ok) {
      throw new Error(`JWKS fetch ${response.status}`);
    }
    const jwks = (await response.json()) as Jwks;
    if (!Array.isArray(jwks.keys)) {
      throw new Error('not a JWKS');
    }
    cache.set(issuer, { jwks, fetchedAt: options.now().getTime() });
    return jwks;
  };

  return async (header, issuer) => {
    const url = options.jwksUrlByIssuer.get(issuer);
    if (!url) {
      throw new Error('unknown issuer');
    }
    const now = options.now().getTime();
    const cached = cache.get(issuer);
    if (cached && now - cached.fetchedAt < cacheMs) {
      try {
        return keyFromJwks(cached.jwks, header);
      } catch (err) {
        if (now - cached.fetchedAt < minRefetchMs) {
          throw err;
        }
      }
    }
    return keyFromJwks(await load(issuer, url), header);
  };
}
