import type { Request } from 'express';
import type { JwtPayload } from 'jsonwebtoken';
import { remoteJwksResolver, staticJwksResolver, type Jwks } from '../auth/jwksKeys';
import { unauthenticated, verifyJwt, type KeyResolver } from '../auth/jwtVerification';
import { ReplayCache } from '../auth/replayCache';

/** A CDS client (an EHR) this service trusts: its `iss` and where its keys are. */
export interface TrustedCdsClient {
  readonly iss: string;
  readonly jwks?: Jwks;
  readonly jwksUrl?: string;
}

/** A CDS Hooks JWT's life is short; one valid longer than this is refused (a stolen token stays useful briefly). */
const MAX_LIFETIME_SECONDS = 300;

export type CdsClientVerifier = (req: Request, audience: string) => Promise<JwtPayload>;

/**
 * CDS Hooks 2.0 "Trusting CDS Clients" (https://cds-hooks.hl7.org/2.0/#trusting-cds-clients): each request carries
 * `Authorization: Bearer <JWT>` signed with the EHR's private key; the service checks `kid` (header), `iss` against
 * its allow-list, `aud` = the service's URL, `exp`, `iat`, and `jti` (replay). Only asymmetric algorithms: `none`
 * and HMAC are refused (ASYMMETRIC_ALGORITHMS). Keys come from the configured JWKS of each trusted issuer; a `jku`
 * in the token is never followed.
 */
export function cdsClientVerifier(trusted: readonly TrustedCdsClient[], now: () => Date): CdsClientVerifier {
  const inline = staticJwksResolver(new Map(trusted.filter((t) => t.jwks).map((t) => [t.iss, t.jwks as Jwks])));
  const remote = remoteJwksResolver({
    jwksUrlByIssuer: new Map(trusted.filter((t) => t.jwksUrl).map((t) => [t.iss, t.jwksUrl as string])),
    now,
  });
  const inlineIssuers = new Set(trusted.filter((t) => t.jwks).map((t) => t.iss));
  const resolveKey: KeyResolver = (header, issuer) =>
    inlineIssuers.has(issuer) ? inline(header, issuer) : remote(header, issuer);
  const replay = new ReplayCache(now);
  const issuers = trusted.map((t) => t.iss);

  return async (req: Request, audience: string): Promise<JwtPayload> => {
    const token = /^Bearer ([A-Za-z0-9._~+/-]+=*)$/.exec(req.get('Authorization') ?? '')?.[1];
    if (!token) {
      throw unauthenticated('A CDS client JWT is required (CDS Hooks 2.0, Trusting CDS Clients)');
    }
    const payload = await verifyJwt(token, {
      resolveKey,
      audience,
      issuers,
      now,
      requireKid: true,
      requiredClaims: ['iat', 'jti'],
    });
    const nowSeconds = Math.floor(now().getTime() / 1000);
    if (Number(payload.exp) - Number(payload.iat) > MAX_LIFETIME_SECONDS || Number(payload.iat) > nowSeconds + 60) {
      throw unauthenticated('The CDS client JWT lives too long or was issued in the future');
    }
    if (!replay.remember(String(payload.iss), String(payload.jti), Number(payload.exp))) {
      throw unauthenticated('The CDS client JWT was already used (jti)');
    }
    return payload;
  };
}
