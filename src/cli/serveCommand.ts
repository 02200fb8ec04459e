import { normalizeErrorString } from '@medplum/core';
import type { Command } from 'commander';
import { readFileSync } from 'node:fs';
import { invalidInput } from '../fhir/outcomes';
import type { FhirClient } from '../fhir/fhirClient';
import type { EngineMetrics } from '../ops/engineMetrics';
import type { RunningServer } from '../server/embeddedServer';
import { DEFAULT_LSTM_MODEL_DIR } from '../detect/lstm/modelCard';
import { startServer } from '../server/embeddedServer';
import { serverLimitsFromEnv } from '../server/serverLimits';
import type { CliDependencies } from './commands';
import { clinicianDoorFromSettings, parseAuthMode, parseList, type DoorSettings } from './clinicianDoorFromSettings';
import { openEngineTarget } from './engineTarget';
import { backendServicesEnv, engineSettings, parsePort, type EngineSettings } from './engineSettings';
import type { RunningAutomation } from './engineAutomation';
import { LocalFhirClient } from '../fhir/localFhirClient';
import { readEngineConfigFile } from '../ops/engineConfigFile';
import { createPrometheusMetrics } from '../server/prometheusMetrics';
import type { ReadinessCheck } from '../server/health';

// The server is assembled in src/server/embeddedServer.ts; these names stay importable from here for existing callers.
export { startServer } from '../server/embeddedServer';
export type {
  OpenedRepository,
  OpenRepository,
  OpenRepositoryContext,
  RunningServer,
  SeedRepository,
  StartServerOptions,
} from '../server/embeddedServer';

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
  readonly fhir?: string;
  readonly config?: string;
  readonly storeKeyFile?: string;
  readonly tlsCert?: string;
  readonly tlsKey?: string;
}

/** `--tls-cert` and `--tls-key` go together: one without the other is refused rather than served in clear. */
function tlsFiles(flags: ServeFlags): { cert: Buffer; key: Buffer } | undefined {
  if (!flags.tlsCert && !flags.tlsKey) {
    return undefined;
  }
  if (!flags.tlsCert || !flags.tlsKey) {
    throw invalidInput('HTTPS needs both --tls-cert and --tls-key (env TWIN_TLS_CERT and TWIN_TLS_KEY)');
  }
  const read = (path: string, what: string): Buffer => {
    try {
      return readFileSync(path);
    } catch {
      throw invalidInput(`Cannot read the TLS ${what} file ${path}`);
    }
  };
  return { cert: read(flags.tlsCert, 'certificate'), key: read(flags.tlsKey, 'private key') };
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
      '--fhir <url>',
      "engine service mode: work on this FHIR R4 server (the hospital's) as SMART Backend Services client SMART_CLIENT_ID " +
        'with the private JWKS in SMART_JWKS_FILE; serve the operations, CDS Hooks and the app, not the data (env TWIN_FHIR_URL)',
      deps.env.TWIN_FHIR_URL
    )
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
    .option(
      '--store-key-file <file>',
      'file holding the store encryption key, mode 600 (env TWIN_STORE_KEY_FILE; or the key itself in TWIN_STORE_KEY)',
      deps.env.TWIN_STORE_KEY_FILE
    )
    .option('--tls-cert <file>', 'PEM certificate chain: serve HTTPS (env TWIN_TLS_CERT)', deps.env.TWIN_TLS_CERT)
    .option('--tls-key <file>', 'PEM private key of --tls-cert (env TWIN_TLS_KEY)', deps.env.TWIN_TLS_KEY)
    .option(
      '--config <file>',
      'the engine service configuration file (config/twin.schema.json); flags, then env, win over it'
    )
    .action(async (flags: ServeFlags, command: Command): Promise<void> => {
      let s: EngineSettings;
      let tls: { cert: Buffer; key: Buffer } | undefined;
      try {
        const file = flags.config ? readEngineConfigFile(flags.config) : {};
        s = withServeFlags(engineSettings(file, deps.env), flags, command);
        tls = tlsFiles(flags);
      } catch (err) {
        command.error(`twin serve: ${normalizeErrorString(err)}`, { exitCode: 1 });
        return;
      }
      if (!tls && (s.host === '0.0.0.0' || s.host === '::')) {
        deps.log(
          '*** WARNING: listening on every interface WITHOUT TLS: health data would cross the network in clear. ***'
        );
        deps.log('*** Use --tls-cert/--tls-key, or bind 127.0.0.1 behind a TLS-terminating proxy. ***');
      }
      const settings: DoorSettings = {
        extraHosts: [...s.allowedHosts],
        auth: s.auth,
        ...(s.authIssuer ? { issuer: s.authIssuer } : {}),
        ...(s.authJwksUrl ? { jwksUrl: s.authJwksUrl } : {}),
        allowedOrigins: [...s.allowedOrigins],
        frameAncestors: [...s.frameAncestors],
        ...(deps.env.TWIN_LOGIN_PASSCODE ? { loginPasscode: deps.env.TWIN_LOGIN_PASSCODE } : {}),
        ...(deps.env.TWIN_CDS_CLIENTS ? { cdsClients: deps.env.TWIN_CDS_CLIENTS } : {}),
        ...(deps.env.TWIN_BACKEND_CLIENTS ? { backendClients: deps.env.TWIN_BACKEND_CLIENTS } : {}),
      };
      // One registry per server (src/server/prometheusMetrics.ts); the operations and jobs count into it.
      const prometheus = createPrometheusMetrics();
      let automation: RunningAutomation | undefined;
      const automationReadiness: ReadinessCheck[] = s.automationInServe
        ? [
            {
              name: 'queue',
              // The queue answers (BullMQ: Redis answers a count), else the scheduled work cannot run.
              check: async () =>
                automation
                  ? { ok: true, status: `${automation.mode}, ${await automation.depth()} job(s)` }
                  : { ok: false, status: 'starting' },
            },
          ]
        : [];
      // Engine service mode (--fhir, or fhir.baseUrl in the file): the operations, CDS Hooks, the access guard and
      // the automation read and write the hospital's server, as SMART Backend Services client SMART_CLIENT_ID.
      const remote = s.fhirBaseUrl
        ? await openEngineTarget({ fhir: s.fhirBaseUrl, dataDir: s.dataDir, env: backendServicesEnv(s, deps.env) })
        : undefined;
      const running = await startServer({
        door: (context) =>
          clinicianDoorFromSettings(settings, {
            ...context,
            host: s.host,
            dataDir: s.dataDir,
            log: deps.log,
            ...(remote ? { client: remote.client } : {}),
          }),
        ...(s.fhirBaseUrl ? { engineServiceFor: s.fhirBaseUrl } : {}),
        learnedModelDir: s.modelDir,
        port: s.port,
        host: s.host,
        dataDir: s.dataDir,
        seed: s.seed,
        openRepository: deps.openRepository,
        ...(deps.seedRepository ? { seedRepository: deps.seedRepository } : {}),
        version: deps.version,
        log: deps.log,
        bulkExport: {},
        limits: serverLimitsFromEnv(deps.env),
        metrics: prometheus,
        ...(s.fhirBaseUrl ? { remoteFhir: { baseUrl: s.fhirBaseUrl, timeoutMs: s.fhirTimeoutMs } } : {}),
        readiness: automationReadiness,
        ...(deps.operations
          ? {
              operations: await deps.operations({
                metrics: prometheus.metrics,
                modelDir: s.modelDir,
                ...(s.timeZone ? { timeZone: s.timeZone } : {}),
                ...(s.reviewOwner ? { reviewOwner: s.reviewOwner } : {}),
                ...(remote ? { clientOf: () => remote.client } : {}),
              }),
            }
          : {}),
        ...(deps.mounts ? { mounts: deps.mounts } : {}),
        ...(flags.storeKeyFile ? { storeKeyFile: flags.storeKeyFile } : {}),
        ...(tls ? { tls } : {}),
      });
      if (s.automationInServe) {
        try {
          automation = await startServeAutomation(s, running, prometheus.metrics, deps, remote?.client);
          prometheus.setQueueDepth(() => (automation ? automation.depth() : Promise.resolve(0)));
          deps.log(`Automation:     ${automation.jobs.join(', ')} (${s.automation.timezone}, ${automation.mode})`);
        } catch (err) {
          await running.close();
          throw err;
        }
      }
      await new Promise<void>((resolve, reject) => {
        // `on`, not `once`: `npm start` forwards the signal it receives to us, so the same SIGTERM can arrive twice,
        // and a second one left to Node's default action would kill the process before the store is closed.
        let stopping: Promise<void> | undefined;
        const stop = (signal: NodeJS.Signals): void => {
          deps.log(`${signal} received: stopping the automation, closing the server, then the store`);
          // The schedules and workers first: they write through the store the server is about to close.
          stopping ??= (automation?.stop() ?? Promise.resolve()).then(() => running.close());
          stopping.then(resolve, reject);
        };
        process.on('SIGINT', stop);
        process.on('SIGTERM', stop);
      });
      deps.log('Stopped.');
    });
}

/** The settings with each flag typed on the command line in place of the file's or the environment's value. */
function withServeFlags(base: EngineSettings, flags: ServeFlags, command: Command): EngineSettings {
  // Commander's defaults for these flags come from the environment; only a flag typed by hand ('cli') wins here.
  const given = (name: keyof ServeFlags): boolean => command.getOptionValueSource(name) === 'cli';
  const list = (name: 'allowedOrigins' | 'frameAncestors' | 'allowedHosts'): readonly string[] =>
    given(name) ? parseList(flags[name]) : base[name];
  return {
    ...base,
    port: given('port') ? flags.port : base.port,
    host: given('host') ? flags.host : base.host,
    dataDir: given('dataDir') ? flags.dataDir : base.dataDir,
    seed: given('seed') ? flags.seed : base.seed,
    modelDir: given('modelDir') ? flags.modelDir : base.modelDir,
    auth: given('auth') ? flags.auth : base.auth,
    ...(given('authIssuer') && flags.authIssuer ? { authIssuer: flags.authIssuer } : {}),
    ...(given('authJwksUrl') && flags.authJwksUrl ? { authJwksUrl: flags.authJwksUrl } : {}),
    allowedOrigins: list('allowedOrigins'),
    frameAncestors: list('frameAncestors'),
    allowedHosts: list('allowedHosts'),
    // --fhir typed by hand or TWIN_FHIR_URL (commander's default) win over the file's fhir.baseUrl.
    ...(flags.fhir ? { fhirBaseUrl: flags.fhir } : {}),
  };
}

/** The automation on the remote FHIR server when one is configured, else on this server's own store. */
async function startServeAutomation(
  s: EngineSettings,
  running: RunningServer,
  metrics: EngineMetrics,
  deps: CliDependencies,
  remote: FhirClient | undefined
): Promise<RunningAutomation> {
  const { startEngineAutomation, defaultStateDir } = await import('./engineAutomation');
  const client: FhirClient = remote ?? new LocalFhirClient(running.repo, running.router);
  return startEngineAutomation({
    client,
    settings: s,
    env: deps.env,
    stateDir: defaultStateDir(s.dataDir),
    metrics,
    log: deps.log,
  });
}
