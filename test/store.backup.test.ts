/**
 * `twin backup` / `twin restore` (src/store/storeBackup.ts): an encrypted snapshot taken while the store is open,
 * restored into a new data directory with equal reads; a changed byte, a wrong key and a non-empty target refused.
 */
import { OperationOutcomeError, parseSearchRequest, validateResource } from '@medplum/core';
import type { Observation, Patient, Resource } from '@medplum/fhirtypes';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadBaseDefinitions } from '../src/fhir/definitions';
import { SqliteRepository } from '../src/store/sqliteRepository';
import { backupStore, restoreStore } from '../src/store/storeBackup';

loadBaseDefinitions();

function open(dataDir: string, key?: Buffer): SqliteRepository {
  mkdirSync(dataDir, { recursive: true });
  return new SqliteRepository({
    path: join(dataDir, 'fhir.sqlite'),
    baseUrl: 'http://localhost/fhir/R4',
    validate: (r: Resource) => validateResource(r),
    ...(key ? { key } : {}),
  });
}

async function fill(repo: SqliteRepository): Promise<void> {
  await repo.updateResource<Patient>({ resourceType: 'Patient', id: 'p1', name: [{ family: 'Quixote' }] });
  for (let k = 0; k < 50; k++) {
    await repo.createResource<Observation>({
      resourceType: 'Observation',
      status: 'final',
      code: { coding: [{ system: 'http://loinc.org', code: '8867-4' }] },
      subject: { reference: 'Patient/p1' },
      effectiveDateTime: new Date(Date.UTC(2026, 0, 1) + k * 86_400_000).toISOString(),
      valueQuantity: { value: 60 + k, unit: '/min', system: 'http://unitsofmeasure.org', code: '/min' },
    });
  }
}

async function snapshotOf(repo: SqliteRepository): Promise<unknown> {
  const bundle = await repo.search(parseSearchRequest('Observation?subject=Patient/p1&_sort=date&_count=100'));
  return {
    patient: await repo.readResource('Patient', 'p1'),
    observations: bundle.entry?.map((e) => e.resource),
  };
}

async function refusal(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (err) {
    expect(err).toBeInstanceOf(OperationOutcomeError);
    return (err as OperationOutcomeError).outcome.issue?.[0]?.details?.text ?? '';
  }
  throw new Error('expected a refusal');
}

describe('backup and restore', () => {
  let root: string;
  const key = randomBytes(32);
  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'twin-backup-'));
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  test('encrypted store: backup while open, restore into a new directory, equal reads', async () => {
    const source = open(join(root, 'data'), key);
    await fill(source);
    const before = await snapshotOf(source);
    const out = join(root, 'backup.twin');
    const result = await backupStore(join(root, 'data'), out, key); // the store is still open, as under twin serve
    expect(result.storeEncrypted).toBe(true);
    expect(statSync(out).mode & 0o077).toBe(0);
    expect(readFileSync(out).subarray(0, 8).toString('ascii')).toBe('RTWINENC');
    source.close();

    const restored = await restoreStore(out, join(root, 'restored'), key);
    expect(restored).toEqual({ storeEncrypted: true, resources: 51 });
    const again = open(join(root, 'restored'), key);
    try {
      expect(await snapshotOf(again)).toEqual(before);
    } finally {
      again.close();
    }
  });

  test('a changed byte, a wrong key, a non-empty directory are refused; --force replaces', async () => {
    const source = open(join(root, 'data'), key);
    await fill(source);
    source.close();
    const out = join(root, 'backup.twin');
    await backupStore(join(root, 'data'), out, key);

    const tampered = join(root, 'tampered.twin');
    const bytes = readFileSync(out);
    bytes[Math.floor(bytes.length / 2)] ^= 0x01;
    writeFileSync(tampered, bytes);
    expect(await refusal(restoreStore(tampered, join(root, 't'), key))).toMatch(/damaged, truncated/);
    // The folder the failed restore had to create is gone again.
    expect(existsSync(join(root, 't'))).toBe(false);

    const truncated = join(root, 'truncated.twin');
    writeFileSync(truncated, readFileSync(out).subarray(0, readFileSync(out).length - 100));
    expect(await refusal(restoreStore(truncated, join(root, 'u'), key))).toMatch(/damaged, truncated/);

    expect(await refusal(restoreStore(out, join(root, 'w'), randomBytes(32)))).toMatch(/damaged, truncated/);
    expect(await refusal(backupStore(join(root, 'data'), join(root, 'x.twin'), randomBytes(32)))).toMatch(
      /key given does not match/
    );

    expect(await refusal(restoreStore(out, join(root, 'data'), key))).toMatch(/not empty.*--force/);
    await restoreStore(out, join(root, 'data'), key, { force: true });
    const again = open(join(root, 'data'), key);
    try {
      expect(again.countResources('Observation')).toBe(50);
    } finally {
      again.close();
    }
  });

  test('a plain store is backed up encrypted with a backup key', async () => {
    const backupKey = randomBytes(32);
    const source = open(join(root, 'data'));
    await fill(source);
    source.close();
    const out = join(root, 'backup.twin');
    expect((await backupStore(join(root, 'data'), out, backupKey)).storeEncrypted).toBe(false);
    const raw = readFileSync(out);
    for (const marker of ['Quixote', '"resourceType"', 'SQLite format 3']) {
      expect({ marker, found: raw.includes(Buffer.from(marker)) }).toEqual({ marker, found: false });
    }
    await restoreStore(out, join(root, 'restored'), backupKey);
    const again = open(join(root, 'restored'));
    try {
      expect((await again.readResource<Patient>('Patient', 'p1')).name?.[0]?.family).toBe('Quixote');
    } finally {
      again.close();
    }
  });
});
