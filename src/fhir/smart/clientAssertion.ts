import { randomUUID, sign } from 'node:crypto';
import type { SigningKey } from './jwksKeys';

/** The longest lifetime the specification allows an assertion: `exp` no more than five minutes ahead (backend-services.html). */
export const MAX_ASSERTION_SECONDS = 300;

export interface AssertionInput {
  readonly clientId: string;
  /** The token endpoint URL: the assertion's audience. */
  readonly tokenUrl: string;
  readonly key: SigningKey;
  /** Seconds since the epoch (pass the world in: tests run at a chosen time). */
  readonly nowSeconds: number;
  /** How long the assertion is valid; at most 300 s. Default 240 s, leaving room for clock skew. */
  readonly lifetimeSeconds?: number;
  /** A fresh identifier per assertion (the server refuses a replayed jti). */
  readonly jti?: string;
}

/**
 * The signed client assertion of SMART Backend Services (SMART App Launch 2.x backend-services.html#authenticating-to-the-token-endpoint):
 * header `alg` (RS384 or ES384), `kid`, `typ: JWT`; claims `iss` = `sub` = client_id, `aud` = the token URL,
 * `exp` at most five minutes ahead, a unique `jti`. ES384 signatures are the raw r||s form JWS uses (RFC 7518 §3.4),
 * not DER.
 */
export function signClientAssertion(input: AssertionInput): string {
  const lifetime = Math.min(input.lifetimeSeconds ?? 240, MAX_ASSERTION_SECONDS);
  const header = { alg: input.key.alg, kid: input.key.kid, typ: 'JWT' };
  const claims = {
    iss: input.clientId,
    sub: input.clientId,
    aud: input.tokenUrl,
    exp: Math.floor(input.nowSeconds) + lifetime,
    jti: input.jti ?? randomUUID(),
  };
  const signingInput = `${base64url(JSON.stringify(header))}.${base64url(JSON.stringify(claims))}`;
  const signature =
    input.key.alg === 'RS384'
      ? sign('sha384', Buffer.from(signingInput), input.key.key)
      : sign('sha384', Buffer.from(signingInput), { key: input.key.key, dsaEncoding: 'ieee-p1363' });
  return `${signingInput}.${signature.toString('base64url')}`;
}

function base64url(text: string): string {
  return Buffer.from(text, 'utf8').toString('base64url');
}
