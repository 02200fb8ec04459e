import jwt from 'jsonwebtoken';
import { randomUUID } from 'node:crypto';
import { parseScopes, type ParsedScopes } from './smartScopes';
import type { SigningKey } from './signingKey';
import { unauthenticated, verifyJwt, type KeyResolver } from './jwtVerification';

/**
 * What an access token carries. SMART App Launch 2.x returns launch context beside the token; the local
 * authorization server also puts it IN the token (`patient`, `encounter`, `fhirUser`), so the resource server needs
 * no introspection call. A hospital's server that does not do that is configured with introspection instead.
 */
export interface AccessTokenClaims {
  readonly iss: string;
  /** The FHIR base URL the token is for (SMART App Launch: `aud`). */
  readonly aud: string;
  readonly sub: string;
  readonly client_id: string;
  /** Granted scopes, space-separated. */
  readonly scope: string;
  readonly patient?: string;
  readonly encounter?: string;
  /** e.g. `Practitioner/123` (SMART App Launch, "fhirUser"), relative to the FHIR base. */
  readonly fhirUser?: string;
}

/** The caller of the FHIR API as the verified token describes it. */
export interface AccessGrant {
  readonly subject: string;
  readonly clientId: string;
  readonly scopes: ParsedScopes;
  readonly patient?: string;
  readonly fhirUser?: string;
  readonly expiresAt: number;
}

export function signAccessToken(
  key: SigningKey,
  claims: AccessTokenClaims,
  nowSeconds: number,
  ttlSeconds: number
): string {
  return jwt.sign({ ...claims, iat: nowSeconds, exp: nowSeconds + ttlSeconds, jti: randomUUID() }, key.privateKey, {
    algorithm: key.alg,
    keyid: key.kid,
    header: { alg: key.alg, kid: key.kid, typ: 'at+jwt' },
  });
}

export interface AccessTokenVerifierOptions {
  /** Accepted issuers: the local authorization server, or the hospital's. */
  readonly issuers: readonly string[];
  /** The FHIR base URL: a token for another server is refused. */
  readonly audience: string;
  readonly resolveKey: KeyResolver;
  readonly now: () => Date;
}

export type AccessTokenVerifier = (token: string) => Promise<AccessGrant>;

const FHIR_USER = /^(Practitioner|PractitionerRole|Patient|RelatedPerson|Person)\/[A-Za-z0-9.-]{1,64}$/;
const FHIR_ID = /^[A-Za-z0-9.-]{1,64}$/;

/** Verifies a bearer token (signature, iss, aud, exp) and reads its grant. */
export function createAccessTokenVerifier(options: AccessTokenVerifierOptions): AccessTokenVerifier {
  return async (token: string): Promise<AccessGrant> => {
    const payload = await verifyJwt(token, {
      resolveKey: options.resolveKey,
      audience: options.audience,
      issuers: options.issuers,
      now: options.now,
      requiredClaims: ['sub'],
    });
    const patient = typeof payload.patient === 'string' ? payload.patient : undefined;
    if (patient !== undefined && !FHIR_ID.test(patient)) {
      throw unauthenticated('The token names an invalid patient');
    }
    const fhirUser =
      typeof payload.fhirUser === 'string' ? payload.fhirUser.replace(/^.*\/(?=[A-Za-z]+\/[^/]+$)/, '') : undefined;
    return {
      subject: String(payload.sub),
      clientId: typeof payload.client_id === 'string' ? payload.client_id : String(payload.sub),
      scopes: parseScopes(typeof payload.scope === 'string' ? payload.scope : ''),
      ...(patient ? { patient } : {}),
      ...(fhirUser && FHIR_USER.test(fhirUser) ? { fhirUser } : {}),
      expiresAt: Number(payload.exp),
    };
  };
}
