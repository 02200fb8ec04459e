import { OperationOutcomeError } from '@medplum/core';
import type { OperationOutcome } from '@medplum/fhirtypes';
import jwt from 'jsonwebtoken';
import type { Algorithm, JwtPayload } from 'jsonwebtoken';
import type { KeyObject } from 'node:crypto';

/**
 * The only algorithms any JWT is verified with here: asymmetric signatures. `none` (RFC 7518 §3.6) is an unsigned
 * token, and HMAC (HS*) would let anyone who knows the verification key forge tokens; both are refused before any
 * key is looked up. SMART Backend Services requires RS384 and ES384 support; the others are common in EHRs.
 */
export const ASYMMETRIC_ALGORITHMS: readonly Algorithm[] = [
  'RS256',
  'RS384',
  'RS512',
  'ES256',
  'ES384',
  'ES512',
  'PS256',
  'PS384',
  'PS512',
];

/** Finds the public key for a JWT header (by issuer and `kid`); throws when there is none. */
export type KeyResolver = (
  header: { readonly kid?: string; readonly alg: string },
  issuer: string
) => Promise<KeyObject>;

export interface VerifyOptions {
  readonly resolveKey: KeyResolver;
  /** The expected `aud`; a token naming another audience is refused. */
  readonly audience: string;
  /** The accepted `iss` values (one issuer, or an allow-list). */
  readonly issuers: readonly string[];
  readonly now: () => Date;
  readonly algorithms?: readonly Algorithm[];
  /** Require a `kid` header (CDS Hooks 2.0, Backend Services). */
  readonly requireKid?: boolean;
  /** Require these claims to be present (e.g. jti, iat, exp). `exp` is always required. */
  readonly requiredClaims?: readonly string[];
}

/** A refusal: 401 with code `login` (or `expired`), the reason short and free of token content. */
export function unauthenticated(reason: string, code: 'login' | 'expired' = 'login'): OperationOutcomeError {
  const outcome: OperationOutcome = {
    resourceType: 'OperationOutcome',
    issue: [{ severity: 'error', code, details: { text: reason } }],
  };
  return new OperationOutcomeError(outcome);
}

/**
 * Verifies a compact JWS (RFC 7515) JWT: an asymmetric `alg` from the allow-list, an issuer from the allow-list,
 * a key for that issuer and `kid`, the signature, `aud`, `exp` (required; no clock tolerance), `nbf`, and the
 * required claims. Returns the payload; throws a 401 OperationOutcomeError otherwise.
 */
export async function verifyJwt(token: string, options: VerifyOptions): Promise<JwtPayload> {
  const algorithms = options.algorithms ?? ASYMMETRIC_ALGORITHMS;
  const decoded = jwt.decode(token, { complete: true, json: true });
  if (!decoded || typeof decoded.payload !== 'object' || decoded.payload === null) {
    throw unauthenticated('The token is not a JWT');
  }
  const { header } = decoded;
  const payload = decoded.payload;
  if (!(algorithms as readonly string[]).includes(header.alg)) {
    throw unauthenticated(
      `Token algorithm ${header.alg === 'none' ? 'none' : 'not accepted'}: only asymmetric signatures are`
    );
  }
  if (options.requireKid && !header.kid) {
    throw unauthenticated('The token header has no kid');
  }
  const issuer = typeof payload.iss === 'string' ? payload.iss : '';
  if (!options.issuers.includes(issuer)) {
    throw unauthenticated('The token issuer is not trusted here');
  }
  let key: KeyObject;
  try {
    key = await options.resolveKey({ ...(header.kid ? { kid: header.kid } : {}), alg: header.alg }, issuer);
  } catch {
    throw unauthenticated('No key of the issuer matches the token');
  }
  let verified: JwtPayload;
  try {
    verified = jwt.verify(token, key, {
      algorithms: [header.alg as Algorithm],
      audience: options.audience,
      issuer,
      clockTimestamp: Math.floor(options.now().getTime() / 1000),
      complete: false,
    }) as JwtPayload;
  } catch (err) {
    if (err instanceof jwt.TokenExpiredError) {
      throw unauthenticated('The token has expired', 'expired');
    }
    // A token for another resource server is the usual set-up mistake (SMART App Launch: `aud` is the FHIR base the
    // token is for), so say which audience this server expects; the token's own claims are not echoed.
    if (err instanceof jwt.JsonWebTokenError && err.message.startsWith('jwt audience invalid')) {
      throw unauthenticated(`The token's aud is not this server's FHIR base (${options.audience})`);
    }
    const name = err instanceof Error ? err.message.split(':')[0] : 'invalid';
    throw unauthenticated(`The token was refused (${name ?? 'invalid'})`);
  }
  for (const claim of ['exp', ...(options.requiredClaims ?? [])]) {
    if (verified[claim] === undefined) {
      throw unauthenticated(`The token has no ${claim} claim`);
    }
  }
  return verified;
}
