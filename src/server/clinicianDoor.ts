import express from 'express';
import type { RequestHandler } from 'express';
import { createAccessTokenVerifier } from '../auth/accessToken';
import { fhirAccessGuard, patientBodyGuard } from '../auth/fhirAccessGuard';
import { httpHardening, requireJsonForWrites } from '../auth/httpHardening';
import { remoteJwksResolver, staticJwksResolver } from '../auth/jwksKeys';
import { readAuditGate } from '../auth/readAuditGate';
import { ReadAuditTrail } from '../auth/readAuditTrail';
import type { KeyResolver } from '../auth/jwtVerification';
import type { SigningKey } from '../auth/signingKey';
import type { PublicClient, RegisteredClient } from '../authServer/registeredClients';
import { smartAuthServer } from '../authServer/smartAuthServer';
import type { FhirClient } from '../fhir/fhirClient';
import type { DoorOptions } from './app';

/** Where the local authorization server lives on this server. */
export const AUTH_PATH = '/auth';
/** Where the SMART app's static files are served. */
export const APP_PATH = '/app';
/** The SMART app's client id (app/src/config.ts CLIENT_ID). */
export const TWIN_APP_CLIENT_ID = 'recovery-twin-app';

/** The bundled SMART app's registration with the local authorization server. */
export function twinAppClient(origin: string): PublicClient {
  return {
    type: 'public',
    clientId: TWIN_APP_CLIENT_ID,
    name: 'Recovery twin',
    redirectUris: [`${origin}${APP_PATH}/index.html`],
    launchUrl: `${origin}${APP_PATH}/launch.html`,
    allowedScopes:
      'launch launch/patient openid fhirUser online_access offline_access patient/*.rs patient/CarePlan.u patient/Task.u user/Task.rs user/Patient.rs user/Practitioner.r',
  };
}

/**
 * How the FHIR API is protected:
 * - `local`: the embedded SMART authorization server issues tokens and the API verifies them (the embedded default);
 * - `external`: a hospital's authorization server (issuer + JWKS URL) issues them; no local one is served;
 * - `open`: no token needed, for the local demo on loopback only.
 */
export type AuthMode =
  | {
      readonly kind: 'local';
      readonly signingKey: SigningKey;
      readonly clients: readonly RegisteredClient[];
      readonly loginPasscode?: string;
    }
  | { readonly kind: 'external'; readonly issuer: string; readonly jwksUrl: string }
  | { readonly kind: 'open' };

export interface ClinicianDoorConfig {
  /** e.g. http://127.0.0.1:8080 */
  readonly origin: string;
  /** e.g. /fhir/R4 */
  readonly fhirBasePath: string;
  readonly auth: AuthMode;
  /** Host header values answered besides the origin's own host. */
  readonly extraHosts?: readonly string[];
  /** Browser origins allowed cross-origin (SMART apps served elsewhere, EHR front ends). */
  readonly allowedOrigins?: readonly string[];
  /** Origins allowed to frame the app (the EHRs). */
  readonly frameAncestors?: readonly string[];
  /** Paths (relative to the FHIR base) of the Bulk export status and files. */
  readonly bulkPaths?: readonly string[];
  /** Other routers to mount (CDS Hooks, the SMART app's static files), built by the caller. */
  readonly mounts?: readonly RequestHandler[];
  /** Folder of the built SMART app (`npm run build` writes dist/app), served at APP_PATH with the app's CSP. */
  readonly appDir?: string;
  /** How often the read audit trail writes its AuditEvents (ms; default 5000; 0 = only on flush and shutdown). */
  readonly auditFlushMs?: number;
}

export interface ClinicianDoorWorld {
  readonly client: FhirClient;
  readonly now: () => Date;
  /** For the audit trail's failed-flush line (never health data). */
  readonly log?: (line: string) => void;
}

export interface ClinicianDoor {
  readonly door: DoorOptions;
  /** Lines for the start-up log (never a secret). */
  readonly startupLines: readonly string[];
  /** Who read which patient's record (absent when the API is open: there is no authenticated user to name). */
  readonly auditTrail?: ReadAuditTrail;
  /** Writes what the audit trail still holds; the server calls it on shutdown, before the store closes. */
  close(): Promise<void>;
}

/** Assembles the door for `createApp`: hardening, the local authorization server when configured, and the guards. */
export function assembleClinicianDoor(config: ClinicianDoorConfig, world: ClinicianDoorWorld): ClinicianDoor {
  const fhirBaseUrl = `${config.origin}${config.fhirBasePath}`;
  const host = new URL(config.origin).host;
  const hardening = httpHardening({
    allowedHosts: [host, ...(config.extraHosts ?? [])],
    allowedOrigins: config.allowedOrigins ?? [],
    frameAncestors: config.frameAncestors ?? [],
    noStorePaths: [config.fhirBasePath, AUTH_PATH, '/cds-services'],
    corsExemptPaths: ['/cds-services'],
    ...(config.appDir ? { appPath: APP_PATH } : {}),
  });
  const mounts: RequestHandler[] = [...(config.mounts ?? [])];
  if (config.appDir) {
    const app = express.Router();
    // Static files only; no directory listing, no dotfiles; `fallthrough: false` answers 404 here.
    app.use(
      APP_PATH,
      express.static(config.appDir, { index: 'index.html', dotfiles: 'deny', fallthrough: false, maxAge: 0 })
    );
    mounts.push(app);
  }
  const startupLines: string[] = [];
  let issuer: string;
  let resolveKey: KeyResolver;
  switch (config.auth.kind) {
    case 'open':
      startupLines.push(
        '*** WARNING: the FHIR API is OPEN: no access token is needed to read or write health data. ***',
        '*** Local demo on loopback only. Configure an authorization server before exposing this server. ***'
      );
      return {
        door: { hardening, mounts, fhirGuard: [requireJsonForWrites()] },
        startupLines,
        close: () => Promise.resolve(),
      };
    case 'local': {
      issuer = `${config.origin}${AUTH_PATH}`;
      const { signingKey } = config.auth;
      resolveKey = staticJwksResolver(new Map([[issuer, { keys: [signingKey.publicJwk] }]]));
      mounts.unshift(
        smartAuthServer({
          issuer,
          issuerPath: AUTH_PATH,
          fhirBaseUrl,
          fhirBasePath: config.fhirBasePath,
          signingKey,
          clients: config.auth.clients,
          client: world.client,
          now: world.now,
          ...(config.auth.loginPasscode !== undefined ? { loginPasscode: config.auth.loginPasscode } : {}),
        })
      );
      startupLines.push(
        `SMART authorization server: ${issuer} (discovery: ${fhirBaseUrl}/.well-known/smart-configuration)`
      );
      startupLines.push(`EHR launch simulator:       ${issuer}/launcher`);
      break;
    }
    case 'external':
      issuer = config.auth.issuer;
      resolveKey = remoteJwksResolver({ jwksUrlByIssuer: new Map([[issuer, config.auth.jwksUrl]]), now: world.now });
      startupLines.push(`FHIR API tokens verified against ${issuer} (JWKS ${config.auth.jwksUrl})`);
      break;
  }
  const verify = createAccessTokenVerifier({ issuers: [issuer], audience: fhirBaseUrl, resolveKey, now: world.now });
  const auditTrail = new ReadAuditTrail(
    { client: world.client, now: world.now, ...(world.log ? { log: world.log } : {}) },
    config.auditFlushMs !== undefined ? { flushEveryMs: config.auditFlushMs } : {}
  );
  startupLines.push('Read audit trail: one AuditEvent per user, patient, day and interaction (patients see theirs)');
  return {
    door: {
      hardening,
      mounts,
      fhirGuard: [
        requireJsonForWrites(),
        fhirAccessGuard({ verify, client: world.client, ...(config.bulkPaths ? { bulkPaths: config.bulkPaths } : {}) }),
        readAuditGate(auditTrail, config.bulkPaths ?? []),
      ],
      afterBody: [patientBodyGuard()],
    },
    startupLines,
    auditTrail,
    close: () => auditTrail.close(),
  };
}
