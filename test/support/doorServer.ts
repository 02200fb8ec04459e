import { FhirRouter, MemoryRepository } from '@medplum/fhir-router';
import type { FhirRepository } from '@medplum/fhir-router';
import type { CapabilityStatement, Resource } from '@medplum/fhirtypes';
import type { RequestHandler } from 'express';
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { generateSigningKey, type SigningKey } from '../../src/auth/signingKey';
import type { RegisteredClient } from '../../src/authServer/registeredClients';
import { LocalFhirClient } from '../../src/fhir/localFhirClient';
import { createApp, FHIR_BASE_PATH } from '../../src/server/app';
import { BulkExportService } from '../../src/server/bulk/bulkExportService';
import { buildCapabilityStatement, type ResourceSupport } from '../../src/server/capabilityStatement';
import type { ReadAuditTrail } from '../../src/auth/readAuditTrail';
import { assembleClinicianDoor, AUTH_PATH, type AuthMode } from '../../src/server/clinicianDoor';

/** The types the door tests use, with what MemoryRepository really does. */
const DOOR_TYPES = [
  'Patient',
  'Observation',
  'Practitioner',
  'CarePlan',
  'Task',
  'RiskAssessment',
  'PlanDefinition',
  'ServiceRequest',
  'Provenance',
  'AuditEvent',
] as const;

function capabilityStatement(baseUrl: string): CapabilityStatement {
  const resources: ResourceSupport[] = DOOR_TYPES.map((type) => ({
    type,
    interactions: ['read', 'vread', 'update', 'delete', 'history-instance', 'create', 'search-type'],
    searchParams: [
      { name: '_id', type: 'token' },
      { name: 'patient', type: 'reference' },
      { name: 'subject', type: 'reference' },
    ],
    versioning: 'versioned-update',
    conditionalCreate: true,
    conditionalUpdate: true,
  }));
  return buildCapabilityStatement({
    baseUrl,
    software: { name: 'recovery-twin', version: '0.0.0-test' },
    resources,
    systemInteractions: ['transaction', 'batch'],
    formats: ['application/fhir+json', 'json'],
    clock: () => new Date('2025-01-02T03:04:05.000Z'),
  });
}

export interface DoorServer {
  readonly origin: string;
  readonly baseUrl: string;
  readonly issuer: string;
  readonly repo: FhirRepository;
  readonly router: FhirRouter;
  readonly signingKey: SigningKey;
  readonly logLines: string[];
  readonly startupLines: readonly string[];
  /** The server's clock; tests move it. */
  clock: { now: Date };
  /** The door's read audit trail (written only when a test flushes it, or on close). */
  readonly auditTrail?: ReadAuditTrail;
  close(): Promise<void>;
}

export interface DoorServerOptions {
  readonly clients?: (origin: string) => RegisteredClient[];
  readonly mounts?: (
    origin: string,
    world: { repo: FhirRepository; router: FhirRouter; now: () => Date }
  ) => RequestHandler[];
  readonly configureRouter?: (router: FhirRouter, now: () => Date) => void;
  readonly allowedOrigins?: readonly string[];
  readonly auth?: 'local' | 'open';
  readonly seed?: readonly Resource[];
  readonly loginPasscode?: string;
  readonly appDir?: string;
  readonly repo?: FhirRepository;
  readonly router?: FhirRouter;
  readonly log?: (line: string) => void;
  /** Serve Bulk export with job files in this folder. */
  readonly bulkDir?: string;
}

/** The real app with the clinician's door on an ephemeral loopback port, over a MemoryRepository. */
export async function startDoorServer(options: DoorServerOptions = {}): Promise<DoorServer> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  const origin = `http://127.0.0.1:${port}`;
  const baseUrl = `${origin}${FHIR_BASE_PATH}`;
  const repo = options.repo ?? new MemoryRepository();
  const router = options.router ?? new FhirRouter();
  const clock = { now: new Date() };
  const now = (): Date => clock.now;
  options.configureRouter?.(router, now);
  for (const resource of options.seed ?? []) {
    await repo.updateResource(resource);
  }
  const signingKey = generateSigningKey();
  const auth: AuthMode =
    options.auth === 'open'
      ? { kind: 'open' }
      : {
          kind: 'local',
          signingKey,
          clients: options.clients?.(origin) ?? [],
          ...(options.loginPasscode !== undefined ? { loginPasscode: options.loginPasscode } : {}),
        };
  const assembled = assembleClinicianDoor(
    {
      origin,
      fhirBasePath: FHIR_BASE_PATH,
      auth,
      allowedOrigins: options.allowedOrigins ?? [],
      frameAncestors: ['https://ehr.example'],
      mounts: options.mounts?.(origin, { repo, router, now }) ?? [],
      ...(options.appDir ? { appDir: options.appDir } : {}),
      // Tests flush the audit trail themselves: nothing depends on a timer.
      auditFlushMs: 0,
    },
    { client: new LocalFhirClient(repo, router), now }
  );
  const { door, startupLines } = assembled;
  const logLines: string[] = [];
  const bulkExport = options.bulkDir ? await BulkExportService.open(repo, { dir: options.bulkDir, now }) : undefined;
  server.on(
    'request',
    createApp({
      repo,
      router,
      baseUrl,
      capabilityStatement: capabilityStatement(baseUrl),
      isReady: () => true,
      log: (line) => {
        logLines.push(line);
        options.log?.(line);
      },
      door,
      ...(bulkExport ? { bulkExport } : {}),
    })
  );
  return {
    origin,
    baseUrl,
    issuer: `${origin}${AUTH_PATH}`,
    repo,
    router,
    signingKey,
    logLines,
    startupLines,
    clock,
    ...(assembled.auditTrail ? { auditTrail: assembled.auditTrail } : {}),
    close: async (): Promise<void> => {
      server.closeAllConnections();
      server.close();
      await once(server, 'close');
      await assembled.close();
      await bulkExport?.close();
    },
  };
}
