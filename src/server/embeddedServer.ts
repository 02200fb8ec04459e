import { FhirRouter } from '@medplum/fhir-router';
import type { FhirRepository } from '@medplum/fhir-router';
import type { OperationDefinition } from '@medplum/fhirtypes';
import { once } from 'node:events';
import { createServer } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { checkLearnedDetector, type LearnedDetectorStatus } from '../detect/lstm/learnedDetectorCheck';
import type { EngineMetrics } from '../ops/engineMetrics';
import type { ReadinessCheck } from './health';
import { createPrometheusMetrics, type PrometheusMetrics } from './prometheusMetrics';
import { learnedDetectorCheck, remoteFhirCheck, storeCheck } from './readinessChecks';
import { createApp, FHIR_BASE_PATH } from './app';
import type { ClinicianDoor } from './clinicianDoor';
import { BulkExportService, type BulkExportOptions } from './bulk/bulkExportService';
import { buildCapabilityStatement } from './capabilityStatement';
import type { ResourceSupport, SystemInteraction } from './capabilityStatement';
import { engineServiceSupports } from './engineServiceSupport';
import { assertMountable, type DoorMount } from './doorMount';
import { BULK_EXPORT_DECLARATIONS } from './operations/bulkExportDeclarations';
import {
  operationsByType,
  registerOperations,
  type OperationDeclaration,
  type OperationModule,
} from './operations/operationModule';
import type { ServerLimits } from './serverLimits';
import { internalFault } from '../fhir/outcomes';
import type { FileCipher } from '../store/sealedFile';

/** A repository opened on a data directory, with the truth about what it supports. */
export interface OpenedRepository {
  readonly repo: FhirRepository;
  close(): void | Promise<void>;
  /** Per resource type: interactions and search parameters the store really implements. */
  readonly supports: readonly ResourceSupport[];
  /** System interactions the store implements; defaults to ['batch'] (the router runs batch entries one by one). */
  readonly systemInteractions?: readonly SystemInteraction[];
  /** A router with the store's own handlers (e.g. atomic transactions); defaults to a plain FhirRouter. */
  readonly router?: FhirRouter;
  /** An encrypted store's cipher for Bulk Data export files: they are then sealed at rest with the store's key. */
  readonly exportFiles?: FileCipher;
}

export interface OpenRepositoryContext {
  /** The public FHIR base URL. Known only once the server listens (port 0), hence a function. */
  readonly baseUrl: () => string;
  /** `--store-key-file`: a file holding the store key (src/store/storeKey.ts). */
  readonly storeKeyFile?: string;
}

export type OpenRepository = (dataDir: string, context: OpenRepositoryContext) => Promise<OpenedRepository>;
/** Loads the seed into the repository, through the same router the server uses. */
export type SeedRepository = (repo: FhirRepository, router: FhirRouter) => Promise<void | SeedFollowUp>;

/**
 * Work a seed loader leaves to run after the server is ready (the demo's derivation of twins and proposals): started
 * once /healthz says ready, aborted and awaited on shutdown before the store closes, so it never writes to a closed
 * store and never holds readiness back.
 */
export interface SeedFollowUp {
  readonly background: (signal: AbortSignal) => Promise<void>;
}

export interface StartServerOptions {
  readonly port: number;
  readonly host: string;
  readonly dataDir: string;
  readonly seed: boolean;
  readonly openRepository: OpenRepository;
  readonly seedRepository?: SeedRepository;
  readonly version?: string;
  readonly bodyLimit?: string;
  readonly log?: (line: string) => void;
  readonly clock?: () => Date;
  /** Serve Bulk Data $export; job records and files go to `dir` (default `<dataDir>/bulk`). Off when omitted. */
  readonly bulkExport?: Partial<BulkExportOptions>;
  /**
   * Folder of the learned detector's model (model-card.json + ONNX file), checked before anything else starts: a
   * model that does not match its card refuses the start; no folder means the detector is not installed. No check
   * when omitted (tests that do not concern the model).
   */
  readonly learnedModelDir?: string;
  /**
   * FHIR operations served through the router (src/server/operations/registry.ts). Each is routed, declared in the
   * CapabilityStatement on its resource types, and its OperationDefinition is published in the store.
   */
  readonly operations?: readonly OperationModule[];
  /** Non-FHIR doors (SMART authorization, CDS Hooks, the app's static files), mounted outside the FHIR base. */
  readonly mounts?: readonly DoorMount[];
  /** Bounds on request work (bundle entries, JSON depth, search values); defaults in src/server/serverLimits.ts. */
  readonly limits?: Partial<ServerLimits>;
  /**
   * This server's metrics (src/server/prometheusMetrics.ts), served at /metrics; the caller passes the same object's
   * `metrics` to the operations and jobs it wires, so they count into it. Default: a fresh registry of its own,
   * without the process metrics.
   */
  readonly metrics?: PrometheusMetrics;
  /** A remote FHIR server the engine also works on: /readyz checks its GET [base]/metadata within `timeoutMs`. */
  readonly remoteFhir?: { readonly baseUrl: string; readonly timeoutMs: number };
  /** More dependencies /readyz checks (e.g. the queue's Redis). */
  readonly readiness?: readonly ReadinessCheck[];
  /** The clinician's door (auth, hardening, SMART app, CDS Hooks); without it the FHIR API is OPEN and says so. */
  readonly door?: (context: { origin: string; repo: FhirRepository; router: FhirRouter }) => Promise<ClinicianDoor>;
  /**
   * The engine service mode (`twin serve --fhir URL`): the patient data is on that FHIR server, which the operations
   * (given a client for it) read and write. This server then declares and serves its operations only (no resource
   * interactions on patient data, no batch/transaction, no Bulk export, no seed); the local store keeps only what the
   * engine publishes itself (its OperationDefinitions).
   */
  readonly engineServiceFor?: string;
  /** `--store-key-file`, handed to openRepository. */
  readonly storeKeyFile?: string;
  /** PEM certificate chain and private key: the server then speaks HTTPS only (node:https). */
  readonly tls?: { readonly cert: Buffer; readonly key: Buffer };
}

export interface RunningServer {
  /** e.g. http://127.0.0.1:8080 */
  readonly origin: string;
  /** e.g. http://127.0.0.1:8080/fhir/R4 */
  readonly baseUrl: string;
  /** The store and router the server serves, for engine work in the same process (the scheduled automation). */
  readonly repo: FhirRepository;
  readonly router: FhirRouter;
  /** What this server's /metrics counts (the same registry as `options.metrics` when given). */
  readonly metrics: EngineMetrics;
  /** Stops accepting requests, lets in-flight ones finish, then closes the store. Safe to call twice. */
  close(): Promise<void>;
}

/** Connections still open this long after close() are cut, so a stuck client cannot hold shutdown forever. */
const SHUTDOWN_GRACE_MS = 5000;

/** FHIR JSON formats this server reads and writes: FHIR R4 http.html#mime-type ('json' is the R4 shorthand). */
const FORMATS = ['application/fhir+json', 'json'] as const;

function hostForUrl(host: string): string {
  if (host === '0.0.0.0' || host === '::') {
    return 'localhost';
  }
  return host.includes(':') ? `[${host}]` : host;
}

/**
 * Opens the store, starts listening, then seeds; /healthz says 503 until seeding is done, so a client or CI
 * can tell "starting" from "ready". The store and the seeding are injected: tests pass a MemoryRepository.
 */
export async function startServer(options: StartServerOptions): Promise<RunningServer> {
  const log = options.log ?? ((line: string): void => console.log(line));
  for (const mount of options.mounts ?? []) {
    assertMountable(mount, FHIR_BASE_PATH); // before anything opens: a bad mount leaves nothing half-started
  }
  let learned: LearnedDetectorStatus | undefined;
  if (options.learnedModelDir !== undefined) {
    // Before the store opens or the port is bound: a refused model leaves nothing half-started.
    learned = await checkLearnedDetector(options.learnedModelDir, log);
  }
  // Without a registry from the caller, no process metrics: a test process may start hundreds of servers, and the
  // process is the same for all of them. `twin serve` passes its own, with them.
  const prometheus = options.metrics ?? createPrometheusMetrics({ processMetrics: false });
  let baseUrl = '';
  const opened = await options.openRepository(options.dataDir, {
    baseUrl: (): string => {
      if (!baseUrl) {
        throw internalFault('The FHIR base URL is not known before the server listens');
      }
      return baseUrl;
    },
    ...(options.storeKeyFile ? { storeKeyFile: options.storeKeyFile } : {}),
  });
  let server: ReturnType<typeof createServer> | ReturnType<typeof createTlsServer>;
  try {
    server = options.tls ? createTlsServer({ cert: options.tls.cert, key: options.tls.key }) : createServer();
  } catch (err) {
    // A certificate and key that do not load or do not match: refused before anything listens.
    await opened.close();
    throw err;
  }
  let ready = false;
  let closing: Promise<void> | undefined;

  let bulkExport: BulkExportService | undefined;
  const closeStore = async (): Promise<void> => {
    // Running exports read the store: stop them first.
    await bulkExport?.close();
    await opened.close();
  };

  try {
    server.listen(options.port, options.host);
    await once(server, 'listening');
  } catch (err) {
    await closeStore();
    throw err;
  }

  const { port } = server.address() as AddressInfo;
  const origin = `${options.tls ? 'https' : 'http'}://${hostForUrl(options.host)}:${port}`;
  baseUrl = `${origin}${FHIR_BASE_PATH}`;
  if (options.bulkExport && !options.engineServiceFor) {
    try {
      bulkExport = await BulkExportService.open(opened.repo, {
        dir: join(options.dataDir, 'bulk'),
        log,
        ...(opened.exportFiles ? { exportFiles: opened.exportFiles } : {}),
        ...options.bulkExport,
      });
    } catch (err) {
      server.close();
      await closeStore();
      throw err;
    }
  }
  const router = opened.router ?? new FhirRouter();
  const operations = options.operations ?? [];
  registerOperations(router, operations);
  const declarations: OperationDeclaration[] = [...operations, ...(bulkExport ? BULK_EXPORT_DECLARATIONS : [])];
  const resources = withOperations(
    options.engineServiceFor ? engineServiceSupports(opened.supports, declarations) : opened.supports,
    declarations
  );
  let door: ClinicianDoor | undefined;
  try {
    door = await options.door?.({ origin, repo: opened.repo, router });
  } catch (err) {
    server.close();
    await closeStore();
    throw err;
  }
  const openWarning = [
    '*** WARNING: the FHIR API is OPEN: no access token is needed to read or write health data. ***',
    '*** Local demo on loopback only (twin serve --auth local is the default). ***',
  ];
  const supportsPatch = resources.some((r) => r.interactions.includes('patch'));
  const capabilityStatement = buildCapabilityStatement({
    baseUrl,
    software: { name: 'recovery-twin', version: options.version ?? '0.0.0' },
    resources,
    systemInteractions: options.engineServiceFor ? [] : (opened.systemInteractions ?? ['batch']),
    formats: [...FORMATS],
    ...(supportsPatch ? { patchFormats: ['application/json-patch+json'] } : {}),
    clock: options.clock ?? ((): Date => new Date()),
  });
  server.on(
    'request',
    createApp({
      repo: opened.repo,
      router,
      baseUrl,
      capabilityStatement,
      isReady: () => ready,
      readiness: [
        storeCheck(opened.repo, opened.supports[0]?.type),
        ...(options.remoteFhir ? [remoteFhirCheck(options.remoteFhir.baseUrl, options.remoteFhir.timeoutMs)] : []),
        learnedDetectorCheck(learned, options.learnedModelDir),
        ...(options.readiness ?? []),
      ],
      metricsHandler: prometheus.handler,
      log,
      operations: declarations,
      mounts: options.mounts ?? [],
      ...(door ? { door: door.door } : {}),
      ...(options.limits ? { limits: options.limits } : {}),
      ...(options.bodyLimit ? { bodyLimit: options.bodyLimit } : {}),
      ...(bulkExport ? { bulkExport } : {}),
      ...(options.engineServiceFor ? { dataElsewhere: options.engineServiceFor } : {}),
    })
  );

  const followUpStop = new AbortController();
  let followUp: Promise<void> = Promise.resolve();
  let seedFollowUp: SeedFollowUp | void = undefined;

  const close = (): Promise<void> => {
    closing ??= (async (): Promise<void> => {
      ready = false;
      const closed = once(server, 'close');
      server.close();
      server.closeIdleConnections();
      const cut = setTimeout(() => server.closeAllConnections(), SHUTDOWN_GRACE_MS);
      cut.unref();
      await closed;
      clearTimeout(cut);
      followUpStop.abort();
      await followUp;
      // The door's audit trail writes what it still holds while the store is open.
      await door?.close();
      await closeStore();
    })();
    return closing;
  };

  log(`FHIR R4 base:   ${baseUrl}`);
  log(`Metadata:       ${baseUrl}/metadata`);
  log(`Health:         ${origin}/healthz`);
  log(`Readiness:      ${origin}/readyz`);
  log(`Metrics:        ${origin}/metrics (Prometheus; keep it off public networks)`);
  log(`Data directory: ${options.dataDir}`);
  for (const mount of options.mounts ?? []) {
    log(`${(mount.description ?? 'Door').padEnd(15)} ${origin}${mount.path}`);
  }
  for (const line of door ? door.startupLines : openWarning) {
    log(line);
  }

  try {
    await publishOperationDefinitions(
      opened.repo,
      operations.map((op) => op.operationDefinition),
      resources
    );
    if (options.engineServiceFor) {
      log(`Engine service: the patient data is on ${options.engineServiceFor}; this server serves its operations`);
    } else if (!options.seed) {
      log('Seeding: skipped (--no-seed)');
    } else if (options.seedRepository) {
      log('Seeding: loading the synthetic cohort...');
      seedFollowUp = await options.seedRepository(opened.repo, router);
      log('Seeding: done');
    } else {
      log('Seeding: no seed loader is wired in; serving the store as it is');
    }
  } catch (err) {
    await close();
    throw err;
  }
  ready = true;
  log('Ready.');
  if (seedFollowUp) {
    followUp = seedFollowUp.background(followUpStop.signal).catch((err: unknown) => {
      // The name only: a message can quote the resource it failed on.
      log(`Seed follow-up stopped: ${err instanceof Error ? err.name : 'error'}`);
    });
  }
  return { origin, baseUrl, repo: opened.repo, router, metrics: prometheus.metrics, close };
}

/** The store's own support list, with each declared operation on the resource types it is defined on. */
function withOperations(
  supports: readonly ResourceSupport[],
  declarations: readonly OperationDeclaration[]
): ResourceSupport[] {
  // An operation on a type the store does not serve is not declared (and its requests meet the resource-type gate).
  const byType = operationsByType(declarations);
  return supports.map((r) => {
    const ops = byType.get(r.type);
    return ops ? { ...r, operations: [...(r.operations ?? []), ...ops] } : r;
  });
}

/**
 * Makes every OperationDefinition the CapabilityStatement names by the server's own canonical readable on the server
 * (`GET OperationDefinition/{id}`, `GET OperationDefinition?url=...`). An update with the same content writes no new
 * version (src/store/sqliteRepository.ts), so a restart leaves the store as it was.
 */
async function publishOperationDefinitions(
  repo: FhirRepository,
  definitions: readonly OperationDefinition[],
  resources: readonly ResourceSupport[]
): Promise<void> {
  if (!resources.some((r) => r.type === 'OperationDefinition')) {
    return;
  }
  for (const definition of definitions) {
    await repo.updateResource(definition);
  }
}
