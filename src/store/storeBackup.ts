import { randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream, existsSync, readdirSync, statSync } from 'node:fs';
import { mkdir, open, rename, rm, unlink } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { pipeline } from 'node:stream/promises';
import { internalFault, invalidInput } from '../fhir/outcomes';
import { sealStream, unsealStream } from './sealedFile';
import { StoreCipher } from './storeCipher';

/** The store's database file inside a data directory (src/store/sqliteStore.ts). */
const STORE_FILE = 'fhir.sqlite';

export interface BackupResult {
  /** Whether the store itself is encrypted (else only the backup file is). */
  readonly storeEncrypted: boolean;
  readonly bytes: number;
}

/**
 * `twin backup`: a consistent snapshot of the store, sealed with `key` into `out`.
 *
 * `VACUUM INTO` copies the database as one read transaction sees it, so it is consistent while `twin serve` keeps
 * writing (WAL readers do not block the writer). The snapshot is written inside the data directory (it holds what the
 * store holds, no more), sealed chunk by chunk (src/store/sealedFile.ts, purpose "backup") into a temporary file next
 * to `out`, flushed, renamed over `out`, and removed. An encrypted store is backed up only with its own key, checked
 * against its key check value first, so a backup is never sealed with a key that cannot open the store it holds.
 */
export async function backupStore(dataDir: string, out: string, key: Buffer): Promise<BackupResult> {
  const source = join(resolve(dataDir), STORE_FILE);
  if (!existsSync(source)) {
    throw invalidInput(`No store in ${dataDir} (no ${STORE_FILE})`);
  }
  const snapshot = join(resolve(dataDir), `.backup-${randomUUID()}.sqlite.tmp`);
  const target = resolve(out);
  const temp = join(dirname(target), `.${basename(target)}.${randomUUID()}.tmp`);
  let storeEncrypted: boolean;
  try {
    const db = new DatabaseSync(source);
    try {
      db.exec('PRAGMA busy_timeout = 5000');
      storeEncrypted = checkStoreKey(db, key, 'backup');
      db.prepare('VACUUM INTO ?').run(snapshot);
    } finally {
      db.close();
    }
    await pipeline(createReadStream(snapshot), sealStream(key, 'backup'), createWriteStream(temp, { mode: 0o600 }));
    await syncFile(temp);
    await rename(temp, target);
    await syncFile(dirname(target));
  } catch (err) {
    await unlink(temp).catch(() => undefined);
    throw err;
  } finally {
    await unlink(snapshot).catch(() => undefined);
  }
  return { storeEncrypted, bytes: statSync(target).size };
}

export interface RestoreOptions {
  /** Replace the store in a data directory that already holds files. */
  readonly force?: boolean;
}

export interface RestoreResult {
  readonly storeEncrypted: boolean;
  readonly resources: number;
}

/**
 * `twin restore`: opens a backup sealed with `key` into `dataDir/fhir.sqlite`. Every chunk is authenticated as it is
 * read (a changed byte, a truncated file or another key is refused), then the database passes `PRAGMA
 * integrity_check` and, for an encrypted store, its key check, all on a temporary file; only then does it replace
 * the store. A data directory holding anything is left alone unless `force` is given. The server must be stopped.
 */
export async function restoreStore(
  input: string,
  dataDir: string,
  key: Buffer,
  options: RestoreOptions = {}
): Promise<RestoreResult> {
  const dir = resolve(dataDir);
  if (!existsSync(input)) {
    throw invalidInput(`No backup file ${input}`);
  }
  if (existsSync(dir) && readdirSync(dir).length > 0 && !options.force) {
    throw invalidInput(`Data directory ${dataDir} is not empty; restore replaces its store only with --force`);
  }
  // A restore that fails leaves the folder as it found it: one it had to create is removed again.
  const created = !existsSync(dir);
  await mkdir(dir, { recursive: true });
  const temp = join(dir, `.restore-${randomUUID()}.sqlite.tmp`);
  try {
    await pipeline(createReadStream(input), unsealStream(key, 'backup'), createWriteStream(temp, { mode: 0o600 }));
    await syncFile(temp);
    let storeEncrypted: boolean;
    let resources: number;
    const db = new DatabaseSync(temp);
    try {
      const check = db.prepare('PRAGMA integrity_check').all();
      if (check.length !== 1 || String(check[0].integrity_check) !== 'ok') {
        throw internalFault('The restored database fails PRAGMA integrity_check');
      }
      storeEncrypted = checkStoreKey(db, key, 'restore');
      resources = Number(
        (db.prepare('SELECT COUNT(*) AS n FROM resources WHERE deleted = 0').get() as { n: number }).n
      );
    } finally {
      db.close();
    }
    const target = join(dir, STORE_FILE);
    // The old store's WAL must not be replayed onto the restored file.
    for (const suffix of ['-wal', '-shm', '']) {
      await rm(`${target}${suffix}`, { force: true });
    }
    await rename(temp, target);
    await syncFile(dir);
    return { storeEncrypted, resources };
  } catch (err) {
    await unlink(temp).catch(() => undefined);
    if (created) {
      await rm(dir, { recursive: true, force: true });
    }
    throw err;
  }
}

/** True for an encrypted store, after checking `key` is its key; a plain store accepts any backup key. */
function checkStoreKey(db: DatabaseSync, key: Buffer, action: 'backup' | 'restore'): boolean {
  const meta = new Map<string, string>();
  const hasMeta = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'store_meta'").get();
  if (!hasMeta) {
    throw invalidInput(`Not a recovery-twin store (no store_meta table)`);
  }
  for (const row of db.prepare('SELECT key, value FROM store_meta').all()) {
    meta.set(String(row.key), String(row.value));
  }
  if (meta.get('encryption') === undefined) {
    return false;
  }
  const cipher = new StoreCipher(key, Buffer.from(meta.get('kdf_salt') ?? '', 'hex'));
  if (!cipher.matchesKeyCheck(meta.get('key_check') ?? '')) {
    throw invalidInput(
      action === 'backup'
        ? 'This store is encrypted: its backup is sealed with the store key, and the key given does not match it'
        : 'The restored store is encrypted with another key than the one given'
    );
  }
  return true;
}

/** fsync a file or a directory; directories cannot be opened on some platforms, and there it is skipped. */
async function syncFile(path: string): Promise<void> {
  let handle;
  try {
    handle = await open(path, 'r');
    await handle.sync();
  } catch {
    // e.g. a directory on Windows: the rename is still atomic
  } finally {
    await handle?.close().catch(() => undefined);
  }
}
