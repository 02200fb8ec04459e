import type { Jwks } from '../auth/jwksKeys';

/**
 * A browser app (SMART App Launch "client-public"): no secret, so it proves itself with PKCE and an exact
 * redirect URI.
 */
export interface PublicClient {
  readonly type: 'public';
  readonly clientId: string;
  readonly name: string;
  /** Exact redirect URIs (RFC 6749 §3.1.2.2: compared as strings, no prefix match). */
  readonly redirectUris: readonly string[];
  /** The app's launch URL, opened by the EHR-launch simulator with `iss` and `launch`. */
  readonly launchUrl?: string;
  /** The most the client may be granted; a request is narrowed to it. */
  readonly allowedScopes: string;
}

/**
 * A service (SMART Backend Services, "client-confidential-asymmetric"): authenticates with a JWT signed by a key
 * of its registered JWKS (private_key_jwt, RFC 7523).
 */
export interface BackendClient {
  readonly type: 'backend';
  readonly clientId: string;
  readonly name: string;
  /** The client's public keys, registered out of band... */
  readonly jwks?: Jwks;
  /** ...or the URL where it publishes them (fetched by the server, never taken from the token). */
  readonly jwksUrl?: string;
  readonly allowedScopes: string;
}

export type RegisteredClient = PublicClient | BackendClient;
