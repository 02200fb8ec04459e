import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { EvidenceOperationDeps } from '../../src/server/evidenceOperations';
import type { SimulateOperationDeps } from '../../src/server/simulateOperation';
import { startServer, type RunningServer } from '../../src/server/embeddedServer';
import { embeddedOperations } from '../../src/server/operations/registry';
import type { TwinFindingsOperationDeps } from '../../src/server/operations/twinFindingsOperation';
import type { ServerLimits } from '../../src/server/serverLimits';
import { openSqliteStore, type SqliteStore } from '../../src/store/sqliteStore';
import { createEmbeddedRouter } from '../../src/store/transactionBundle';

export interface EmbeddedTestServer extends RunningServer {
  readonly store: SqliteStore;
  readonly logLines: string[];
}

export interface EmbeddedTestServerOptions {
  readonly limits?: Partial<ServerLimits>;
  readonly evidence?: EvidenceOperationDeps;
  readonly simulate?: SimulateOperationDeps;
  /** `$twin-findings` (the engine service's detection); absent: not served. */
  readonly twinFindings?: TwinFindingsOperationDeps;
  readonly bulkExport?: boolean;
}

/**
 * The embedded server as `twin serve` assembles it (SQLite store in a temporary folder, the store's transaction
 * router, the operation registry, Bulk Data export), unseeded, on an ephemeral loopback port.
 */
export async function startEmbeddedTestServer(options: EmbeddedTestServerOptions = {}): Promise<EmbeddedTestServer> {
  const dataDir = mkdtempSync(join(tmpdir(), 'twin-embedded-'));
  const logLines: string[] = [];
  let store: SqliteStore | undefined;
  const running = await startServer({
    port: 0,
    host: '127.0.0.1',
    dataDir,
    seed: false,
    version: '0.0.0-test',
    log: (line) => logLines.push(line),
    clock: () => new Date('2025-01-02T03:04:05.000Z'),
    openRepository: async (dir, { baseUrl }) => {
      store = await openSqliteStore(dir, { baseUrl, durability: 'normal' });
      const opened = store;
      return {
        repo: opened.repo,
        close: () => opened.close(),
        supports: opened.supports,
        router: createEmbeddedRouter(),
        systemInteractions: ['transaction', 'batch'],
      };
    },
    operations: embeddedOperations({
      twinRefresh: { today: () => '2025-01-02' },
      ...(options.evidence ? { evidence: options.evidence } : {}),
      ...(options.simulate ? { simulate: options.simulate } : {}),
      ...(options.twinFindings ? { twinFindings: options.twinFindings } : {}),
    }),
    ...(options.bulkExport === false ? {} : { bulkExport: { dir: join(dataDir, 'bulk') } }),
    ...(options.limits ? { limits: options.limits } : {}),
  });
  if (!store) {
    throw new Error('store not opened');
  }
  const opened = store;
  return {
    ...running,
    store: opened,
    logLines,
    close: async (): Promise<void> => {
      await running.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
