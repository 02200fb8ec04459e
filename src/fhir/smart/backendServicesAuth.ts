import { invalidInput, notSupported } from '../outcomes';
import { signClientAssertion } from './clientAssertion';
import type { SigningKey } from './jwksKeys';
import { discoverSmartConfiguration } from './smartConfiguration';

export interface BackendServicesOptions {
  /** The FHIR base the engine works on; discovery reads its `.well-known/smart-configuration`. */
  readonly fhirBase: string;
  readonly clientId: string;
  readonly key: SigningKey;
  /** Requested scopes; every one must be a `system/` scope (backend-services.html#scopes). */
  readonly scopes: readonly string[];
  /** Skip discovery and use this token endpoint. */
  readonly tokenUrl?: string;
  readonly fetch?: typeof fetch;
  /** Milliseconds since the epoch (pass the world in). */
  readonly now?: () => number;
  /** Renew the token this many seconds before it expires (default 60 s, or half of a lifetime shorter than 2 minutes). */
  readonly renewBeforeSeconds?: number;
}

interface CachedToken {
  readonly header: string;
  readonly renewAtMs: number;
  readonly scopes: readonly string[];
}

/**
 * SMART Backend Services (SMART App Launch 2.x backend-services.html): the engine's identity as a system client.
 * `authorization()` gives the `Authorization` header for the next FHIR request (plug it into HttpFhirClient's
 * `authorization` hook): a cached access token while it is valid, a new one (client_credentials grant with a signed
 * private_key_jwt assertion) shortly before it expires. Concurrent callers share one token request.
 */
export class BackendServicesAuth {
  private readonly fetchFn: typeof fetch;
  private readonly now: () => number;
  private token: CachedToken | undefined;
  private pending: Promise<CachedToken> | undefined;
  private tokenUrl: string | undefined;

  constructor(private readonly options: BackendServicesOptions) {
    const notSystem = options.scopes.filter((s) => !s.startsWith('system/'));
    if (options.scopes.length === 0 || notSystem.length > 0) {
      throw invalidInput(`Backend services request system/ scopes only; not ${notSystem.join(' ') || '(none given)'}`);
    }
    this.fetchFn = options.fetch ?? fetch;
    this.now = options.now ?? Date.now;
    this.tokenUrl = options.tokenUrl;
  }

  /** `Bearer <token>`, from the cache or freshly requested. */
  async authorization(): Promise<string> {
    if (this.token && this.now() < this.token.renewAtMs) {
      return this.token.header;
    }
    this.pending ??= this.requestToken().finally(() => {
      this.pending = undefined;
    });
    this.token = await this.pending;
    return this.token.header;
  }

  /** Forget the cached token (the FHIR server answered 401: it was revoked or the server restarted). */
  invalidate(): void {
    this.token = undefined;
  }

  /** The scopes the server granted with the current token; they may be fewer than requested (an app must check them). */
  grantedScopes(): readonly string[] {
    return this.token?.scopes ?? [];
  }

  private async requestToken(): Promise<CachedToken> {
    this.tokenUrl ??= (
      await discoverSmartConfiguration(this.options.fhirBase, this.options.key.alg, this.fetchFn)
    ).token_endpoint;
    const tokenUrl = this.tokenUrl;
    const issuedMs = this.now();
    // backend-services.html#request-1: form-encoded client_credentials grant with a JWT-bearer client assertion.
    const body = new URLSearchParams({
      grant_type: 'client_credentials',
      scope: this.options.scopes.join(' '),
      client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
      client_assertion: signClientAssertion({
        clientId: this.options.clientId,
        tokenUrl,
        key: this.options.key,
        nowSeconds: issuedMs / 1000,
      }),
    });
    const res = await this.fetchFn(tokenUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
      body: body.toString(),
    });
    const json = (await res.json().catch(() => undefined)) as Record<string, unknown> | undefined;
    if (!res.ok) {
      // RFC 6749 §5.2 error codes (invalid_client, invalid_scope, ...) are safe to show; the description may be too.
      const error = typeof json?.error === 'string' ? json.error : 'no error code';
      throw notSupported(`The token endpoint refused the backend-services request (${res.status} ${error})`);
    }
    const accessToken = json?.access_token;
    const tokenType = json?.token_type;
    if (typeof accessToken !== 'string' || typeof tokenType !== 'string' || tokenType.toLowerCase() !== 'bearer') {
      throw invalidInput('The token endpoint answered without a bearer access_token (RFC 6749 §5.1)');
    }
    const expiresIn = typeof json?.expires_in === 'number' && json.expires_in > 0 ? json.expires_in : 300;
    const renewBefore = this.options.renewBeforeSeconds ?? Math.min(60, expiresIn / 2);
    const granted =
      typeof json?.scope === 'string' ? json.scope.split(/\s+/).filter(Boolean) : [...this.options.scopes];
    return {
      header: `Bearer ${accessToken}`,
      renewAtMs: issuedMs + (expiresIn - renewBefore) * 1000,
      scopes: granted,
    };
  }
}
