import type { DatabaseSync } from 'node:sqlite';
import { internalFault } from '../fhir/outcomes';

/** Bumped when the table layout changes; a store with another version is refused rather than misread. */
export const SCHEMA_VERSION = 1;

/**
 * Table layout of the embedded store.
 *
 * - `resources`: the current version of every resource (deleted ones keep a row with `deleted = 1` so a read can
 *   answer 410 Gone, FHIR R4 http.html#read), keyed by an integer `pk` that the index tables reference.
 * - `history`: every version ever written, append-only (FHIR R4 http.html#history, #vread).
 * - `idx_*`: one row per (resource, search parameter, value). `param_id` points at `search_params`, so the long
 *   parameter names are stored once. Each table has a lookup index (param, value, pk) to drive a search and a
 *   probe index (pk, param, value) to check further criteria on a candidate.
 */
const DDL = `
CREATE TABLE IF NOT EXISTS store_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS search_params (param_id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
CREATE TABLE IF NOT EXISTS resources (
  pk INTEGER PRIMARY KEY,
  rt TEXT NOT NULL,
  id TEXT NOT NULL,
  version INTEGER NOT NULL,
  last_updated INTEGER NOT NULL,
  deleted INTEGER NOT NULL DEFAULT 0,
  content TEXT,
  UNIQUE (rt, id)
);
CREATE INDEX IF NOT EXISTS resources_rt_updated ON resources (rt, last_updated);
CREATE TABLE IF NOT EXISTS history (
  pk INTEGER NOT NULL,
  version INTEGER NOT NULL,
  last_updated INTEGER NOT NULL,
  deleted INTEGER NOT NULL,
  content TEXT,
  PRIMARY KEY (pk, version)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS idx_token (pk INTEGER NOT NULL, param_id INTEGER NOT NULL, system TEXT, code TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS idx_token_lookup ON idx_token (param_id, code, system, pk);
CREATE INDEX IF NOT EXISTS idx_token_probe ON idx_token (pk, param_id, code);
CREATE TABLE IF NOT EXISTS idx_ref (pk INTEGER NOT NULL, param_id INTEGER NOT NULL, ref TEXT NOT NULL, ref_id TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS idx_ref_lookup ON idx_ref (param_id, ref, pk);
CREATE INDEX IF NOT EXISTS idx_ref_lookup_id ON idx_ref (param_id, ref_id, pk);
CREATE INDEX IF NOT EXISTS idx_ref_probe ON idx_ref (pk, param_id, ref);
CREATE TABLE IF NOT EXISTS idx_date (pk INTEGER NOT NULL, param_id INTEGER NOT NULL, lo INTEGER NOT NULL, hi INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS idx_date_lookup ON idx_date (param_id, lo, pk);
CREATE INDEX IF NOT EXISTS idx_date_probe ON idx_date (pk, param_id, lo, hi);
CREATE TABLE IF NOT EXISTS idx_string (pk INTEGER NOT NULL, param_id INTEGER NOT NULL, value TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS idx_string_lookup ON idx_string (param_id, value, pk);
CREATE INDEX IF NOT EXISTS idx_string_probe ON idx_string (pk, param_id, value);
CREATE TABLE IF NOT EXISTS idx_number (pk INTEGER NOT NULL, param_id INTEGER NOT NULL, value REAL NOT NULL, system TEXT, code TEXT);
CREATE INDEX IF NOT EXISTS idx_number_lookup ON idx_number (param_id, value, pk);
CREATE INDEX IF NOT EXISTS idx_number_probe ON idx_number (pk, param_id, value);
`;

export type Durability = 'full' | 'normal';

/**
 * Opens the schema on a fresh or existing database.
 *
 * WAL journal: readers never block the writer and a crash (even SIGKILL mid-write) leaves either the whole committed
 * transaction or none of it. `synchronous=FULL` fsyncs the WAL at every commit, so a write acknowledged to a client
 * survives a power cut too; `normal` survives process crashes only and is for bulk benchmarks.
 */
export function initSchema(db: DatabaseSync, durability: Durability): void {
  db.exec('PRAGMA journal_mode = WAL');
  db.exec(`PRAGMA synchronous = ${durability === 'full' ? 'FULL' : 'NORMAL'}`);
  db.exec('PRAGMA foreign_keys = OFF');
  db.exec('PRAGMA busy_timeout = 5000');
  db.exec('PRAGMA cache_size = -65536');
  db.exec(DDL);
  const row = db.prepare("SELECT value FROM store_meta WHERE key = 'schema_version'").get() as
    { value: string } | undefined;
  if (!row) {
    db.prepare("INSERT INTO store_meta (key, value) VALUES ('schema_version', ?)").run(String(SCHEMA_VERSION));
  } else if (row.value !== String(SCHEMA_VERSION)) {
    throw internalFault(
      `Data directory holds store schema version ${row.value}; this build reads version ${SCHEMA_VERSION}`
    );
  }
}
