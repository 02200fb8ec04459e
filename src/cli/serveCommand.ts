import { FhirRouter } from '@medplum/fhir-router';
import type { FhirRepository } from '@medplum/fhir-router';
import { InvalidArgumentError } from 'commander';
import type { Command } from 'commander';
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { BulkExportService, type BulkExportOptions } from '../server/bulk/bulkExportService';
import { createApp, FHIR_BASE_PATH } from '../server/app';
import { buildCapabilityStatement } from '../server/capabilityStatement';
import type { ResourceSupport, SystemInteraction } from '../server/capabilityStatement';
import { checkLearnedDetector } from '../detect/lstm/learnedDetectorCheck';
import { DEFAULT_LSTM_MODEL_DIR } from '../detect/lstm/modelCard';
import type { ClinicianDoor } from '../server/clinicianDoor';
import type { CliDependencies } from './commands';
import { clinicianDoorFromSettings, parseAuthMode, parseList, type DoorSettings } from './clinicianDoorFromSettings';

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
}

export interface OpenRepositoryContext {
  /** The public FHIR base URL. Known only once the server listens (port 0), hence a function. */
  readonly baseUrl: () => string;
}

export type OpenRepository = (dataDir: string, context: OpenRepositoryContext) => Promise<OpenedRepository>;
/** Loads the seed into the repository, through the same router the server uses. */
export type SeedRepository = (repo: FhirRepository, router: FhirRouter) => Promise<void>;

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
  /** The clinician's door (auth, hardening, SMART app, CDS Hooks); without it the FHIR API is OPEN and says so. */
  readonly door?: (context: { origin: string; repo: FhirRepository; router: FhirRouter }) => Promise<ClinicianDoor>;
}

export interface RunningServer {
  /** e.g. http://127.0.0.1:8080 */
  readonly origin: string;
  /** e.g. http://127.0.0.1:8080/fhir/R4 */
  readonly baseUrl: string;
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
  if (options.learnedModelDir !== undefined) {
    // Before the store opens or the port is bound: a refused model leaves nothing half-started.
    await checkLearnedDetector(options.learnedModelDir, log);
  }
  let baseUrl = '';
  const opened = await options.openRepository(options.dataDir, {
    baseUrl: (): string => {
      if (!baseUrl) {
        throw new Error('The FHIR base URL is not known before the server listens');
      }
      return baseUrl;
    },
  });
  const server = createServer();
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
  const origin = `http://${hostForUrl(options.host)}:${port}`;
  baseUrl = `${origin}${FHIR_BASE_PATH}`;
  if (options.bulkExport) {
    try {
      bulkExport = await BulkExportService.open(opened.repo, {
        dir: join(options.dataDir, 'bulk'),
        log,
        ...options.bulkExport,
      });
    } catch (err) {
      server.close();
      await closeStore();
      throw err;
    }
  }
  const router = opened.router ?? new FhirRouter();
  const supportsPatch = opened.supports.some((r) => r.interactions.includes('patch'));
  const capabilityStatement = buildCapabilityStatement({
    baseUrl,
    software: { name: 'recovery-twin', version: options.version ?? '0.0.0' },
    resources: opened.supports,
    systemInteractions: opened.systemInteractions ?? ['batch'],
    formats: [...FORMATS],
    ...(supportsPatch ? { patchFormats: ['application/json-patch+json'] } : {}),
    clock: options.clock ?? ((): Date => new Date()),
  });
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
  server.on(
    'request',
    createApp({
      ...(door ? { door: door.door } : {}),
      repo: opened.repo,
      router,
      baseUrl,
      capabilityStatement,
      isReady: () => ready,
      log,
      ...(options.bodyLimit ? { bodyLimit: options.bodyLimit } : {}),
      ...(bulkExport ? { bulkExport } : {}),
    })
  );

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
      await closeStore();
    })();
    return closing;
  };

  log(`FHIR R4 base:   ${baseUrl}`);
  log(`Metadata:       ${baseUrl}/metadata`);
  log(`Health:         ${origin}/healthz`);
  log(`Data directory: ${options.dataDir}`);
  for (const line of door ? door.startupLines : openWarning) {
    log(line);
  }

  try {
    if (!options.seed) {
      log('Seeding: skipped (--no-seed)');
    } else if (options.seedRepository) {
      log('Seeding: loading the synthetic cohort...');
      await options.seedRepository(opened.repo, router);
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
  return { origin, baseUrl, close };
}

function parsePort(value: string): number {
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new InvalidArgumentError(`not a TCP port: ${value}`);
  }
  return port;
}

interface ServeFlags {
  readonly port: number;
  readonly host: string;
  readonly dataDir: string;
  readonly seed: boolean;
  readonly modelDir: string;
  readonly auth: DoorSettings['auth'];
  readonly authIssuer?: string;
  readonly authJwksUrl?: string;
  readonly allowedOrigins?: string;
  readonly frameAncestors?: string;
  readonly allowedHosts?: string;
}

/** `twin serve`: the embedded FHIR R4 server over the durable store, until SIGINT/SIGTERM. */
export function registerServeCommand(program: Command, deps: CliDependencies): void {
  program
    .command('serve')
    .description('Start the embedded FHIR R4 server (FHIR API, /metadata, /healthz) on the durable store')
    .option('-p, --port <n>', 'TCP port to listen on (env PORT)', parsePort, parsePort(deps.env.PORT ?? '8080'))
    .option(
      '--host <h>',
      'interface to bind; 0.0.0.0 exposes it to the network (env HOST)',
      deps.env.HOST ?? '127.0.0.1'
    )
    .option('--data-dir <dir>', 'folder of the durable store (env DATA_DIR)', deps.env.DATA_DIR ?? './data')
    .option('--no-seed', 'do not load the synthetic cohort on start')
    .option(
      '--model-dir <dir>',
      'learned (LSTM) detector folder, checked against its model card on start (env TWIN_LSTM_MODEL_DIR)',
      deps.env.TWIN_LSTM_MODEL_DIR ?? DEFAULT_LSTM_MODEL_DIR()
    )
    .option(
      '--auth <mode>',
      'local (embedded SMART authorization server), external (a hospital issuer), open (loopback demo, no tokens) (env TWIN_AUTH)',
      parseAuthMode,
      parseAuthMode(deps.env.TWIN_AUTH ?? 'local')
    )
    .option('--auth-issuer <url>', 'external issuer (env TWIN_AUTH_ISSUER)', deps.env.TWIN_AUTH_ISSUER)
    .option('--auth-jwks-url <url>', "external issuer's JWKS (env TWIN_AUTH_JWKS_URL)", deps.env.TWIN_AUTH_JWKS_URL)
    .option(
      '--allowed-origins <list>',
      'browser origins allowed by CORS (env TWIN_ALLOWED_ORIGINS)',
      deps.env.TWIN_ALLOWED_ORIGINS
    )
    .option(
      '--frame-ancestors <list>',
      'EHR origins that may frame the app (env TWIN_FRAME_ANCESTORS)',
      deps.env.TWIN_FRAME_ANCESTORS
    )
    .option(
      '--allowed-hosts <list>',
      'Host names answered besides the bound one (env TWIN_ALLOWED_HOSTS)',
      deps.env.TWIN_ALLOWED_HOSTS
    )
    .action(async (flags: ServeFlags): Promise<void> => {
      const settings: DoorSettings = {
        extraHosts: parseList(flags.allowedHosts),
        auth: flags.auth,
        ...(flags.authIssuer ? { issuer: flags.authIssuer } : {}),
        ...(flags.authJwksUrl ? { jwksUrl: flags.authJwksUrl } : {}),
        allowedOrigins: parseList(flags.allowedOrigins),
        frameAncestors: parseList(flags.frameAncestors),
        ...(deps.env.TWIN_LOGIN_PASSCODE ? { loginPasscode: deps.env.TWIN_LOGIN_PASSCODE } : {}),
        ...(deps.env.TWIN_CDS_CLIENTS ? { cdsClients: deps.env.TWIN_CDS_CLIENTS } : {}),
        ...(deps.env.TWIN_BACKEND_CLIENTS ? { backendClients: deps.env.TWIN_BACKEND_CLIENTS } : {}),
      };
      const running = await startServer({
        door: (context) =>
          clinicianDoorFromSettings(settings, { ...context, host: flags.host, dataDir: flags.dataDir, log: deps.log }),
        learnedModelDir: flags.modelDir,
        port: flags.port,
        host: flags.host,
        dataDir: flags.dataDir,
        seed: flags.seed,
        openRepository: deps.openRepository,
        ...(deps.seedRepository ? { seedRepository: deps.seedRepository } : {}),
        version: deps.version,
        log: deps.log,
        bulkExport: {},
      });
      await new Promise<void>((resolve, reject) => {
        // `on`, not `once`: `npm start` forwards the signal it receives to us, so the same SIGTERM can arrive twice,
        // and a second one left to Node's default action would kill the process before the store is closed.
        const stop = (signal: NodeJS.Signals): void => {
          deps.log(`${signal} received: closing the server, then the store`);
          running.close().then(resolve, reject);
        };
        process.on('SIGINT', stop);
        process.on('SIGTERM', stop);
      });
      deps.log('Stopped.');
    });
}
