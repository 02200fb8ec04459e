import { FhirRouter } from '@medplum/fhir-router';
import type { FhirRepository, FhirRequestConfig, FhirResponse } from '@medplum/fhir-router';
import type { CapabilityStatement } from '@medplum/fhirtypes';
import express from 'express';
import type { Express, NextFunction, Request, RequestHandler, Response } from 'express';
import { bulkExportRoutes } from './bulk/bulkExportRoutes';
import type { BulkExportService } from './bulk/bulkExportService';
import { loadBaseDefinitions } from '../fhir/definitions';
import { bodyParsers, DEFAULT_BODY_LIMIT, requireResourceBody, requireSupportedContentType } from './bodyParsing';
import { acceptGate } from './acceptGate';
import { bundleInteractionGate } from './bundleInteractionGate';
import { assertMountable, type DoorMount } from './doorMount';
import { ifMatchGate } from './ifMatchGate';
import { operationGate } from './operationGate';
import type { OperationDeclaration } from './operations/operationModule';
import { searchQueryGate } from './searchQueryGate';
import { DEFAULT_SERVER_LIMITS, type ServerLimits } from './serverLimits';
import { answerUpdateAsCreateWith201 } from './updateCreateStatus';
import { declaredResourceTypes, declaredSystemInteractions } from './capabilityStatement';
import { errorHandler, notFoundHandler } from './errorHandler';
import { toFhirRequest } from './fhirRequest';
import { sendFhirJson, sendFhirResponse } from './fhirResponse';
import { healthHandler, readinessHandler, type ReadinessCheck } from './health';
import { shapeResult, shapingOf } from './resultShaping';
import { requestLog } from './requestLog';
import { withRepositoryErrorBoundary } from './repositoryErrorBoundary';
import { interactionGate } from './interactionGate';
import { resourceTypeGate } from './resourceTypeGate';

/** Where the FHIR R4 endpoint is mounted; the FHIR base URL is `<origin>/fhir/R4`. */
export const FHIR_BASE_PATH = '/fhir/R4';

export interface AppOptions {
  /** Any FhirRepository: the durable store, or MemoryRepository in tests. */
  readonly repo: FhirRepository;
  /** Defaults to a plain `new FhirRouter()`; pass one to add operations. */
  readonly router?: FhirRouter;
  /** The FHIR base URL clients use, e.g. http://localhost:8080/fhir/R4 (used for Location headers). */
  readonly baseUrl: string;
  /** Served at /metadata; its resource types and system interactions also decide what is routed. */
  readonly capabilityStatement: CapabilityStatement;
  /** 200 on /healthz when true, 503 otherwise. */
  readonly isReady: () => boolean;
  /** What /readyz checks besides isReady (store, remote FHIR server, models); none: /readyz follows isReady alone. */
  readonly readiness?: readonly ReadinessCheck[];
  /** GET /metrics (Prometheus text format); absent: not served. */
  readonly metricsHandler?: RequestHandler;
  /** Largest accepted request body, in `bytes` syntax ('16mb'). */
  readonly bodyLimit?: string;
  /** One line per request and per unexpected error; never bodies or query strings. Defaults to console.log. */
  readonly log?: (line: string) => void;
  /** Monotonic milliseconds for request durations. Defaults to performance.now. */
  readonly now?: () => number;
  /** When given, Bulk Data `Patient/$export` and `Group/[id]/$export` are served (src/server/bulk/bulkExportRoutes.ts). */
  readonly bulkExport?: BulkExportService;
  /** Operations the server serves (router modules and express-served ones); any other `$name` is answered 404. */
  readonly operations?: readonly OperationDeclaration[];
  /** Non-FHIR doors mounted at their own path outside the FHIR base (src/server/doorMount.ts). */
  readonly mounts?: readonly DoorMount[];
  readonly limits?: Partial<ServerLimits>;
  /** The engine service's FHIR server, named when an interaction on patient data is refused here (`twin serve --fhir`). */
  readonly dataElsewhere?: string;
  /**
   * The clinician's door (src/auth, src/authServer, src/cdsHooks): hardening before every route, routers mounted
   * beside the FHIR API (authorization server, CDS Hooks, the SMART app), and guards in front of the FHIR API.
   * Without it the API answers anyone: the local demo on loopback only, and `twin serve` says so at start.
   */
  readonly door?: DoorOptions;
}

export interface DoorOptions {
  /** Before every route (Host allow-list, security headers, CORS). */
  readonly hardening?: readonly RequestHandler[];
  /** Mounted at the root before the FHIR API; each serves its own paths. */
  readonly mounts?: readonly RequestHandler[];
  /** In front of the FHIR API, after /metadata (which stays public, SMART App Launch "Conformance"). */
  readonly fhirGuard?: readonly RequestHandler[];
  /** After the body is parsed (checks of the resource a request writes). */
  readonly afterBody?: readonly RequestHandler[];
}

/**
 * The embedded FHIR R4 server's HTTP layer. It only converts express <-> FhirRequest/FhirResponse and guards
 * the door (content types, body size, resource types); @medplum/fhir-router and the repository do the FHIR work.
 */
export function createApp(options: AppOptions): Express {
  // The router's search parsing and the resource-type check read @medplum/core's global schema.
  loadBaseDefinitions();
  const router = options.router ?? new FhirRouter();
  answerUpdateAsCreateWith201(router);
  const limits: ServerLimits = { ...DEFAULT_SERVER_LIMITS, ...options.limits };
  const log = options.log ?? ((line: string): void => console.log(line));
  const now = options.now ?? ((): number => performance.now());
  const repo = withRepositoryErrorBoundary(options.repo, log);
  const systemInteractions = declaredSystemInteractions(options.capabilityStatement);
  const requestConfig: FhirRequestConfig = {
    // Atomic transactions only when declared (FHIR R4 http.html#transaction); otherwise the gate rejects them.
    transactions: systemInteractions.has('transaction'),
  };

  const app = express();
  app.disable('x-powered-by');
  // ETags are the resource versionId (FHIR R4 http.html#versioning), not express's hash of the body.
  app.set('etag', false);
  app.use(requestLog(log, now));
  for (const handler of options.door?.hardening ?? []) {
    app.use(handler);
  }
  app.get('/healthz', healthHandler(options.isReady));
  app.get('/readyz', readinessHandler(options.isReady, options.readiness ?? []));
  if (options.metricsHandler) {
    // Unauthenticated like the probes, for the scraper on the hospital network; never route it from the internet.
    app.get('/metrics', options.metricsHandler);
  }
  for (const mount of options.mounts ?? []) {
    assertMountable(mount, FHIR_BASE_PATH);
    app.use(mount.path, mount.handler);
  }
  for (const handler of options.door?.mounts ?? []) {
    app.use(handler);
  }

  const fhir = express.Router();
  fhir.use(acceptGate());
  // FHIR R4 http.html#capabilities
  fhir.get('/metadata', (_req: Request, res: Response): void => {
    sendFhirJson(res, 200, options.capabilityStatement);
  });
  for (const handler of options.door?.fhirGuard ?? []) {
    fhir.use(handler);
  }
  if (options.bulkExport) {
    // Before the gate: the status and file paths are not resource types, and kick-off POSTs carry Parameters.
    fhir.use(bulkExportRoutes(options.bulkExport, options.baseUrl));
  }
  fhir.use(resourceTypeGate(declaredResourceTypes(options.capabilityStatement)));
  fhir.use(interactionGate(options.capabilityStatement, options.dataElsewhere));
  fhir.use(ifMatchGate());
  fhir.use(requireSupportedContentType());
  fhir.use(...bodyParsers(options.bodyLimit ?? DEFAULT_BODY_LIMIT, limits.maxJsonDepth));
  fhir.use(requireResourceBody());
  for (const handler of options.door?.afterBody ?? []) {
    fhir.use(handler);
  }
  // After the door's body guards, so an access decision is never pre-empted by "no such operation".
  fhir.use(
    operationGate(options.operations ?? [], (method, path, name) => routesOperation(router, method, path, name))
  );
  fhir.use(bundleInteractionGate(systemInteractions, limits.maxBundleEntries));
  fhir.use(searchQueryGate(limits));
  fhir.use((req: Request, res: Response, next: NextFunction): void => {
    router
      .handleRequest(toFhirRequest(req, requestConfig), repo)
      .then((response) => sendFhirResponse(req, res, withShaping(response, req.query), options.baseUrl))
      .catch(next);
  });
  app.use(FHIR_BASE_PATH, fhir);

  app.use(notFoundHandler());
  app.use(errorHandler(log));
  return app;
}

/** `_summary` / `_elements` applied to what the router answered (src/server/resultShaping.ts). */
function withShaping(response: FhirResponse, query: Request['query']): FhirResponse {
  const shaping = shapingOf(query);
  const [outcome, resource, responseOptions] = response;
  if (!shaping || !resource) {
    return response;
  }
  const shaped = shapeResult(resource, shaping);
  return responseOptions ? [outcome, shaped, responseOptions] : [outcome, shaped];
}

/**
 * Whether the router has its own route for `$name` at this path (an operation registered directly with router.add).
 * @medplum/fhir-router's built-in `$graphql` is not served: this server does not declare it.
 */
function routesOperation(router: FhirRouter, method: string, path: string, name: string): boolean {
  if (name === 'graphql') {
    return false;
  }
  const found = router.router.routes.find(
    (r) =>
      r.method === method &&
      r.path.some((segment) => !segment.param && segment.value === `$${name}`) &&
      router.find(method as 'GET', path)?.handler === r.handler
  );
  return found !== undefined;
}
