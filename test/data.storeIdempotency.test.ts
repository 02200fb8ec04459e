import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseSource } from '../src/cli/importCommand';
import { generateCohort } from '../src/cohort/generateCohort';
import { buildImportBundles } from '../src/ingest/importers/importBundles';
import { postBundle } from '../src/server/postBundle';
import { openSqliteStore } from '../src/store/sqliteStore';
import { createEmbeddedRouter } from '../src/store/transactionBundle';

// End-to-end idempotency through the embedded server's own transaction path: posting the same generated or
// imported bundles twice creates nothing new (conditional create on deterministic identifiers).
test('re-posting seed and import bundles to the embedded store creates nothing new', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'rt-idem-'));
  const store = await openSqliteStore(dir, { baseUrl: 'http://localhost/fhir' });
  try {
    const router = createEmbeddedRouter();
    const count = async (resourceType: 'Observation' | 'Patient'): Promise<number | undefined> =>
      (await store.repo.search({ resourceType, total: 'accurate', count: 0 })).total;
    const [patient] = [...generateCohort({ patients: 1, days: 20, seed: 3, startDate: '2024-01-01' })];
    const bundle = patient?.bundle;
    if (!bundle) {
      throw new Error('no patient generated');
    }
    const observationsInBundle = (bundle.entry ?? []).filter((e) => e.resource?.resourceType === 'Observation').length;
    await postBundle(router, store.repo, bundle);
    expect(await count('Observation')).toBe(observationsInBundle);
    const again = await postBundle(router, store.repo, bundle);
    expect(await count('Observation')).toBe(observationsInBundle);
    expect(await count('Patient')).toBe(1);
    expect(again.entry?.every((e) => e.response?.status?.startsWith('200'))).toBe(true);

    const parsed = await parseSource('fitbit', join(__dirname, '..', 'fixtures', 'pmdata', 'p01'), { onError: 'skip' });
    const built = buildImportBundles(parsed);
    for (let round = 0; round < 2; round++) {
      for (const b of built.bundles) {
        await postBundle(router, store.repo, b.bundle);
      }
    }
    expect(await count('Observation')).toBe(observationsInBundle + built.imported);
    expect(await count('Patient')).toBe(2);
  } finally {
    store.close();
    await rm(dir, { recursive: true, force: true });
  }
});
