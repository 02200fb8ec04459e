/**
 * Encryption at rest of the embedded store (README "Encryption at rest and in transit"): what a store written with a
 * key leaves on disk, and that it reads back, searches, and refuses a wrong or missing key.
 */
import { OperationOutcomeError, parseSearchRequest, validateResource } from '@medplum/core';
import type { Observation, Patient, Resource } from '@medplum/fhirtypes';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadBaseDefinitions } from '../src/fhir/definitions';
import { SqliteRepository } from '../src/store/sqliteRepository';
import { loadStoreKey } from '../src/store/storeKey';

loadBaseDefinitions();
const BASE = 'http://localhost/fhir/R4';
const NAME = 'Zebulon Quixote';
const IDENTIFIER = 'MRN-7731-QXZ';
/** Not a clinical code: a made-up local code system, so the marker is unique in the file. */
const OBS_SYSTEM = 'urn:example:recovery-twin-test';
const OBS_CODE = 'marker-code-4417';
const OBS_VALUE = 987.654;
const MARKERS = [
  'Zebulon',
  'Quixote',
  IDENTIFIER,
  OBS_CODE,
  String(OBS_VALUE),
  '"resourceType"',
  'pat-zq',
  'obs-zq',
  '2026-03-14',
];

function open(path: string, key?: Buffer, clock = { t: Date.UTC(2026, 2, 14) }): SqliteRepository {
  return new SqliteRepository({
    path,
    baseUrl: BASE,
    validate: (r: Resource) => validateResource(r),
    now: () => new Date((clock.t += 1000)),
    ...(key ? { key } : {}),
  });
}

function assertNoMarkers(path: string): void {
  for (const file of [path, `${path}-wal`]) {
    if (!existsSync(file)) {
      continue;
    }
    const bytes = readFileSync(file);
    for (const marker of MARKERS) {
      expect({ file: file.slice(-12), marker, found: bytes.includes(Buffer.from(marker, 'utf8')) }).toEqual({
        file: file.slice(-12),
        marker,
        found: false,
      });
    }
  }
}

function outcomeText(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(OperationOutcomeError);
    return (err as OperationOutcomeError).outcome.issue?.[0]?.details?.text ?? '';
  }
  throw new Error('expected a refusal');
}

describe('encrypted store', () => {
  let dir: string;
  let path: string;
  const key = randomBytes(32);

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'twin-crypt-'));
    path = join(dir, 'fhir.sqlite');
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  async function writeMarkers(repo: SqliteRepository): Promise<void> {
    await repo.updateResource<Patient>({
      resourceType: 'Patient',
      id: 'pat-zq',
      name: [{ family: 'Quixote', given: ['Zebulon'], text: NAME }],
      identifier: [{ system: 'urn:example:mrn', value: IDENTIFIER }],
      birthDate: '1961-07-02',
    });
    await repo.updateResource<Observation>({
      resourceType: 'Observation',
      id: 'obs-zq',
      status: 'preliminary',
      code: { coding: [{ system: OBS_SYSTEM, code: OBS_CODE }] },
      subject: { reference: 'Patient/pat-zq' },
      effectiveDateTime: '2026-03-14T09:30:00Z',
      valueQuantity: { value: OBS_VALUE, unit: 'mg', system: 'http://unitsofmeasure.org', code: 'mg' },
    });
    // A second version, so history and vread have something to tell apart.
    await repo.updateResource<Observation>({
      resourceType: 'Observation',
      id: 'obs-zq',
      status: 'final',
      code: { coding: [{ system: OBS_SYSTEM, code: OBS_CODE }] },
      subject: { reference: 'Patient/pat-zq' },
      effectiveDateTime: '2026-03-14T09:30:00Z',
      valueQuantity: { value: OBS_VALUE, unit: 'mg', system: 'http://unitsofmeasure.org', code: 'mg' },
    });
    const gone = await repo.createResource<Patient>({ resourceType: 'Patient', name: [{ family: 'Quixote' }] });
    await repo.deleteResource('Patient', gone.id);
  }

  test('no marker nor "resourceType" in the database or WAL bytes; reopened with the key, reads and searches work', async () => {
    const repo = open(path, key);
    expect(repo.openStats.encrypted).toBe(true);
    await writeMarkers(repo);
    // While open: the WAL holds the recent commits.
    assertNoMarkers(path);
    repo.close();
    assertNoMarkers(path);

    const again = open(path, key);
    try {
      expect(again.openStats).toMatchObject({ encrypted: true, indexedResources: 2 });
      const patient = await again.readResource<Patient>('Patient', 'pat-zq');
      expect(patient.name?.[0]?.text).toBe(NAME);
      const search = async (q: string): Promise<string[]> =>
        ((await again.search(parseSearchRequest(q))).entry ?? []).map((e) => `${e.resource?.id}`);
      expect(await search(`Patient?identifier=urn:example:mrn|${IDENTIFIER}`)).toEqual(['pat-zq']); // token
      expect(await search('Patient?name=zebulon')).toEqual(['pat-zq']); // string
      expect(await search('Patient?_id=pat-zq')).toEqual(['pat-zq']); // _id through the hashed id column
      expect(await search('Observation?subject=Patient/pat-zq')).toEqual(['obs-zq']); // reference
      expect(await search(`Observation?code=${OBS_SYSTEM}|${OBS_CODE}&date=ge2026-03-14&date=lt2026-03-15`)).toEqual([
        'obs-zq',
      ]); // token + date range
      expect(await search('Observation?date=ge2026-03-15')).toEqual([]);
      expect(await search(`Observation?value-quantity=${OBS_VALUE}`)).toEqual(['obs-zq']); // number
      // History and vread round trip.
      const history = await again.readHistory<Observation>('Observation', 'obs-zq');
      expect(history.entry?.map((e) => e.resource?.status)).toEqual(['final', 'preliminary']);
      expect((await again.readVersion<Observation>('Observation', 'obs-zq', '1')).status).toBe('preliminary');
      const typeHistory = await again.readTypeHistory<Patient>('Patient');
      expect(typeHistory.entry?.map((e) => e.request?.method)).toEqual(['DELETE', 'POST', 'POST']);
      expect(typeHistory.entry?.[2]?.resource?.id).toBe('pat-zq');
      // A write after reopening is indexed too.
      await again.updateResource<Patient>({ resourceType: 'Patient', id: 'pat-zq2', name: [{ family: 'Quixote' }] });
      expect(await search('Patient?family=quixote&_sort=_lastUpdated')).toEqual(['pat-zq', 'pat-zq2']);
    } finally {
      again.close();
    }
    assertNoMarkers(path);
  });

  test('control: the same writes to a plain store leave every marker readable in its files', async () => {
    const repo = open(path);
    await writeMarkers(repo);
    const bytes = Buffer.concat([readFileSync(path), readFileSync(`${path}-wal`)]);
    repo.close();
    for (const marker of MARKERS) {
      expect({ marker, found: bytes.includes(Buffer.from(marker, 'utf8')) }).toEqual({ marker, found: true });
    }
  });

  test('a wrong key, no key, and a key on a plain store are refused', async () => {
    const repo = open(path, key);
    await writeMarkers(repo);
    repo.close();
    expect(outcomeText(() => open(path, randomBytes(32)))).toMatch(/store key does not match/);
    expect(outcomeText(() => open(path))).toMatch(/This store is encrypted/);

    const plainPath = join(dir, 'plain.sqlite');
    open(plainPath).close();
    expect(outcomeText(() => open(plainPath, key))).toMatch(/not encrypted/);
  });

  test('a sealed content moved to another row does not open', async () => {
    const repo = open(path, key);
    await writeMarkers(repo);
    repo.close();
    // Swap the contents of the two live resources' rows with a separate connection, as an attacker with the file could.
    const { DatabaseSync } = await import('node:sqlite');
    const db = new DatabaseSync(path);
    const rows = db.prepare('SELECT pk, content FROM resources WHERE deleted = 0 ORDER BY pk').all();
    db.prepare('UPDATE resources SET content = ? WHERE pk = ?').run(rows[1].content, rows[0].pk);
    db.close();
    expect(outcomeText(() => open(path, key))).toMatch(/fails authentication/);
  });
});

describe('store key sources', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'twin-key-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  test('hex and base64 in the environment, a 0600 key file; a 0644 key file and a short key are refused', () => {
    const key = randomBytes(32);
    expect(loadStoreKey({ env: { TWIN_STORE_KEY: key.toString('hex') } })).toEqual(key);
    expect(loadStoreKey({ env: { TWIN_STORE_KEY: key.toString('base64') } })).toEqual(key);
    expect(loadStoreKey({ env: {} })).toBeUndefined();
    const file = join(dir, 'store.key');
    writeFileSync(file, `${key.toString('base64')}\n`);
    chmodSync(file, 0o600);
    expect(loadStoreKey({ env: {}, keyFile: file })).toEqual(key);
    expect(loadStoreKey({ env: { TWIN_STORE_KEY_FILE: file } })).toEqual(key);
    chmodSync(file, 0o644);
    expect(outcomeText(() => loadStoreKey({ env: {}, keyFile: file }))).toMatch(/accessible to other users.*chmod 600/);
    expect(outcomeText(() => loadStoreKey({ env: { TWIN_STORE_KEY: randomBytes(16).toString('hex') } }))).toMatch(
      /32 random bytes/
    );
  });
});
