#!/usr/bin/env node
// Only Node built-ins, commander and dependency-free local files are imported up front: @medplum/* and node:sqlite
// fail on an old Node with cryptic errors, so they are loaded after assertSupportedNode() has had its say.
import { Command } from 'commander';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../fhir/packageRoot';
import { assertSupportedNode } from './nodeVersion';

function readVersion(): string {
  const manifest = JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { version?: unknown };
  return typeof manifest.version === 'string' ? manifest.version : '0.0.0';
}

export async function main(argv: readonly string[]): Promise<void> {
  assertSupportedNode();
  const { registerCommands } = await import('./commands');
  const { openSqliteStore } = await import('../store/sqliteStore');
  const { loadStoreKey } = await import('../store/storeKey');
  const { createEmbeddedRouter } = await import('../store/transactionBundle');
  const { seedEmbeddedStore } = await import('../server/seedEmbeddedStore');
  const { embeddedOperations } = await import('../server/operations/registry');
  const { openEvidenceEngine } = await import('../evidence/evidenceEngine');
  const log = (line: string): void => console.log(line);
  const version = readVersion();

  const program = new Command('twin')
    .description('recovery-twin: FHIR-native digital twin of patient recovery')
    .version(version);
  registerCommands(program, {
    openRepository: async (dataDir, { baseUrl, storeKeyFile }) => {
      // Encryption at rest when a store key is configured (README "Encryption at rest and in transit").
      const key = loadStoreKey({ env: process.env, ...(storeKeyFile ? { keyFile: storeKeyFile } : {}) });
      const store = await openSqliteStore(dataDir, { baseUrl, ...(key ? { key } : {}) });
      if (store.openStats.encrypted) {
        log(
          `Store:          encrypted (AES-256-GCM); search index rebuilt in memory: ${store.openStats.indexedResources} resources in ${Math.round(store.openStats.indexRebuildMs)} ms`
        );
      }
      // No engine-side validation here: in-process, every twin write goes through the store, which validates it
      // against the same profiles before anything is stored (src/store/sqliteStore.ts).
      return {
        repo: store.repo,
        close: () => store.close(),
        // The store's own list of what it implements; the server adds the operations it serves and builds the
        // CapabilityStatement from both.
        supports: store.supports,
        // The store runs transaction Bundles atomically in one SQLite transaction (src/store/transactionBundle.ts).
        router: createEmbeddedRouter(),
        systemInteractions: ['transaction', 'batch'],
        // Bulk Data export files are sealed with the same key as the store.
        ...(store.exportFiles ? { exportFiles: store.exportFiles } : {}),
      };
    },
    // Every operation is one module in src/server/operations/, listed in registry.ts: routed and declared together.
    operations: async ({ metrics, timeZone, reviewOwner, modelDir, clientOf }) => {
      const today = (): string => new Date().toISOString().slice(0, 10);
      const evidence = await openEvidenceEngine({ env: process.env, log });
      return embeddedOperations({
        twinRefresh: { today, metrics, ...(timeZone ? { timeZone } : {}) },
        twinFindings: {
          today,
          metrics,
          ...(reviewOwner ? { taskOwner: reviewOwner } : {}),
          ...(modelDir ? { modelDir } : {}),
        },
        evidence: { ...evidence, now: () => new Date().toISOString() },
        simulate: { library: evidence.library, today },
        ...(clientOf ? { clientOf } : {}),
      });
    },
    // The embedded default serves a small synthetic cohort (src/cohort/), one atomic transaction per patient;
    // patients already present are skipped, so a restart (or a crash mid-seed) never duplicates anything.
    seedRepository: async (repo, router) => {
      const days = positiveInt(process.env.SEED_DAYS, 120);
      const result = await seedEmbeddedStore(repo, router, {
        patients: positiveInt(process.env.SEED_PATIENTS, 25),
        days,
        seed: 2026,
        // The cohort ends today, so trends look current; start date only matters for the first seeding.
        startDate: new Date(Date.now() - days * 86_400_000).toISOString().slice(0, 10),
        log,
      });
      log(`Seeding: ${result.posted} patients loaded, ${result.alreadyPresent} already present`);
      // The protocol library too, so proposals' instantiatesCanonical and Provenance entities resolve on this server
      // (idempotent: nothing is written when the same versions are there). Here and not in openRepository: the store
      // cannot write before the server listens (its base URL is not known yet). With --no-seed, the first proposal
      // loads them (src/proposal/proposalWriter.ts).
      const { loadProtocolDefinitions } = await import('../proposal/protocolDefinitions');
      const { loadProtocolLibrary } = await import('../protocols/protocolLibrary');
      const { LocalFhirClient } = await import('../fhir/localFhirClient');
      const client = new LocalFhirClient(repo, router);
      const defs = await loadProtocolDefinitions(client, loadProtocolLibrary());
      log(`Protocol library: ${defs.written.length} definitions written, ${defs.unchanged} already present`);
      if (process.env.SEED_DERIVE === 'false') {
        return undefined;
      }
      // Then, once the server is ready, what the automation and bots of a hospital deployment would run on this data:
      // twins, findings and proposals waiting for review, so the demo shows the engine's work (SEED_DERIVE=false: not).
      return {
        background: async (signal: AbortSignal): Promise<void> => {
          const { deriveSeededCohort } = await import('../automation/seededCohortDerivation');
          const evidence = await openEvidenceEngine({ env: process.env, log });
          log('Demo twins: deriving twins, findings and proposals of the seeded patients in the background...');
          const summary = await deriveSeededCohort({
            client,
            evidence,
            today: () => new Date().toISOString().slice(0, 10),
            now: () => new Date().toISOString(),
            timeZone: process.env.TWIN_TIME_ZONE,
            signal,
            log,
          });
          log(
            `Demo twins: ${summary.derived} derived (${summary.proposals} proposals for review), ` +
              `${summary.alreadyDerived} already derived, ${summary.failed} failed` +
              (summary.stopped ? ', stopped by shutdown (the next start goes on)' : '')
          );
        },
      };
    },
    version,
    env: process.env,
    log,
  });
  await program.parseAsync([...argv]);
}

function positiveInt(value: string | undefined, fallback: number): number {
  if (value === undefined || value === '') {
    return fallback;
  }
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) {
    throw new Error(`Expected a positive integer, got "${value}"`);
  }
  return n;
}

if (require.main === module) {
  main(process.argv).catch((err: unknown) => {
    console.error(err instanceof Error ? err.message : String(err));
    process.exitCode = 1;
  });
}
