import { InvalidArgumentError } from 'commander';
import type { Command } from 'commander';
import { DEFAULT_LSTM_MODEL_DIR } from '../detect/lstm/modelCard';
import { startServer } from '../server/embeddedServer';
import { serverLimitsFromEnv } from '../server/serverLimits';
import type { CliDependencies } from './commands';

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
    .action(async (flags: ServeFlags): Promise<void> => {
      const running = await startServer({
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
