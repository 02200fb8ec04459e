import { closeSync, existsSync, mkdirSync, openSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { loadBaseDefinitions } from '../fhir/definitions';
import { createValidator } from '../fhir/validation';
import { fileCipher, type FileCipher } from './sealedFile';
import { SqliteRepository, type StoreOpenStats } from './sqliteRepository';
import type { Durability } from './sqliteSchema';
import { describeStoreSupport, type StoreResourceSupport } from './storeCapabilities';

export interface OpenStoreOptions {
  /** Public FHIR base URL; may be known only once the server listens, hence a function. */
  readonly baseUrl?: string | (() => string);
  readonly durability?: Durability;
  readonly now?: () => Date;
  /** Logs a profile URL the validator does not know (never the resource). */
  readonly onUnknownProfile?: (profileUrl: string, resourceType: string) => void;
  /** The store key (src/store/storeKey.ts); a new store is then created encrypted, an encrypted one needs it. */
  readonly key?: Buffer;
}

export interface SqliteStore {
  readonly repo: SqliteRepository;
  readonly path: string;
  readonly supports: StoreResourceSupport[];
  /** Whether the store is encrypted, and how long rebuilding its in-memory search index took. */
  readonly openStats: StoreOpenStats;
  /** For an encrypted store: seals the Bulk Data export files written beside it with the same key. */
  readonly exportFiles?: FileCipher;
  close(): void;
}

/** Opens (creating if needed) the embedded FHIR store in `dataDir`, validating every write against base R4 and known profiles. */
export async function openSqliteStore(dataDir: string, options: OpenStoreOptions = {}): Promise<SqliteStore> {
  loadBaseDefinitions();
  const dir = resolve(dataDir);
  mkdirSync(dir, { recursive: true });
  const path = join(dir, 'fhir.sqlite');
  if (!existsSync(path)) {
    // The store holds health data: a new database file is readable by its owner only, whatever the umask. SQLite
    // gives its -wal and -shm files the database file's permissions.
    closeSync(openSync(path, 'a', 0o600));
  }
  const validator = createValidator({ onUnknownProfile: options.onUnknownProfile });
  const repo = new SqliteRepository({
    path,
    baseUrl: options.baseUrl ?? ((): string => 'http://localhost:8080/fhir/R4'),
    validate: (resource) => validator.validate(resource),
    durability: options.durability,
    now: options.now,
    ...(options.key ? { key: options.key } : {}),
  });
  return {
    repo,
    path,
    supports: describeStoreSupport(),
    openStats: repo.openStats,
    ...(options.key ? { exportFiles: fileCipher(options.key, 'export') } : {}),
    close: () => repo.close(),
  };
}
