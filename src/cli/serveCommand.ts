import { InvalidArgumentError } from 'commander';
import { readFileSync } from 'node:fs';
import { invalidInput } from '../fhir/outcomes';
import type { Command } from 'commander';
import { DEFAULT_LSTM_MODEL_DIR } from '../detect/lstm/modelCard';
import { startServer } from '../server/embeddedServer';
import { serverLimitsFromEnv } from '../server/serverLimits';
import type { CliDependencies } from './commands';
import { clinicianDoorFromSettings, parseAuthMode, parseList, type DoorSettings } from './clinicianDoorFromSettings';

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
    .action(async (flags: ServeFlags): Promise<void> => {
      const tls = tlsFiles(flags);
      if (!tls && (flags.host === '0.0.0.0' || flags.host === '::')) {
        deps.log(
          '*** WARNING: listening on every interface WITHOUT TLS: health data would cross the network in clear. ***'
        );
        deps.log('*** Use --tls-cert/--tls-key, or bind 127.0.0.1 behind a TLS-terminating proxy. ***');
      }
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
        limits: serverLimitsFromEnv(deps.env),
        ...(deps.operations ? { operations: await deps.operations() } : {}),
        ...(deps.mounts ? { mounts: deps.mounts } : {}),
        ...(flags.storeKeyFile ? { storeKeyFile: flags.storeKeyFile } : {}),
        ...(tls ? { tls } : {}),
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
