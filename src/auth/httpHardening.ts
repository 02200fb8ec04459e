import { OperationOutcomeError, unsupportedMediaType } from '@medplum/core';
import type { OperationOutcome } from '@medplum/fhirtypes';
import type { NextFunction, Request, RequestHandler, Response } from 'express';

/** The HTTP layer's configuration: who may call, from where, and who may frame the app. */
export interface HardeningOptions {
  /** Host header values served (`host[:port]`); anything else is refused (DNS rebinding). */
  readonly allowedHosts: readonly string[];
  /** Browser origins allowed to call the API cross-origin (the SMART app's origin, EHR origins). */
  readonly allowedOrigins: readonly string[];
  /** Origins allowed to frame the app (CSP frame-ancestors): the EHRs that embed it. */
  readonly frameAncestors: readonly string[];
  /** Path prefixes that carry health data or tokens (the FHIR base, the token endpoint): `Cache-Control: no-store`. */
  readonly noStorePaths: readonly string[];
  /** Path prefix of the SMART app's static files, which get the app's CSP instead of the API's. */
  readonly appPath?: string;
  /** Path prefixes that answer CORS themselves (CDS Hooks: any origin, the JWT being the credential). */
  readonly corsExemptPaths?: readonly string[];
  /** Origins the app may connect to besides its own (a remote FHIR server or authorization server). */
  readonly connectSources?: readonly string[];
}

function refuse(code: 'forbidden', text: string): OperationOutcomeError {
  const outcome: OperationOutcome = {
    resourceType: 'OperationOutcome',
    issue: [{ severity: 'error', code, details: { text } }],
  };
  return new OperationOutcomeError(outcome);
}

/**
 * Refuses a request whose Host header is not one this server answers to. A DNS-rebinding page reaches a loopback
 * server under the attacker's host name; checking Host stops it (the browser cannot forge Host).
 */
export function hostAllowList(allowedHosts: readonly string[]): RequestHandler {
  const allowed = new Set(allowedHosts.map((h) => h.toLowerCase()));
  return (req: Request, _res: Response, next: NextFunction): void => {
    const host = (req.headers.host ?? '').toLowerCase();
    if (!allowed.has(host)) {
      next(refuse('forbidden', 'This server does not answer to that Host'));
      return;
    }
    next();
  };
}

const CORS_METHODS = 'GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS';
const CORS_REQUEST_HEADERS =
  'Authorization, Content-Type, Accept, If-Match, If-None-Match, If-None-Exist, If-Modified-Since, Prefer';
const CORS_EXPOSED_HEADERS =
  'Location, Content-Location, ETag, Last-Modified, WWW-Authenticate, X-Progress, Retry-After';

/**
 * CORS (Fetch Standard, "CORS protocol") as SMART apps need it: an allowed origin gets its own origin echoed
 * (never `*`, so credentials-bearing requests cannot be opened to every site), the Authorization header, and the
 * FHIR response headers exposed; preflights are answered 204. A request from any other origin gets no CORS
 * headers, so the browser does not hand it the response; a preflight from it is refused, and an unsafe method
 * (POST, PUT, PATCH, DELETE) that carries a foreign Origin is refused before it runs, since a "simple request"
 * would run even though its answer is hidden.
 */
export function corsForOrigins(allowedOrigins: readonly string[], exemptPaths: readonly string[] = []): RequestHandler {
  const allowed = new Set(allowedOrigins);
  return (req: Request, res: Response, next: NextFunction): void => {
    if (exemptPaths.some((p) => req.path === p || req.path.startsWith(`${p}/`))) {
      next();
      return;
    }
    const origin = req.get('Origin');
    res.vary('Origin');
    if (origin === undefined) {
      next();
      return;
    }
    const sameOrigin = origin === `${req.protocol}://${req.get('Host') ?? ''}`;
    if (!allowed.has(origin) && !sameOrigin) {
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        next(refuse('forbidden', 'Cross-origin requests from this origin are not allowed'));
        return;
      }
      next();
      return;
    }
    res.set('Access-Control-Allow-Origin', origin);
    res.set('Access-Control-Expose-Headers', CORS_EXPOSED_HEADERS);
    if (req.method === 'OPTIONS' && req.get('Access-Control-Request-Method')) {
      res.set('Access-Control-Allow-Methods', CORS_METHODS);
      res.set('Access-Control-Allow-Headers', CORS_REQUEST_HEADERS);
      res.set('Access-Control-Max-Age', '600');
      res.status(204).end();
      return;
    }
    next();
  };
}

/** FHIR JSON (R4 http.html#mime-type), JSON Patch for PATCH, a form only for `_search` (a read) and the token endpoint. */
const WRITE_MEDIA_TYPES = ['application/fhir+json', 'application/json', 'application/json-patch+json'];

/**
 * Unsafe methods under the FHIR base only with a FHIR JSON content type, body or not. A browser sends
 * `text/plain`, a form or no body at all cross-site without a preflight ("simple requests"); requiring a JSON type
 * means every such write is preflighted, and the preflight is refused to foreign origins.
 */
export function requireJsonForWrites(): RequestHandler {
  return (req: Request, _res: Response, next: NextFunction): void => {
    if (req.method === 'GET' || req.method === 'HEAD' || req.method === 'OPTIONS') {
      next();
      return;
    }
    const type = (req.get('Content-Type') ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
    const isSearchForm =
      req.method === 'POST' && /\/_search\/?$/.test(req.path) && type === 'application/x-www-form-urlencoded';
    if (!WRITE_MEDIA_TYPES.includes(type) && !isSearchForm) {
      // 415 (FHIR R4 http.html#mime-type); unsupportedMediaType's id is what maps the outcome to 415.
      next(
        new OperationOutcomeError({
          ...unsupportedMediaType,
          issue: [
            {
              severity: 'error',
              code: 'not-supported',
              details: { text: 'Writes need Content-Type application/fhir+json' },
            },
          ],
        })
      );
      return;
    }
    next();
  };
}

/**
 * Security headers on every response: no MIME sniffing, no referrer to other sites (URLs may carry a launch id or
 * an authorization code; `same-origin` rather than `no-referrer`, which makes browsers send `Origin: null` on this
 * server's own form posts), a CSP that
 * lets the API's JSON run nothing and the app load only its own files, framing limited to the configured EHRs, and
 * `Cache-Control: no-store` where health data or tokens travel (OAuth 2.0 RFC 6749 §5.1 requires it for tokens).
 */
export function securityHeaders(options: HardeningOptions): RequestHandler {
  const ancestors = options.frameAncestors.length > 0 ? options.frameAncestors.join(' ') : "'none'";
  const connect = ["'self'", ...(options.connectSources ?? [])].join(' ');
  const appCsp =
    `default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; ` +
    `connect-src ${connect}; form-action 'self'; base-uri 'none'; frame-ancestors ${ancestors}`;
  const apiCsp = `default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'`;
  return (req: Request, res: Response, next: NextFunction): void => {
    res.set('X-Content-Type-Options', 'nosniff');
    res.set('Referrer-Policy', 'same-origin');
    const isApp =
      options.appPath !== undefined && (req.path === options.appPath || req.path.startsWith(`${options.appPath}/`));
    res.set('Content-Security-Policy', isApp ? appCsp : apiCsp);
    if (options.noStorePaths.some((p) => req.path === p || req.path.startsWith(`${p}/`))) {
      res.set('Cache-Control', 'no-store');
      res.set('Pragma', 'no-cache');
    }
    next();
  };
}

/** The hardening middlewares in their order, for the app's top (before any route). */
export function httpHardening(options: HardeningOptions): RequestHandler[] {
  return [
    hostAllowList(options.allowedHosts),
    securityHeaders(options),
    corsForOrigins(options.allowedOrigins, options.corsExemptPaths),
  ];
}
