import type { Patient, Practitioner } from '@medplum/fhirtypes';
import express from 'express';
import type { NextFunction, Request, RequestHandler, Response, Router } from 'express';
import { timingSafeEqual } from 'node:crypto';
import type { FhirClient } from '../fhir/fhirClient';
import {
  createAccessTokenVerifier,
  signAccessToken,
  type AccessGrant,
  type AccessTokenClaims,
} from '../auth/accessToken';
import { remoteJwksResolver, staticJwksResolver, type Jwks } from '../auth/jwksKeys';
import { ReplayCache } from '../auth/replayCache';
import { grantScopes, parseScopes } from '../auth/smartScopes';
import type { SigningKey } from '../auth/signingKey';
import { ASYMMETRIC_ALGORITHMS, verifyJwt, type KeyResolver } from '../auth/jwtVerification';
import { ExpiringStore, newHandle } from './expiringStore';
import { errorPage, loginPage, PAGE_CSS, type Choice } from './loginPages';
import { patientUserScopes } from './patientUserGrant';
import { isS256Challenge, verifierMatches } from './pkce';
import type { BackendClient, PublicClient, RegisteredClient } from './registeredClients';
import jwt from 'jsonwebtoken';

export interface SmartAuthServerOptions {
  /** The issuer, e.g. `http://127.0.0.1:8080/auth`; the router serves its endpoints under `issuerPath`. */
  readonly issuer: string;
  /** Path of the issuer on this server, e.g. `/auth`. */
  readonly issuerPath: string;
  /** The FHIR base URL (the `aud` of every token). */
  readonly fhirBaseUrl: string;
  /** Path of the FHIR base on this server, for `[base]/.well-known/smart-configuration`. */
  readonly fhirBasePath: string;
  readonly signingKey: SigningKey;
  readonly clients: readonly RegisteredClient[];
  /** Lists practitioners and patients for the login and the patient picker. */
  readonly client: FhirClient;
  readonly now: () => Date;
  /** When set, the practitioner login asks for it (a shared demo passcode; this is a simulator, not an IdP). */
  readonly loginPasscode?: string;
  readonly accessTokenSeconds?: number;
  readonly refreshTokenSeconds?: number;
}

/** What an authorization code or a launch stands for. */
interface LaunchContext {
  readonly clientId: string;
  readonly fhirUser: string;
  readonly patient?: string;
  readonly encounter?: string;
}

interface PendingAuthorization {
  readonly client: PublicClient;
  readonly redirectUri: string;
  readonly scope: string;
  readonly state: string;
  readonly codeChallenge: string;
  readonly needsPatient: boolean;
}

interface CodeGrant extends LaunchContext {
  readonly redirectUri: string;
  readonly codeChallenge: string;
  readonly scope: string;
  readonly codeId: string;
}

interface RefreshGrant extends LaunchContext {
  readonly scope: string;
  readonly codeId: string;
}

const CODE_SECONDS = 60;
const LAUNCH_SECONDS = 300;
const PENDING_SECONDS = 600;
/** SMART Backend Services: "exp ... no more than five minutes in the future". */
const MAX_ASSERTION_SECONDS = 300;
const JWT_BEARER = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
const FHIR_ID = /^[A-Za-z0-9.-]{1,64}$/;

/** An OAuth 2.0 error response (RFC 6749 §5.2). */
class OAuthError extends Error {
  constructor(
    readonly status: number,
    readonly error: string,
    readonly description: string
  ) {
    super(description);
  }
}

function sendJson(res: Response, status: number, body: unknown): void {
  // RFC 6749 §5.1: token responses SHALL carry Cache-Control: no-store and Pragma: no-cache.
  res
    .status(status)
    .set('Cache-Control', 'no-store')
    .set('Pragma', 'no-cache')
    .type('application/json')
    .send(JSON.stringify(body));
}

function one(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

function patientLabel(p: Patient): string {
  const name = p.name?.[0];
  const text = name?.text ?? [...(name?.given ?? []), name?.family ?? ''].join(' ').trim();
  return `${text || 'Patient'} (${p.id ?? ''})`;
}

function practitionerLabel(p: Practitioner): string {
  const name = p.name?.[0];
  const text =
    name?.text ?? [name?.prefix?.join(' ') ?? '', ...(name?.given ?? []), name?.family ?? ''].join(' ').trim();
  return `${text || 'Practitioner'} (${p.id ?? ''})`;
}

function hasPatientScopes(scope: string): boolean {
  return parseScopes(scope).resources.some((s) => s.level === 'patient');
}

function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/**
 * The local SMART authorization server (SMART App Launch 2.x, SMART Backend Services), for the embedded default and
 * for tests; real deployments use the hospital's own and configure the FHIR access guard with its issuer and JWKS.
 *
 * - `[fhir base]/.well-known/smart-configuration`: discovery (SMART App Launch, "Conformance").
 * - `<issuer>/launcher`: the EHR-launch simulator: a practitioner signs in and picks a patient and an app; the app's
 *   launch URL is opened with `iss` and an opaque `launch`.
 * - `<issuer>/authorize`: authorization code with PKCE S256 only; `state` required; redirect URIs exact; `aud` must
 *   be the FHIR base. With a launch from the simulator the code is issued at once (the practitioner signed in there);
 *   a standalone launch shows the login and, for `launch/patient`, the patient picker.
 * - `<issuer>/token`: authorization_code (PKCE checked), refresh_token (rotated), client_credentials with a
 *   private_key_jwt assertion (Backend Services: expired, > 5 min, replayed jti, wrong aud, unknown key refused).
 * - `<issuer>/jwks`, `<issuer>/introspect` (RFC 7662, for holders of a valid token of this server).
 */
export function smartAuthServer(options: SmartAuthServerOptions): Router {
  const accessSeconds = options.accessTokenSeconds ?? 600;
  const refreshSeconds = options.refreshTokenSeconds ?? 12 * 3600;
  const tokenEndpoint = `${options.issuer}/token`;
  const stylesheet = `${options.issuerPath}/style.css`;
  const clients = new Map(options.clients.map((c) => [c.clientId, c]));
  const launches = new ExpiringStore<LaunchContext>(options.now);
  const pending = new ExpiringStore<PendingAuthorization>(options.now);
  const codes = new ExpiringStore<CodeGrant>(options.now);
  const usedCodes = new ExpiringStore<string>(options.now);
  const refreshTokens = new ExpiringStore<RefreshGrant>(options.now);
  const replay = new ReplayCache(options.now);
  const ownVerifier = createAccessTokenVerifier({
    issuers: [options.issuer],
    audience: options.fhirBaseUrl,
    resolveKey: staticJwksResolver(new Map([[options.issuer, { keys: [options.signingKey.publicJwk] }]])),
    now: options.now,
  });
  const backendKeys = backendKeyResolver(options.clients, options.now);
  const nowSeconds = (): number => Math.floor(options.now().getTime() / 1000);

  const router = express.Router();
  const form = express.urlencoded({ extended: false, limit: '32kb', type: 'application/x-www-form-urlencoded' });

  const html = (res: Response, status: number, body: string): void => {
    const redirectOrigins = [
      ...new Set(
        options.clients.flatMap((c) => (c.type === 'public' ? c.redirectUris.map((u) => new URL(u).origin) : []))
      ),
    ];
    res
      .status(status)
      .set('Cache-Control', 'no-store')
      // No script; forms post here, and the redirect after the POST goes to a registered app (CSP form-action
      // also governs that redirect); the login is never framed (clickjacking).
      .set(
        'Content-Security-Policy',
        `default-src 'none'; style-src 'self'; img-src data:; form-action 'self' ${redirectOrigins.join(' ')}; frame-ancestors 'none'; base-uri 'none'`
      )
      .type('text/html')
      .send(body);
  };

  const choices = async (): Promise<{ practitioners: Choice[]; patients: Choice[] }> => {
    const [practitioners, patients] = await Promise.all([
      options.client.searchAll<Practitioner>('Practitioner', { _count: '100' }),
      options.client.searchAll<Patient>('Patient', { _count: '100' }),
    ]);
    return {
      practitioners: practitioners.map((p) => ({ value: `Practitioner/${p.id ?? ''}`, label: practitionerLabel(p) })),
      patients: patients.map((p) => ({ value: p.id ?? '', label: patientLabel(p) })),
    };
  };

  /** Checks the login form: a listed practitioner, the passcode when one is set, a listed patient when asked. */
  const checkLogin = async (
    body: Record<string, unknown>,
    needsPatient: boolean
  ): Promise<{ fhirUser: string; patient?: string } | string> => {
    if (options.loginPasscode !== undefined && !safeEqual(one(body.passcode) ?? '', options.loginPasscode)) {
      return 'Wrong passcode';
    }
    const { practitioners, patients } = await choices();
    const patientUser = one(body.patient_user);
    if (patientUser !== undefined) {
      // A patient signs in as themselves: they are the user AND the launch context; no other patient can be named.
      if (!FHIR_ID.test(patientUser) || !patients.some((p) => p.value === patientUser)) {
        return 'Choose your name from the list';
      }
      return { fhirUser: `Patient/${patientUser}`, patient: patientUser };
    }
    const fhirUser = one(body.practitioner) ?? '';
    if (!practitioners.some((p) => p.value === fhirUser)) {
      return 'Choose a practitioner from the list';
    }
    if (!needsPatient) {
      return { fhirUser };
    }
    const patient = one(body.patient) ?? '';
    if (!FHIR_ID.test(patient) || !patients.some((p) => p.value === patient)) {
      return 'Choose a patient from the list';
    }
    return { fhirUser, patient };
  };

  const wrap =
    (handler: (req: Request, res: Response) => Promise<void>): RequestHandler =>
    (req: Request, res: Response, next: NextFunction): void => {
      handler(req, res).catch((err: unknown) => {
        if (err instanceof OAuthError) {
          if (err.status === 401) {
            res.set('WWW-Authenticate', 'Bearer');
          }
          sendJson(res, err.status, { error: err.error, error_description: err.description });
          return;
        }
        next(err);
      });
    };

  router.get(`${options.fhirBasePath}/.well-known/smart-configuration`, (_req, res) => {
    sendJson(res, 200, {
      issuer: options.issuer,
      jwks_uri: `${options.issuer}/jwks`,
      authorization_endpoint: `${options.issuer}/authorize`,
      token_endpoint: tokenEndpoint,
      introspection_endpoint: `${options.issuer}/introspect`,
      grant_types_supported: ['authorization_code', 'refresh_token', 'client_credentials'],
      token_endpoint_auth_methods_supported: ['private_key_jwt'],
      token_endpoint_auth_signing_alg_values_supported: ['RS384', 'ES384'],
      scopes_supported: [
        'openid',
        'fhirUser',
        'launch',
        'launch/patient',
        'offline_access',
        'online_access',
        'patient/*.cruds',
        'user/*.cruds',
        'system/*.rs',
      ],
      response_types_supported: ['code'],
      code_challenge_methods_supported: ['S256'],
      capabilities: [
        'launch-ehr',
        'launch-standalone',
        'client-public',
        'client-confidential-asymmetric',
        'context-ehr-patient',
        'context-standalone-patient',
        'permission-patient',
        'permission-user',
        'permission-v2',
        'permission-v1',
        'permission-offline',
        'sso-openid-connect',
      ],
    });
  });

  router.get(`${options.issuerPath}/style.css`, (_req, res) => {
    res.type('text/css').set('Cache-Control', 'max-age=3600').send(PAGE_CSS);
  });

  router.get(`${options.issuerPath}/jwks`, (_req, res) => {
    res.type('application/json').send(JSON.stringify({ keys: [options.signingKey.publicJwk] }));
  });

  // --- The EHR-launch simulator -------------------------------------------------------------------------------------
  const launchApps = (): PublicClient[] =>
    options.clients.filter((c): c is PublicClient => c.type === 'public' && c.launchUrl !== undefined);

  router.get(
    `${options.issuerPath}/launcher`,
    wrap(async (req, res) => {
      const { practitioners, patients } = await choices();
      const preselected = one((req.query as Record<string, unknown>).patient);
      html(
        res,
        200,
        loginPage({
          title: 'EHR launch simulator',
          ...(preselected ? { selectedPatient: preselected } : {}),
          action: `${options.issuerPath}/launcher`,
          hidden: {},
          apps: launchApps().map((c) => ({ value: c.clientId, label: c.name })),
          practitioners,
          patients,
          askPasscode: options.loginPasscode !== undefined,
          note: 'Sign in as a practitioner, pick a patient, and the app opens as an EHR would launch it.',
          stylesheet,
          submitLabel: 'Launch',
        })
      );
    })
  );

  router.post(
    `${options.issuerPath}/launcher`,
    form,
    wrap(async (req, res) => {
      const body = (req.body ?? {}) as Record<string, unknown>;
      const app = launchApps().find((c) => c.clientId === one(body.app));
      // The EHR-launch simulator is the clinician's: a patient signs in through a standalone launch only.
      const login = body.patient_user === undefined ? await checkLogin(body, true) : 'Choose a practitioner';
      if (!app || typeof login === 'string') {
        html(
          res,
          400,
          errorPage('Launch refused', app ? (login as string) : 'Choose an app from the list', stylesheet)
        );
        return;
      }
      const launch = newHandle();
      launches.put(launch, { clientId: app.clientId, ...login }, LAUNCH_SECONDS);
      const url = new URL(app.launchUrl ?? '');
      url.searchParams.set('iss', options.fhirBaseUrl);
      url.searchParams.set('launch', launch);
      res.redirect(303, url.toString());
    })
  );

  // --- Authorization endpoint ---------------------------------------------------------------------------------------
  const redirectWithError = (
    res: Response,
    redirectUri: string,
    state: string,
    error: string,
    description: string
  ): void => {
    const url = new URL(redirectUri);
    url.searchParams.set('error', error);
    url.searchParams.set('error_description', description);
    if (state) {
      url.searchParams.set('state', state);
    }
    res.redirect(302, url.toString());
  };

  const issueCode = (res: Response, request: PendingAuthorization, context: LaunchContext): void => {
    const code = newHandle();
    codes.put(
      code,
      {
        ...context,
        redirectUri: request.redirectUri,
        codeChallenge: request.codeChallenge,
        // A patient user never holds user/ or system/ scopes, nor writes (patientUserGrant.ts).
        scope: context.fhirUser.startsWith('Patient/') ? patientUserScopes(request.scope) : request.scope,
        codeId: newHandle(),
      },
      CODE_SECONDS
    );
    const url = new URL(request.redirectUri);
    url.searchParams.set('code', code);
    url.searchParams.set('state', request.state);
    res.redirect(303, url.toString());
  };

  router.get(
    `${options.issuerPath}/authorize`,
    wrap(async (req, res) => {
      const q = req.query as Record<string, unknown>;
      const client = clients.get(one(q.client_id) ?? '');
      const redirectUri = one(q.redirect_uri) ?? '';
      // RFC 6749 §4.1.2.1: with an unknown client or redirect URI, never redirect (open redirector); say so here.
      if (!client || client.type !== 'public' || !client.redirectUris.includes(redirectUri)) {
        html(res, 400, errorPage('Authorization refused', 'Unknown client or unregistered redirect URI', stylesheet));
        return;
      }
      const state = one(q.state) ?? '';
      if (state.length < 16) {
        redirectWithError(
          res,
          redirectUri,
          state,
          'invalid_request',
          'state is required (at least 122 bits of entropy)'
        );
        return;
      }
      if (one(q.response_type) !== 'code') {
        redirectWithError(res, redirectUri, state, 'unsupported_response_type', 'Only the authorization code flow');
        return;
      }
      const challenge = one(q.code_challenge) ?? '';
      if (one(q.code_challenge_method) !== 'S256' || !isS256Challenge(challenge)) {
        redirectWithError(
          res,
          redirectUri,
          state,
          'invalid_request',
          'PKCE with code_challenge_method S256 is required'
        );
        return;
      }
      // SMART App Launch: the server SHALL reject a request whose aud is not a FHIR server it protects.
      if ((one(q.aud) ?? '').replace(/\/$/, '') !== options.fhirBaseUrl) {
        redirectWithError(res, redirectUri, state, 'invalid_request', 'aud is not this FHIR server');
        return;
      }
      const requested = one(q.scope) ?? '';
      const scope = grantScopes(requested, client.allowedScopes);
      const words = requested.split(' ');
      const launchId = one(q.launch);
      const request: PendingAuthorization = {
        client,
        redirectUri,
        scope,
        state,
        codeChallenge: challenge,
        needsPatient:
          words.includes('launch/patient') || parseScopes(scope).resources.some((s) => s.level === 'patient'),
      };
      if (launchId !== undefined) {
        const launch = launches.take(launchId);
        if (!launch || launch.clientId !== client.clientId || !words.includes('launch')) {
          redirectWithError(res, redirectUri, state, 'invalid_request', 'Unknown or expired launch');
          return;
        }
        issueCode(res, request, launch);
        return;
      }
      const requestId = newHandle();
      pending.put(requestId, request, PENDING_SECONDS);
      const { practitioners, patients } = await choices();
      html(
        res,
        200,
        loginPage({
          title: `Sign in to ${client.name}`,
          action: `${options.issuerPath}/authorize`,
          hidden: { request_id: requestId },
          practitioners,
          ...(request.needsPatient ? { patients } : {}),
          // A standalone launch asking for patient-level access may be the patient's own (SMART App Launch,
          // "Standalone launch" by a patient: the patient in context is the signed-in patient).
          ...(hasPatientScopes(scope) ? { patientUsers: patients } : {}),
          askPasscode: options.loginPasscode !== undefined,
          note: `${client.name} asks for: ${scope || '(nothing this server grants)'}`,
          stylesheet,
          submitLabel: 'Sign in and allow',
        })
      );
    })
  );

  router.post(
    `${options.issuerPath}/authorize`,
    form,
    wrap(async (req, res) => {
      const body = (req.body ?? {}) as Record<string, unknown>;
      // The form names a request this server validated and stored; the parameters themselves are not re-read from
      // the form, so a tampered form cannot change the client, redirect URI, scopes or PKCE challenge.
      const request = pending.get(one(body.request_id) ?? '');
      if (!request) {
        html(
          res,
          400,
          errorPage('Authorization refused', 'This sign-in has expired; start again from the app', stylesheet)
        );
        return;
      }
      const login = await checkLogin(body, request.needsPatient);
      if (typeof login === 'string') {
        html(res, 400, errorPage('Authorization refused', login, stylesheet));
        return;
      }
      pending.take(one(body.request_id) ?? '');
      issueCode(res, request, { clientId: request.client.clientId, ...login });
    })
  );

  // --- Token endpoint -----------------------------------------------------------------------------------------------
  const tokenResponse = (
    context: LaunchContext,
    scope: string,
    codeId: string,
    clientId: string
  ): Record<string, unknown> => {
    const now = nowSeconds();
    const claims: AccessTokenClaims = {
      iss: options.issuer,
      aud: options.fhirBaseUrl,
      sub: context.fhirUser,
      client_id: clientId,
      scope,
      ...(context.patient ? { patient: context.patient } : {}),
      ...(context.encounter ? { encounter: context.encounter } : {}),
      fhirUser: context.fhirUser,
    };
    const words = scope.split(' ');
    const response: Record<string, unknown> = {
      access_token: signAccessToken(options.signingKey, claims, now, accessSeconds),
      token_type: 'Bearer',
      expires_in: accessSeconds,
      scope,
      ...(context.patient ? { patient: context.patient, need_patient_banner: false } : {}),
      ...(context.encounter ? { encounter: context.encounter } : {}),
    };
    if (words.includes('openid') && words.includes('fhirUser')) {
      // OpenID Connect Core §2; SMART App Launch: fhirUser as an absolute URL.
      response.id_token = jwt.sign(
        {
          iss: options.issuer,
          sub: context.fhirUser,
          aud: clientId,
          iat: now,
          exp: now + accessSeconds,
          fhirUser: `${options.fhirBaseUrl}/${context.fhirUser}`,
        },
        options.signingKey.privateKey,
        { algorithm: options.signingKey.alg, header: { alg: options.signingKey.alg, kid: options.signingKey.kid } }
      );
    }
    if (words.includes('offline_access') || words.includes('online_access')) {
      const refresh = newHandle();
      refreshTokens.put(refresh, { ...context, scope, codeId }, refreshSeconds);
      response.refresh_token = refresh;
    }
    return response;
  };

  const authorizationCodeGrant = (body: Record<string, unknown>): Record<string, unknown> => {
    const code = one(body.code) ?? '';
    const grant = codes.take(code);
    if (!grant) {
      const replayedCodeId = usedCodes.get(code);
      if (replayedCodeId) {
        // RFC 6749 §4.1.2: a code used twice SHOULD revoke what it issued.
        refreshTokens.deleteWhere((r) => r.codeId === replayedCodeId);
      }
      throw new OAuthError(400, 'invalid_grant', 'Unknown, expired or already used code');
    }
    usedCodes.put(code, grant.codeId, refreshSeconds);
    const client = clients.get(one(body.client_id) ?? '');
    if (!client || client.clientId !== grant.clientId) {
      throw new OAuthError(400, 'invalid_grant', 'The code was issued to another client');
    }
    if (one(body.redirect_uri) !== grant.redirectUri) {
      throw new OAuthError(400, 'invalid_grant', 'redirect_uri does not match the authorization request');
    }
    if (!verifierMatches(one(body.code_verifier) ?? '', grant.codeChallenge)) {
      throw new OAuthError(400, 'invalid_grant', 'PKCE code_verifier does not match');
    }
    return tokenResponse(grant, grant.scope, grant.codeId, grant.clientId);
  };

  const refreshGrant = (body: Record<string, unknown>): Record<string, unknown> => {
    const grant = refreshTokens.take(one(body.refresh_token) ?? '');
    if (!grant || grant.clientId !== one(body.client_id)) {
      throw new OAuthError(400, 'invalid_grant', 'Unknown or expired refresh token');
    }
    // RFC 6749 §6: a refresh may narrow the scope, never widen it.
    const requested = one(body.scope);
    const scope = requested ? grantScopes(requested, grant.scope) : grant.scope;
    return tokenResponse(grant, scope, grant.codeId, grant.clientId);
  };

  const clientCredentialsGrant = async (body: Record<string, unknown>): Promise<Record<string, unknown>> => {
    if (one(body.client_assertion_type) !== JWT_BEARER) {
      throw new OAuthError(401, 'invalid_client', 'client_assertion_type must be jwt-bearer (private_key_jwt)');
    }
    const assertion = one(body.client_assertion) ?? '';
    const unverified = jwt.decode(assertion, { json: true });
    const clientId = typeof unverified?.iss === 'string' ? unverified.iss : '';
    const client = clients.get(clientId);
    if (!client || client.type !== 'backend' || unverified?.sub !== clientId) {
      throw new OAuthError(401, 'invalid_client', 'Unknown client (iss and sub must be a registered client_id)');
    }
    let payload: jwt.JwtPayload;
    try {
      payload = await verifyJwt(assertion, {
        resolveKey: backendKeys,
        audience: tokenEndpoint,
        issuers: [clientId],
        now: options.now,
        algorithms: ASYMMETRIC_ALGORITHMS,
        requireKid: true,
        requiredClaims: ['jti', 'sub'],
      });
    } catch (err) {
      throw new OAuthError(401, 'invalid_client', err instanceof Error ? err.message : 'Client assertion refused');
    }
    const exp = Number(payload.exp);
    if (exp - nowSeconds() > MAX_ASSERTION_SECONDS) {
      throw new OAuthError(401, 'invalid_client', 'The assertion is valid for more than five minutes');
    }
    if (!replay.remember(clientId, String(payload.jti), exp)) {
      throw new OAuthError(401, 'invalid_client', 'The assertion jti was already used');
    }
    const scope = grantScopes(one(body.scope) ?? '', client.allowedScopes)
      .split(' ')
      .filter((s) => s.startsWith('system/'))
      .join(' ');
    if (!scope) {
      throw new OAuthError(400, 'invalid_scope', 'None of the requested scopes is granted to this client');
    }
    const now = nowSeconds();
    const claims: AccessTokenClaims = {
      iss: options.issuer,
      aud: options.fhirBaseUrl,
      sub: clientId,
      client_id: clientId,
      scope,
    };
    return {
      access_token: signAccessToken(options.signingKey, claims, now, Math.min(accessSeconds, 300)),
      token_type: 'Bearer',
      expires_in: Math.min(accessSeconds, 300),
      scope,
    };
  };

  router.post(
    `${options.issuerPath}/token`,
    form,
    wrap(async (req, res) => {
      const body = (req.body ?? {}) as Record<string, unknown>;
      switch (one(body.grant_type)) {
        case 'authorization_code':
          sendJson(res, 200, authorizationCodeGrant(body));
          return;
        case 'refresh_token':
          sendJson(res, 200, refreshGrant(body));
          return;
        case 'client_credentials':
          sendJson(res, 200, await clientCredentialsGrant(body));
          return;
        default:
          throw new OAuthError(
            400,
            'unsupported_grant_type',
            'authorization_code, refresh_token or client_credentials'
          );
      }
    })
  );

  router.post(
    `${options.issuerPath}/introspect`,
    form,
    wrap(async (req, res) => {
      // RFC 7662 §2.1: the caller must be authorized; here, by a valid access token of this server.
      const caller = /^Bearer (\S+)$/.exec(req.get('Authorization') ?? '')?.[1];
      try {
        await ownVerifier(caller ?? '');
      } catch {
        throw new OAuthError(401, 'invalid_token', 'Introspection needs a valid bearer token of this server');
      }
      const token = one(((req.body ?? {}) as Record<string, unknown>).token) ?? '';
      let grant: AccessGrant;
      try {
        grant = await ownVerifier(token);
      } catch {
        sendJson(res, 200, { active: false });
        return;
      }
      sendJson(res, 200, {
        active: true,
        scope: grant.scopes.resources
          .map((s) => s.text)
          .concat(grant.scopes.other)
          .join(' '),
        client_id: grant.clientId,
        sub: grant.subject,
        exp: grant.expiresAt,
        iss: options.issuer,
        aud: options.fhirBaseUrl,
        token_type: 'Bearer',
        ...(grant.patient ? { patient: grant.patient } : {}),
        ...(grant.fhirUser ? { fhirUser: grant.fhirUser } : {}),
      });
    })
  );

  return router;
}

/** Keys of backend clients: their registered JWKS, or their JWKS URL (fetched, cached). */
function backendKeyResolver(clients: readonly RegisteredClient[], now: () => Date): KeyResolver {
  const backends = clients.filter((c): c is BackendClient => c.type === 'backend');
  const inline = staticJwksResolver(new Map(backends.filter((c) => c.jwks).map((c) => [c.clientId, c.jwks as Jwks])));
  const remote = remoteJwksResolver({
    jwksUrlByIssuer: new Map(backends.filter((c) => c.jwksUrl).map((c) => [c.clientId, c.jwksUrl as string])),
    now,
  });
  const hasInline = new Set(backends.filter((c) => c.jwks).map((c) => c.clientId));
  return (header, issuer) => (hasInline.has(issuer) ? inline(header, issuer) : remote(header, issuer));
}
