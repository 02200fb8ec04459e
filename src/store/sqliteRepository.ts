import {
  applyPatch,
  badRequest,
  conflict,
  formatSearchQuery,
  gone,
  notFound,
  OperationOutcomeError,
  parseReference,
  preconditionFailed,
  type Operation,
  type SearchRequest,
  type WithId,
} from '@medplum/core';
import {
  FhirRepository,
  getExtraEntries,
  type CreateResourceOptions,
  type DeleteResourceOptions,
  type ReadHistoryOptions,
  type RepositoryMode,
  type UpdateResourceOptions,
} from '@medplum/fhir-router';
import type { Bundle, BundleEntry, BundleLink, Parameters, Reference, Resource } from '@medplum/fhirtypes';
import { randomUUID } from 'node:crypto';
import { DatabaseSync, type StatementSync } from 'node:sqlite';
import { performance } from 'node:perf_hooks';
import { internalFault } from '../fhir/outcomes';
import { canonicalJson } from '../fhir/canonicalJson';
import { buildIndexRows } from './searchIndex';
import { compileSearch } from './searchSql';
import { createIndexIndexes, initSchema, type Durability } from './sqliteSchema';
import type { RowCodec } from './storeCipher';
import { WriteSerializer } from './writeSerializer';

export interface SqliteRepositoryOptions {
  /** Database file, or ':memory:' (one connection; for tests only: readers then see uncommitted writes). */
  readonly path: string;
  /** Public FHIR base URL, for `fullUrl` and paging links; a function when it is known only once the server listens. */
  readonly baseUrl: string | (() => string);
  /** Called with every resource before it is stored; throws an OperationOutcomeError to refuse it. */
  readonly validate?: (resource: Resource) => void;
  readonly now?: () => Date;
  readonly generateId?: () => string;
  readonly durability?: Durability;
  /** Page size when a search gives no `_count` (FHIR R4 search.html#count leaves it to the server). */
  readonly defaultCount?: number;
  readonly maxCount?: number;
  /**
   * The store key (32 bytes): a new store is created encrypted, an encrypted one is opened with it (README
   * "Encryption at rest and in transit"). Without it the store is a plain one.
   */
  readonly key?: Buffer;
}

/** What opening the store took; the search index of an encrypted store is rebuilt in memory at every open. */
export interface StoreOpenStats {
  readonly encrypted: boolean;
  readonly indexedResources: number;
  readonly indexRebuildMs: number;
}

/** Nested repository calls inside one transaction between two turns given to the event loop. */
const YIELD_EVERY_STEPS = 16;

interface ResourceRow {
  pk: number;
  /** As stored: the resource id, or its keyed hash in an encrypted store. */
  id: string;
  version: number;
  last_updated: number;
  deleted: number;
  content: string | Uint8Array | null;
}

/**
 * A durable FHIR repository on node:sqlite, for the embedded server (docs/ARCHITECTURE.md "Where it runs").
 *
 * Every write is one SQLite transaction (resource row, history row, index rows), so a crash leaves each write whole
 * or absent; bundles of type `transaction` run inside one outer transaction with a savepoint per nested call.
 * Searches run on indexed tables (see searchIndex.ts / searchSql.ts) on a separate reader connection, which under WAL
 * sees only committed data.
 */
export class SqliteRepository extends FhirRepository {
  private readonly writer: DatabaseSync;
  private readonly reader: DatabaseSync;
  private readonly serializer = new WriteSerializer();
  private readonly statements = new Map<DatabaseSync, Map<string, StatementSync>>();
  private readonly paramIds = new Map<string, number>();
  private readonly now: () => Date;
  private readonly newId: () => string;
  private readonly defaultCount: number;
  private readonly maxCount: number;
  private readonly codec: RowCodec;
  private closed = false;
  private topLevelSteps = 0;
  readonly openStats: StoreOpenStats;

  constructor(private readonly options: SqliteRepositoryOptions) {
    super();
    this.writer = new DatabaseSync(options.path);
    try {
      this.codec = initSchema(this.writer, options.durability ?? 'full', options.key);
    } catch (err) {
      this.writer.close();
      throw err;
    }
    // An encrypted store keeps its search index in an in-memory database attached to this one connection, which a
    // second (reader) connection could not see: it reads on the writer, as a ':memory:' store does.
    this.reader =
      options.path === ':memory:' || this.codec.encrypted
        ? this.writer
        : new DatabaseSync(options.path, { readOnly: true });
    if (this.reader !== this.writer) {
      this.reader.exec('PRAGMA busy_timeout = 5000');
    }
    this.now = options.now ?? ((): Date => new Date());
    this.newId = options.generateId ?? randomUUID;
    this.defaultCount = options.defaultCount ?? 50;
    this.maxCount = options.maxCount ?? 1000;
    for (const row of this.writer.prepare('SELECT param_id, name FROM search_params').all()) {
      this.paramIds.set(String(row.name), Number(row.param_id));
    }
    this.openStats = this.codec.encrypted
      ? this.rebuildIndex()
      : { encrypted: false, indexedResources: 0, indexRebuildMs: 0 };
  }

  /**
   * Indexes every live resource of an encrypted store into the in-memory index, with the same code as a write
   * (buildIndexRows), in one transaction. Each content is authenticated on the way: a store whose file was altered
   * does not open.
   */
  private rebuildIndex(): StoreOpenStats {
    const t0 = performance.now();
    let indexed = 0;
    this.writer.exec('BEGIN');
    try {
      const rows = this.writer
        .prepare('SELECT pk, rt, id, version, content FROM resources WHERE deleted = 0 AND content IS NOT NULL')
        .iterate() as Iterable<{ pk: number; rt: string; id: string; version: number; content: Uint8Array }>;
      for (const row of rows) {
        const json = this.codec.open(row.content, { resourceType: row.rt, storedId: row.id, version: row.version });
        this.insertIndexRows(row.pk, JSON.parse(json) as Resource);
        indexed++;
      }
      // Sorting each index once after the load is cheaper than keeping every B-tree ordered row by row.
      createIndexIndexes(this.writer);
      this.writer.exec('COMMIT');
    } catch (err) {
      this.writer.exec('ROLLBACK');
      this.writer.close();
      throw err;
    }
    return { encrypted: true, indexedResources: indexed, indexRebuildMs: performance.now() - t0 };
  }

  /** The JSON of a stored content column, unsealed and checked against its row in an encrypted store. */
  private contentJson(resourceType: string, storedId: string, version: number, content: string | Uint8Array): string {
    return this.codec.open(content, { resourceType, storedId, version });
  }

  private storedId(resourceType: string, id: string): string {
    return this.codec.storedId(resourceType, id);
  }

  private baseUrl(): string {
    const { baseUrl } = this.options;
    return typeof baseUrl === 'function' ? baseUrl() : baseUrl;
  }

  close(): void {
    if (!this.closed) {
      this.closed = true;
      if (this.reader !== this.writer) {
        this.reader.close();
      }
      this.writer.close();
    }
  }

  setMode(_mode: RepositoryMode): void {
    // One process, one database: readers and writers see the same committed data.
  }

  generateId(): string {
    return this.newId();
  }

  // ---------------------------------------------------------------- transactions

  async withTransaction<TResult>(callback: (txRepo: this) => Promise<TResult>): Promise<TResult> {
    const scope = this.serializer.current();
    if (scope) {
      // A long transaction (a large Bundle) gives the event loop a turn every few writes, so reads on the reader
      // connection, /healthz and new requests are served meanwhile; other writes still wait for the writer.
      if (++scope.steps % YIELD_EVERY_STEPS === 0) {
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
      // Nested: a savepoint, so a failed inner step (e.g. a conditional create) can be undone on its own.
      const name = `sp${++scope.savepoints}`;
      this.writer.exec(`SAVEPOINT ${name}`);
      try {
        const result = await callback(this);
        this.writer.exec(`RELEASE ${name}`);
        return result;
      } catch (err) {
        this.writer.exec(`ROLLBACK TO ${name}`);
        this.writer.exec(`RELEASE ${name}`);
        throw err;
      } finally {
        scope.savepoints--;
      }
    }
    // Back-to-back top-level writes (a batch Bundle runs one per entry) also leave the event loop a turn now and then.
    if (++this.topLevelSteps % YIELD_EVERY_STEPS === 0) {
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    return this.serializer.exclusive(async () => {
      this.writer.exec('BEGIN IMMEDIATE');
      try {
        const result = await callback(this);
        this.writer.exec('COMMIT');
        return result;
      } catch (err) {
        this.writer.exec('ROLLBACK');
        throw err;
      }
    });
  }

  /** Reads inside a transaction must see its own uncommitted writes; all others read committed data only. */
  private readDb(): DatabaseSync {
    return this.serializer.current() ? this.writer : this.reader;
  }

  private stmt(db: DatabaseSync, sql: string): StatementSync {
    let cache = this.statements.get(db);
    if (!cache) {
      cache = new Map();
      this.statements.set(db, cache);
    }
    let s = cache.get(sql);
    if (!s) {
      s = db.prepare(sql);
      cache.set(sql, s);
    }
    return s;
  }

  // ---------------------------------------------------------------- writes

  async createResource<T extends Resource>(resource: T, options?: CreateResourceOptions): Promise<WithId<T>> {
    return this.withTransaction(async () => {
      const id = options?.assignedId && resource.id ? resource.id : this.generateId();
      const existing = this.currentRow(this.writer, resource.resourceType, id);
      if (existing) {
        throw new OperationOutcomeError(conflict(`${resource.resourceType}/${id} already exists`));
      }
      return this.writeVersion({ ...resource, id }, undefined);
    });
  }

  async updateResource<T extends Resource>(resource: T, options?: UpdateResourceOptions): Promise<WithId<T>> {
    if (!resource.id) {
      throw new OperationOutcomeError(badRequest('Missing id', `${resource.resourceType}.id`));
    }
    const id = resource.id;
    return this.withTransaction(async () => {
      const existing = this.currentRow(this.writer, resource.resourceType, id);
      // FHIR R4 http.html#concurrency: If-Match carries the version the client last saw.
      if (options?.ifMatch !== undefined && String(existing?.version ?? '') !== stripEtag(options.ifMatch)) {
        throw new OperationOutcomeError(preconditionFailed);
      }
      if (existing && !existing.deleted && existing.content) {
        const current = JSON.parse(
          this.contentJson(resource.resourceType, existing.id, existing.version, existing.content)
        ) as WithId<T>;
        if (sameContent(current, resource)) {
          // Nothing changed: no new version, so replayed conditional updates leave no trace.
          return current;
        }
      }
      // Update as create for an unknown id is allowed (FHIR R4 http.html#upsert); it keeps the client's id.
      return this.writeVersion({ ...resource, id }, existing);
    });
  }

  async patchResource<T extends Resource>(
    resourceType: T['resourceType'],
    id: string,
    patch: Operation[] | Parameters,
    options?: UpdateResourceOptions
  ): Promise<WithId<T>> {
    if (!Array.isArray(patch)) {
      throw new OperationOutcomeError(badRequest('Only JSON Patch (application/json-patch+json) is supported'));
    }
    return this.withTransaction(async () => {
      const current = await this.readResource<T>(resourceType, id);
      const patched = structuredClone(current) as T;
      refuseInheritedPaths(patch);
      let errors: { message: string }[];
      try {
        errors = applyPatch(patched, patch).flatMap((e) => (e === null ? [] : [e]));
      } catch {
        // A malformed operation (a path into a primitive, a missing `value`) throws instead of reporting.
        throw new OperationOutcomeError(badRequest('Invalid JSON Patch'));
      }
      if (errors.length > 0) {
        throw new OperationOutcomeError(badRequest(`Invalid JSON Patch: ${errors.map((e) => e.message).join('; ')}`));
      }
      if (patched.resourceType !== resourceType || patched.id !== id) {
        throw new OperationOutcomeError(badRequest('A patch may not change resourceType or id'));
      }
      return this.updateResource(patched, options);
    });
  }

  async deleteResource(resourceType: string, id: string, options?: DeleteResourceOptions): Promise<void> {
    await this.withTransaction(async () => {
      const existing = this.currentRow(this.writer, resourceType, id);
      if (!existing) {
        throw new OperationOutcomeError(notFound);
      }
      if (options?.ifMatch !== undefined && String(existing.version) !== stripEtag(options.ifMatch)) {
        throw new OperationOutcomeError(preconditionFailed);
      }
      if (existing.deleted) {
        return; // deleting again succeeds and changes nothing (FHIR R4 http.html#delete)
      }
      const version = existing.version + 1;
      const lastUpdated = this.now().getTime();
      this.stmt(
        this.writer,
        'UPDATE resources SET version = ?, last_updated = ?, deleted = 1, content = NULL WHERE pk = ?'
      ).run(version, lastUpdated, existing.pk);
      // An encrypted store cannot name the deleted resource from its hashed id: the deletion's history row keeps a
      // sealed tombstone ({resourceType, id}) so type history can still list it (FHIR R4 http.html#history).
      const tombstone = this.codec.encrypted
        ? this.codec.seal(JSON.stringify({ resourceType, id }), {
            resourceType,
            storedId: existing.id,
            version,
          })
        : null;
      this.stmt(
        this.writer,
        'INSERT INTO history (pk, version, last_updated, deleted, content) VALUES (?, ?, ?, 1, ?)'
      ).run(existing.pk, version, lastUpdated, tombstone);
      this.deleteIndexRows(existing.pk);
    });
  }

  /**
   * Erasure: removes resources and every version of them, by (type, id), for a patient's request to erase what was
   * derived from their data (GDPR Art. 17). Unlike a FHIR delete (R4 http.html#delete: the history stays and a read
   * answers 410) nothing remains: no row, no history, no index. Keys only: content is never read here. With
   * `secure_delete` the freed pages are overwritten with zeros, and a WAL checkpoint afterwards moves the change
   * out of the log. Returns how many resources were removed (unknown keys count 0, so a rerun removes nothing).
   */
  async purgeResources(keys: ReadonlyArray<{ readonly resourceType: string; readonly id: string }>): Promise<number> {
    this.writer.exec('PRAGMA secure_delete = ON');
    const purged = await this.withTransaction(async () => {
      let count = 0;
      for (const { resourceType, id } of keys) {
        // The stored id: the id itself, or its keyed hash in an encrypted store (storeCipher.ts).
        const row = this.stmt(this.writer, 'SELECT pk FROM resources WHERE rt = ? AND id = ?').get(
          resourceType,
          this.storedId(resourceType, id)
        ) as { pk: number } | undefined;
        if (!row) {
          continue;
        }
        this.deleteIndexRows(row.pk);
        this.stmt(this.writer, 'DELETE FROM history WHERE pk = ?').run(row.pk);
        this.stmt(this.writer, 'DELETE FROM resources WHERE pk = ?').run(row.pk);
        count++;
      }
      return count;
    });
    if (purged > 0) {
      this.writer.exec('PRAGMA wal_checkpoint(TRUNCATE)');
    }
    return purged;
  }

  /** Stamps meta, validates, and writes the resource row, its history row and its index rows. */
  private writeVersion<T extends Resource>(resource: T & { id: string }, existing: ResourceRow | undefined): WithId<T> {
    const version = (existing?.version ?? 0) + 1;
    const lastUpdated = this.now();
    const stored = {
      ...resource,
      meta: { ...resource.meta, versionId: String(version), lastUpdated: lastUpdated.toISOString() },
    } as WithId<T>;
    this.options.validate?.(stored);
    const storedId = existing?.id ?? this.storedId(stored.resourceType, stored.id);
    const content = this.codec.seal(JSON.stringify(stored), {
      resourceType: stored.resourceType,
      storedId,
      version,
    });
    let pk: number;
    if (existing) {
      pk = existing.pk;
      this.stmt(
        this.writer,
        'UPDATE resources SET version = ?, last_updated = ?, deleted = 0, content = ? WHERE pk = ?'
      ).run(version, lastUpdated.getTime(), content, pk);
      this.deleteIndexRows(pk);
    } else {
      const result = this.stmt(
        this.writer,
        'INSERT INTO resources (rt, id, version, last_updated, deleted, content) VALUES (?, ?, ?, ?, 0, ?)'
      ).run(stored.resourceType, storedId, version, lastUpdated.getTime(), content);
      pk = Number(result.lastInsertRowid);
    }
    this.stmt(
      this.writer,
      'INSERT INTO history (pk, version, last_updated, deleted, content) VALUES (?, ?, ?, 0, ?)'
    ).run(pk, version, lastUpdated.getTime(), content);
    this.insertIndexRows(pk, stored);
    return stored;
  }

  private insertIndexRows(pk: number, resource: Resource): void {
    const rows = buildIndexRows(resource);
    const w = this.writer;
    for (const r of rows.token) {
      this.stmt(w, 'INSERT INTO idx_token (pk, param_id, system, code) VALUES (?, ?, ?, ?)').run(
        pk,
        this.paramId(r.key),
        r.system,
        r.code
      );
    }
    for (const r of rows.ref) {
      this.stmt(w, 'INSERT INTO idx_ref (pk, param_id, ref, ref_id) VALUES (?, ?, ?, ?)').run(
        pk,
        this.paramId(r.key),
        r.ref,
        r.refId
      );
    }
    for (const r of rows.date) {
      this.stmt(w, 'INSERT INTO idx_date (pk, param_id, lo, hi) VALUES (?, ?, ?, ?)').run(
        pk,
        this.paramId(r.key),
        r.lo,
        r.hi
      );
    }
    for (const r of rows.string) {
      this.stmt(w, 'INSERT INTO idx_string (pk, param_id, value) VALUES (?, ?, ?)').run(
        pk,
        this.paramId(r.key),
        r.value
      );
    }
    for (const r of rows.number) {
      this.stmt(w, 'INSERT INTO idx_number (pk, param_id, value, system, code) VALUES (?, ?, ?, ?, ?)').run(
        pk,
        this.paramId(r.key),
        r.value,
        r.system,
        r.code
      );
    }
  }

  private deleteIndexRows(pk: number): void {
    for (const table of ['idx_token', 'idx_ref', 'idx_date', 'idx_string', 'idx_number']) {
      this.stmt(this.writer, `DELETE FROM ${table} WHERE pk = ?`).run(pk);
    }
  }

  /** Id of a search parameter key, registered on first use (inside the current write transaction). */
  private paramId(key: string): number {
    let id = this.paramIds.get(key);
    if (id === undefined) {
      const result = this.stmt(this.writer, 'INSERT INTO search_params (name) VALUES (?)').run(key);
      id = Number(result.lastInsertRowid);
      this.paramIds.set(key, id);
    }
    return id;
  }

  /**
   * Looks a parameter id up for a search. Read from the database rather than the in-memory map alone: a write
   * transaction that registered a new parameter may have rolled back, leaving the map ahead of the database.
   */
  private lookupParamId(db: DatabaseSync, key: string): number | undefined {
    const row = this.stmt(db, 'SELECT param_id FROM search_params WHERE name = ?').get(key);
    return row ? Number(row.param_id) : undefined;
  }

  // ---------------------------------------------------------------- reads

  private currentRow(db: DatabaseSync, resourceType: string, id: string): ResourceRow | undefined {
    return this.stmt(
      db,
      'SELECT pk, id, version, last_updated, deleted, content FROM resources WHERE rt = ? AND id = ?'
    ).get(resourceType, this.storedId(resourceType, id)) as ResourceRow | undefined;
  }

  async readResource<T extends Resource>(resourceType: string, id: string): Promise<WithId<T>> {
    const row = this.currentRow(this.readDb(), resourceType, id);
    if (!row) {
      throw new OperationOutcomeError(notFound);
    }
    if (row.deleted || !row.content) {
      throw new OperationOutcomeError(gone);
    }
    return JSON.parse(this.contentJson(resourceType, row.id, row.version, row.content)) as WithId<T>;
  }

  async readReference<T extends Resource>(reference: Reference<T>): Promise<WithId<T>> {
    let parts: [T['resourceType'], string];
    try {
      parts = parseReference(reference);
    } catch {
      throw new OperationOutcomeError(badRequest('Invalid reference'));
    }
    return this.readResource<T>(parts[0], parts[1]);
  }

  async readReferences<T extends Resource>(references: readonly Reference<T>[]): Promise<(T | Error)[]> {
    return Promise.all(
      references.map((ref) =>
        this.readReference(ref).catch((err: unknown) => (err instanceof Error ? err : new Error(String(err))))
      )
    );
  }

  async readVersion<T extends Resource>(resourceType: string, id: string, vid: string): Promise<WithId<T>> {
    const db = this.readDb();
    const current = this.currentRow(db, resourceType, id);
    if (!current) {
      throw new OperationOutcomeError(notFound);
    }
    const version = Number.parseInt(vid, 10);
    const row = this.stmt(db, 'SELECT deleted, content FROM history WHERE pk = ? AND version = ?').get(
      current.pk,
      version
    ) as { deleted: number; content: string | Uint8Array | null } | undefined;
    if (!row || !/^\d+$/.test(vid)) {
      throw new OperationOutcomeError(notFound);
    }
    if (row.deleted || !row.content) {
      throw new OperationOutcomeError(gone);
    }
    return JSON.parse(this.contentJson(resourceType, current.id, version, row.content)) as WithId<T>;
  }

  /** Newest version first (FHIR R4 http.html#history), deletions included as entries without a resource. */
  async readHistory<T extends Resource>(
    resourceType: string,
    id: string,
    options?: ReadHistoryOptions & { readonly since?: number }
  ): Promise<Bundle<WithId<T>>> {
    const db = this.readDb();
    const current = this.currentRow(db, resourceType, id);
    if (!current) {
      throw new OperationOutcomeError(notFound);
    }
    const limit = Math.min(options?.limit ?? this.maxCount, this.maxCount);
    const offset = options?.offset ?? 0;
    const rows = this.stmt(
      db,
      'SELECT version, last_updated, deleted, content FROM history WHERE pk = ? AND last_updated >= ? ORDER BY version DESC LIMIT ? OFFSET ?'
    ).all(current.pk, options?.since ?? Number.MIN_SAFE_INTEGER, limit, offset) as {
      version: number;
      last_updated: number;
      deleted: number;
      content: string | Uint8Array | null;
    }[];
    const entry: BundleEntry<WithId<T>>[] = rows.map((row) => this.historyEntry<T>(resourceType, id, current.id, row));
    const total = Number(
      (
        this.stmt(db, 'SELECT COUNT(*) AS n FROM history WHERE pk = ? AND last_updated >= ?').get(
          current.pk,
          options?.since ?? Number.MIN_SAFE_INTEGER
        ) as { n: number }
      ).n
    );
    // FHIR JSON has no empty arrays (R4 json.html#arrays).
    return { resourceType: 'Bundle', type: 'history', total, ...(entry.length ? { entry } : {}) };
  }

  /**
   * Type history (FHIR R4 http.html#history): every version of every resource of a type, newest first, optionally
   * since an instant, paged with `_count` / `_offset`.
   */
  async readTypeHistory<T extends Resource>(
    resourceType: string,
    options: { readonly limit?: number; readonly offset?: number; readonly since?: number } = {}
  ): Promise<Bundle<WithId<T>>> {
    const db = this.readDb();
    const limit = Math.max(0, Math.min(options.limit ?? this.defaultCount, this.maxCount));
    const offset = Math.max(0, options.offset ?? 0);
    const since = options.since ?? Number.MIN_SAFE_INTEGER;
    const rows = this.stmt(
      db,
      `SELECT r.id, h.version, h.last_updated, h.deleted, h.content FROM history h JOIN resources r ON r.pk = h.pk
       WHERE r.rt = ? AND h.last_updated >= ? ORDER BY h.last_updated DESC, h.pk DESC, h.version DESC LIMIT ? OFFSET ?`
    ).all(resourceType, since, limit, offset) as {
      id: string;
      version: number;
      last_updated: number;
      deleted: number;
      content: string | Uint8Array | null;
    }[];
    const total = Number(
      (
        this.stmt(
          db,
          'SELECT COUNT(*) AS n FROM history h JOIN resources r ON r.pk = h.pk WHERE r.rt = ? AND h.last_updated >= ?'
        ).get(resourceType, since) as { n: number }
      ).n
    );
    const entry: BundleEntry<WithId<T>>[] = rows.map((row) =>
      this.historyEntry<T>(resourceType, this.realId(resourceType, row), row.id, row)
    );
    const link: BundleLink[] = [];
    if (offset + rows.length < total && limit > 0) {
      link.push({
        relation: 'next',
        url: `${this.baseUrl()}/${resourceType}/_history?_count=${limit}&_offset=${offset + limit}`,
      });
    }
    return {
      resourceType: 'Bundle',
      type: 'history',
      total,
      ...(link.length ? { link } : {}),
      ...(entry.length ? { entry } : {}),
    };
  }

  /** The resource id of a history row: the stored id in a plain store, read from the sealed content otherwise. */
  private realId(
    resourceType: string,
    row: { id: string; version: number; content: string | Uint8Array | null }
  ): string {
    if (!this.codec.encrypted) {
      return row.id;
    }
    if (!row.content) {
      throw internalFault(`A ${resourceType} history row has no content to name its resource`);
    }
    return (JSON.parse(this.contentJson(resourceType, row.id, row.version, row.content)) as { id: string }).id;
  }

  private historyEntry<T extends Resource>(
    resourceType: string,
    id: string,
    storedId: string,
    row: { version: number; last_updated: number; deleted: number; content: string | Uint8Array | null }
  ): BundleEntry<WithId<T>> {
    const url = `${resourceType}/${id}`;
    const response = {
      status: row.deleted ? '410' : row.version === 1 ? '201' : '200',
      etag: `W/"${row.version}"`,
      lastModified: new Date(row.last_updated).toISOString(),
    };
    if (row.deleted || !row.content) {
      return { fullUrl: `${this.baseUrl()}/${url}`, request: { method: 'DELETE', url }, response };
    }
    return {
      fullUrl: `${this.baseUrl()}/${url}`,
      resource: JSON.parse(this.contentJson(resourceType, storedId, row.version, row.content)) as WithId<T>,
      request: { method: row.version === 1 ? 'POST' : 'PUT', url: row.version === 1 ? resourceType : url },
      response,
    };
  }

  // ---------------------------------------------------------------- search

  async search<T extends Resource>(searchRequest: SearchRequest<T>): Promise<Bundle<WithId<T>>> {
    if (searchRequest.types && searchRequest.types.length > 0) {
      throw new OperationOutcomeError(badRequest('Searching several resource types at once is not supported'));
    }
    const db = this.readDb();
    const compiled = compileSearch(
      searchRequest,
      (key) => this.lookupParamId(db, key),
      (type, id) => this.storedId(type, id)
    );
    const count = Math.max(0, Math.min(searchRequest.count ?? this.defaultCount, this.maxCount));
    const offset = Math.max(0, searchRequest.offset ?? 0);
    const rows = this.stmt(
      db,
      `SELECT r.id, r.version, r.content FROM resources r WHERE ${compiled.where} ORDER BY ${compiled.orderBy} LIMIT ? OFFSET ?`
    ).all(...compiled.whereParams, ...compiled.orderParams, count + 1, offset) as {
      id: string;
      version: number;
      content: string | Uint8Array;
    }[];
    // `_count=0` asks for the total only (FHIR R4 search.html#count): no entries and no next page.
    const hasNext = count > 0 && rows.length > count;
    const resources = rows
      .slice(0, count)
      .map(
        (row) => JSON.parse(this.contentJson(searchRequest.resourceType, row.id, row.version, row.content)) as WithId<T>
      );
    const entry: BundleEntry<WithId<T>>[] = resources.map((resource) => ({
      fullUrl: `${this.baseUrl()}/${resource.resourceType}/${resource.id}`,
      resource,
      search: { mode: 'match' },
    }));
    if (resources.length > 0 && (searchRequest.include?.length || searchRequest.revInclude?.length)) {
      await getExtraEntries(this, searchRequest, resources, entry as BundleEntry[], {
        fullUrl: (type, id) => `${this.baseUrl()}/${type}/${id}`,
      });
    }
    let total: number | undefined;
    if (searchRequest.total === 'accurate' || searchRequest.total === 'estimate') {
      total = Number(
        (
          this.stmt(db, `SELECT COUNT(*) AS n FROM resources r WHERE ${compiled.where}`).get(
            ...compiled.whereParams
          ) as {
            n: number;
          }
        ).n
      );
    }
    return {
      resourceType: 'Bundle',
      type: 'searchset',
      total,
      link: this.pageLinks(searchRequest, count, offset, hasNext),
      // FHIR JSON has no empty arrays (R4 json.html#arrays): an empty page has no `entry` at all.
      entry: entry.length > 0 ? entry : undefined,
    };
  }

  /** `self`, `first`, `previous` and `next` links (FHIR R4 http.html#paging), offset-based. */
  private pageLinks(request: SearchRequest, count: number, offset: number, hasNext: boolean): BundleLink[] {
    // Medplum's formatter writes the element list as its own `_fields`; the FHIR name, which this server (and any
    // other a client may hand the link to) accepts, is `_elements` (R4 search.html#elements).
    const url = (o: number): string =>
      `${this.baseUrl()}/${request.resourceType}${formatSearchQuery({ ...request, count, offset: o || undefined }).replace(/([?&])_fields=/, '$1_elements=')}`;
    const links: BundleLink[] = [
      { relation: 'self', url: url(offset) },
      { relation: 'first', url: url(0) },
    ];
    if (offset > 0) {
      links.push({ relation: 'previous', url: url(Math.max(0, offset - count)) });
    }
    if (hasNext) {
      links.push({ relation: 'next', url: url(offset + count) });
    }
    return links;
  }

  async searchByReference<T extends Resource>(
    searchRequest: SearchRequest<T>,
    referenceField: string,
    references: string[]
  ): Promise<Record<string, WithId<T>[]>> {
    const results: Record<string, WithId<T>[]> = {};
    for (const reference of references) {
      const bundle = await this.search({
        ...searchRequest,
        filters: [...(searchRequest.filters ?? []), { code: referenceField, operator: 'eq', value: reference }],
      });
      results[reference] = (bundle.entry ?? []).flatMap((e) => (e.resource ? [e.resource] : []));
    }
    return results;
  }

  /** Number of live resources of a type; for start-up checks and tests. */
  countResources(resourceType: string): number {
    const row = this.stmt(this.readDb(), 'SELECT COUNT(*) AS n FROM resources WHERE rt = ? AND deleted = 0').get(
      resourceType
    ) as {
      n: number;
    };
    return Number(row.n);
  }
}

/** JSON Pointer tokens (RFC 6901) that name members every object inherits; no FHIR element is called so. */
const INHERITED_TOKENS: ReadonlySet<string> = new Set(['__proto__', 'constructor', 'prototype']);

/** A patch may not walk into an object's prototype (`/__proto__/x`, `/constructor/prototype/x`). */
function refuseInheritedPaths(patch: Operation[]): void {
  for (const [i, op] of patch.entries()) {
    for (const pointer of [op.path, (op as { from?: unknown }).from]) {
      if (typeof pointer !== 'string') {
        continue;
      }
      const tokens = pointer.split('/').map((t) => t.replaceAll('~1', '/').replaceAll('~0', '~'));
      if (tokens.some((t) => INHERITED_TOKENS.has(t))) {
        throw new OperationOutcomeError(
          badRequest('A JSON Patch path names no element of the resource', `[${i}].path`)
        );
      }
    }
  }
}

function stripEtag(etag: string): string {
  const m = /^(?:W\/)?"?([^"]*)"?$/.exec(etag.trim());
  return m ? m[1] : etag;
}

/** Equal apart from the server-assigned meta.versionId and meta.lastUpdated. */
function sameContent(a: Resource, b: Resource): boolean {
  const strip = (r: Resource): Resource => {
    const meta = { ...r.meta };
    delete meta.versionId;
    delete meta.lastUpdated;
    return { ...r, meta: Object.keys(meta).length ? meta : undefined };
  };
  return canonicalJson(strip(a)) === canonicalJson(strip(b));
}
