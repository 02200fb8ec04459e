import type { DatabaseSync } from 'node:sqlite';
import { internalFault, invalidInput } from '../fhir/outcomes';
import { ENCRYPTION_SCHEME, newStoreSalt, PLAIN_ROWS, StoreCipher, type RowCodec } from './storeCipher';

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
const STORE_DDL = `
CREATE TABLE IF NOT EXISTS store_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
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
`;

/** The search index tables; `s` is the schema prefix (`main.` on disk, `idx.` in memory for an encrypted store). */
const indexTablesDdl = (s: string): string => `
CREATE TABLE IF NOT EXISTS ${s}search_params (param_id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
CREATE TABLE IF NOT EXISTS ${s}idx_token (pk INTEGER NOT NULL, param_id INTEGER NOT NULL, system TEXT, code TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS ${s}idx_ref (pk INTEGER NOT NULL, param_id INTEGER NOT NULL, ref TEXT NOT NULL, ref_id TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS ${s}idx_date (pk INTEGER NOT NULL, param_id INTEGER NOT NULL, lo INTEGER NOT NULL, hi INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS ${s}idx_string (pk INTEGER NOT NULL, param_id INTEGER NOT NULL, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS ${s}idx_number (pk INTEGER NOT NULL, param_id INTEGER NOT NULL, value REAL NOT NULL, system TEXT, code TEXT);
`;

/** Their lookup and probe indexes; an encrypted store adds them after loading the tables at open (faster). */
const indexIndexesDdl = (s: string): string => `
CREATE INDEX IF NOT EXISTS ${s}idx_token_lookup ON idx_token (param_id, code, system, pk);
CREATE INDEX IF NOT EXISTS ${s}idx_token_probe ON idx_token (pk, param_id, code);
CREATE INDEX IF NOT EXISTS ${s}idx_ref_lookup ON idx_ref (param_id, ref, pk);
CREATE INDEX IF NOT EXISTS ${s}idx_ref_lookup_id ON idx_ref (param_id, ref_id, pk);
CREATE INDEX IF NOT EXISTS ${s}idx_ref_probe ON idx_ref (pk, param_id, ref);
CREATE INDEX IF NOT EXISTS ${s}idx_date_lookup ON idx_date (param_id, lo, pk);
CREATE INDEX IF NOT EXISTS ${s}idx_date_probe ON idx_date (pk, param_id, lo, hi);
CREATE INDEX IF NOT EXISTS ${s}idx_string_lookup ON idx_string (param_id, value, pk);
CREATE INDEX IF NOT EXISTS ${s}idx_string_probe ON idx_string (pk, param_id, value);
CREATE INDEX IF NOT EXISTS ${s}idx_number_lookup ON idx_number (param_id, value, pk);
CREATE INDEX IF NOT EXISTS ${s}idx_number_probe ON idx_number (pk, param_id, value);
`;

/** Creates the lookup and probe indexes of an in-memory search index once it has been loaded. */
export function createIndexIndexes(db: DatabaseSync): void {
  db.exec(indexIndexesDdl('idx.'));
}

export type Durability = 'full' | 'normal';

/**
 * Opens the schema on a fresh or existing database and returns how its rows are written.
 *
 * WAL journal: readers never block the writer and a crash (even SIGKILL mid-write) leaves either the whole committed
 * transaction or none of it. `synchronous=FULL` fsyncs the WAL at every commit, so a write acknowledged to a client
 * survives a power cut too; `normal` survives process crashes only and is for bulk benchmarks.
 *
 * With a key, a fresh store becomes an encrypted one (README "Encryption at rest and in transit"): `store_meta`
 * records the scheme, the HKDF salt and a key check value, and the search index lives in an attached in-memory
 * database (`idx`), rebuilt at every open, because its rows are codes, names, references and values in clear. An
 * encrypted store opened without its key or with another key, and a plain store opened with a key, are refused
 * before anything is written.
 */
export function initSchema(db: DatabaseSync, durability: Durability, key?: Buffer): RowCodec {
  const meta = readStoreMeta(db);
  const fresh = meta.get('schema_version') === undefined;
  const encryption = meta.get('encryption');
  if (!fresh) {
    if (meta.get('schema_version') !== String(SCHEMA_VERSION)) {
      throw internalFault(
        `Data directory holds store schema version ${meta.get('schema_version')}; this build reads version ${SCHEMA_VERSION}`
      );
    }
    if (encryption !== undefined && !key) {
      throw invalidInput(
        'This store is encrypted: give its key in TWIN_STORE_KEY, or a key file with --store-key-file / TWIN_STORE_KEY_FILE'
      );
    }
    if (encryption === undefined && key) {
      throw invalidInput(
        'A store key was given but this store is not encrypted; encrypting an existing store in place is not supported (start an empty data directory with the key and re-import, or run without a key)'
      );
    }
    if (encryption !== undefined && encryption !== ENCRYPTION_SCHEME) {
      throw internalFault(`This store is encrypted with ${encryption}; this build reads ${ENCRYPTION_SCHEME}`);
    }
  }
  let codec: RowCodec = PLAIN_ROWS;
  if (key) {
    const salt = fresh ? newStoreSalt() : Buffer.from(meta.get('kdf_salt') ?? '', 'hex');
    const cipher = new StoreCipher(key, salt);
    if (!fresh && !cipher.matchesKeyCheck(meta.get('key_check') ?? '')) {
      throw invalidInput('The store key does not match this store (wrong key, or a key for another store)');
    }
    codec = cipher;
    if (fresh) {
      meta.set('encryption', ENCRYPTION_SCHEME);
      meta.set('kdf_salt', salt.toString('hex'));
      meta.set('key_check', cipher.keyCheckValue());
    }
  }
  db.exec('PRAGMA journal_mode = WAL');
  db.exec(`PRAGMA synchronous = ${durability === 'full' ? 'FULL' : 'NORMAL'}`);
  db.exec('PRAGMA foreign_keys = OFF');
  db.exec('PRAGMA busy_timeout = 5000');
  db.exec('PRAGMA cache_size = -65536');
  db.exec(STORE_DDL);
  if (codec.encrypted) {
    // Sorts and temporary indexes over the (clear) index rows must not spill to a temporary file either.
    db.exec('PRAGMA temp_store = MEMORY');
    db.exec("ATTACH DATABASE ':memory:' AS idx");
    // Tables only: the repository loads them, then calls createIndexIndexes (src/store/sqliteRepository.ts).
    db.exec(indexTablesDdl('idx.'));
  } else {
    db.exec(indexTablesDdl('main.'));
    db.exec(indexIndexesDdl('main.'));
  }
  if (fresh) {
    db.exec('BEGIN IMMEDIATE');
    try {
      const insert = db.prepare('INSERT OR IGNORE INTO store_meta (key, value) VALUES (?, ?)');
      insert.run('schema_version', String(SCHEMA_VERSION));
      for (const [k, v] of meta) {
        insert.run(k, v);
      }
      db.exec('COMMIT');
    } catch (err) {
      db.exec('ROLLBACK');
      throw err;
    }
  }
  return codec;
}

/** `store_meta` as a map; empty for a new file (the table does not exist yet), read without creating anything. */
function readStoreMeta(db: DatabaseSync): Map<string, string> {
  const meta = new Map<string, string>();
  const exists = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'store_meta'").get();
  if (exists) {
    for (const row of db.prepare('SELECT key, value FROM store_meta').all()) {
      meta.set(String(row.key), String(row.value));
    }
  }
  return meta;
}
