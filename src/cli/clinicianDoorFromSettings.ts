import type { FhirRepository, FhirRouter } from '@medplum/fhir-router';
import type { Practitioner } from '@medplum/fhirtypes';
import { InvalidArgumentError } from 'commander';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { TrustedCdsClient } from '../cdsHooks/cdsClientAuth';
import { jsonlFeedbackRecorder } from '../cdsHooks/cdsFeedback';
import { cdsHooksService } from '../cdsHooks/cdsHooksService';
import { loadOrCreateSigningKey } from '../auth/signingKey';
import type { BackendClient } from '../authServer/registeredClients';
import type { FhirClient } from '../fhir/fhirClient';
import { LocalFhirClient } from '../fhir/localFhirClient';
import { packageRoot } from '../fhir/packageRoot';
import {
  APP_PATH,
  assembleClinicianDoor,
  AUTH_PATH,
  twinAppClient,
  type AuthMode,
  type ClinicianDoor,
} from '../server/clinicianDoor';
import { FHIR_BASE_PATH } from '../server/app';

/** The door's settings, from flags or the environment (README "The clinician's door"). */
export interface DoorSettings {
  /** local (default): the embedded SMART authorization server; external: a hospital's; open: no tokens (loopback). */
  readonly auth: 'local' | 'external' | 'open';
  readonly issuer?: string;
  readonly jwksUrl?: string;
  readonly allowedOrigins: readonly string[];
  readonly frameAncestors: readonly string[];
  /** Host header values answered besides the server's own (a DNS name in front of it). */
  readonly extraHosts?: readonly string[];
  readonly loginPasscode?: string;
  /** JSON: `[{"iss": "...", "jwksUrl": "..."}]`, the EHRs whose CDS Hooks calls are trusted. */
  readonly cdsClients?: string;
  /**
   * JSON: `[{"clientId": "...", "jwksUrl": "..." | "jwks": {...}, "allowedScopes": "system/*.rs"}]`, services that get
   * tokens with client_credentials and a private_key_jwt assertion (SMART Backend Services).
   */
  readonly backendClients?: string;
}

export function parseAuthMode(value: string): DoorSettings['auth'] {
  if (value !== 'local' && value !== 'external' && value !== 'open') {
    throw new InvalidArgumentError('one of local, external, open');
  }
  return value;
}

export function parseList(value: string | undefined): string[] {
  return (value ?? '')
    .split(/[\s,]+/)
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}

function isLoopback(host: string): boolean {
  return host === '127.0.0.1' || host === 'localhost' || host === '::1' || host.startsWith('127.');
}

/** Identifier system of the demo practitioner the EHR-launch simulator signs in as. */
const DEMO_PRACTITIONER_SYSTEM = 'https://recovery-twin.dev/fhir/NamingSystem/demo-practitioner';

/** The local demo needs someone to sign in as: one demo Practitioner, created once (conditional on its identifier). */
async function ensureDemoPractitioner(repo: FhirRepository): Promise<void> {
  const existing = await repo.searchOne<Practitioner>({
    resourceType: 'Practitioner',
    filters: [{ code: 'identifier', operator: 'eq', value: `${DEMO_PRACTITIONER_SYSTEM}|demo-clinician` }],
  });
  if (!existing) {
    await repo.createResource<Practitioner>({
      resourceType: 'Practitioner',
      identifier: [{ system: DEMO_PRACTITIONER_SYSTEM, value: 'demo-clinician' }],
      name: [{ text: 'Demo clinician (local simulator)' }],
    });
  }
}

function backendClientsOf(json: string | undefined): BackendClient[] {
  if (!json) {
    return [];
  }
  const parsed = JSON.parse(json) as Array<Omit<BackendClient, 'type' | 'name'> & { name?: string }>;
  return parsed.map((c) => {
    if (!c.clientId || (!c.jwks && !c.jwksUrl) || !c.allowedScopes) {
      throw new InvalidArgumentError('each backend client needs clientId, jwks or jwksUrl, and allowedScopes');
    }
    return { ...c, type: 'backend', name: c.name ?? c.clientId };
  });
}

/**
 * Builds the clinician's door for `twin serve`: hardening, the local authorization server (signing key kept in
 * `<dataDir>/auth/`), the SMART app from dist/app, CDS Hooks, and the FHIR guards. `open` is refused off loopback.
 */
export async function clinicianDoorFromSettings(
  settings: DoorSettings,
  context: {
    origin: string;
    host: string;
    dataDir: string;
    repo: FhirRepository;
    router: FhirRouter;
    log: (line: string) => void;
    /** Where the patient data is when it is not this server's store (the engine service, `twin serve --fhir`). */
    client?: FhirClient;
  }
): Promise<ClinicianDoor> {
  const now = (): Date => new Date();
  const client = context.client ?? new LocalFhirClient(context.repo, context.router);
  let auth: AuthMode;
  switch (settings.auth) {
    case 'open':
      if (!isLoopback(context.host)) {
        throw new InvalidArgumentError('--auth open is for the local demo on loopback only; bind 127.0.0.1');
      }
      auth = { kind: 'open' };
      break;
    case 'external':
      if (!settings.issuer || !settings.jwksUrl) {
        throw new InvalidArgumentError('--auth external needs --auth-issuer and --auth-jwks-url');
      }
      auth = { kind: 'external', issuer: settings.issuer, jwksUrl: settings.jwksUrl };
      break;
    case 'local': {
      const { key, created } = loadOrCreateSigningKey(context.dataDir);
      context.log(
        `Authorization: ${created ? 'generated a new' : 'loaded the'} signing key (kid ${key.kid}) in ${join(context.dataDir, 'auth')}`
      );
      await ensureDemoPractitioner(context.repo);
      auth = {
        kind: 'local',
        signingKey: key,
        clients: [twinAppClient(context.origin), ...backendClientsOf(settings.backendClients)],
        ...(settings.loginPasscode ? { loginPasscode: settings.loginPasscode } : {}),
      };
      break;
    }
  }
  const trusted = settings.cdsClients ? (JSON.parse(settings.cdsClients) as TrustedCdsClient[]) : [];
  const appDir = join(packageRoot(), 'dist', 'app');
  const hasApp = existsSync(join(appDir, 'index.html'));
  const cds = cdsHooksService({
    origin: context.origin,
    fhirBaseUrl: `${context.origin}${FHIR_BASE_PATH}`,
    appLaunchUrl: `${context.origin}${APP_PATH}/launch.html`,
    trustedClients: trusted,
    client,
    now,
    recordFeedback: jsonlFeedbackRecorder(join(context.dataDir, 'cds-feedback.jsonl')),
  });
  const door = assembleClinicianDoor(
    {
      origin: context.origin,
      fhirBasePath: FHIR_BASE_PATH,
      auth,
      allowedOrigins: settings.allowedOrigins,
      frameAncestors: settings.frameAncestors,
      ...(settings.extraHosts ? { extraHosts: settings.extraHosts } : {}),
      mounts: [cds],
      ...(hasApp ? { appDir } : {}),
    },
    { client, now, log: context.log }
  );
  const lines = [...door.startupLines];
  lines.push(
    hasApp
      ? `SMART app:                  ${context.origin}${APP_PATH}/launch.html`
      : 'SMART app: not built (npm run build)'
  );
  lines.push(
    `CDS Hooks:                  ${context.origin}/cds-services (${trusted.length} trusted EHR issuer${trusted.length === 1 ? '' : 's'})`
  );
  if (settings.auth === 'local' && hasApp) {
    lines.push(
      `Open the app for a seeded patient: ${context.origin}${AUTH_PATH}/launcher (sign in, pick a patient, Launch)`
    );
    lines.push(
      `The patient's own page:     ${context.origin}${APP_PATH}/patient-launch.html?iss=${encodeURIComponent(`${context.origin}${FHIR_BASE_PATH}`)} (sign in as a seeded patient)`
    );
  }
  return { ...door, startupLines: lines };
}
