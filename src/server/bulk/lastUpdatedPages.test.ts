import type { Patient } from '@medplum/fhirtypes';
import { lastUpdatedPages } from './lastUpdatedPages';
import { loadBaseDefinitions } from '../../fhir/definitions';
import { SqliteRepository } from '../../store/sqliteRepository';

describe('lastUpdatedPages (keyset paging of an export)', () => {
  let clock: number;
  let repo: SqliteRepository;

  beforeAll(() => loadBaseDefinitions());
  beforeEach(() => {
    clock = Date.UTC(2026, 0, 1);
    repo = new SqliteRepository({ path: ':memory:', baseUrl: 'http://x/fhir/R4', now: () => new Date(clock) });
  });
  afterEach(() => repo.close());

  async function createPatients(n: number, tick: number): Promise<string[]> {
    const ids: string[] = [];
    for (let i = 0; i < n; i++) {
      ids.push((await repo.createResource<Patient>({ resourceType: 'Patient', active: true })).id);
      clock += tick;
    }
    return ids;
  }

  async function readAll(pageSize: number, window = {}): Promise<string[]> {
    const ids: string[] = [];
    for await (const page of lastUpdatedPages(repo, { resourceType: 'Patient' }, window, pageSize)) {
      ids.push(...page.map((p) => p.id ?? ''));
    }
    return ids;
  }

  test('many resources stamped with the same millisecond span several pages, each read once', async () => {
    const ids = await createPatients(7, 0);
    const read = await readAll(2);
    expect(read).toHaveLength(7);
    expect(new Set(read)).toEqual(new Set(ids));
  });

  test('the window is (after, upTo]: strictly after _since, up to and including transactionTime', async () => {
    const ids = await createPatients(5, 1);
    const t0 = Date.UTC(2026, 0, 1);
    expect(await readAll(2, { after: t0 + 1, upTo: t0 + 3 })).toEqual(ids.slice(2, 4));
  });

  test('an update during paging moves that resource out of the window without skipping any other', async () => {
    const ids = await createPatients(6, 1);
    const upTo = clock - 1;
    const read: string[] = [];
    let updated = false;
    for await (const page of lastUpdatedPages(repo, { resourceType: 'Patient' }, { upTo }, 2)) {
      read.push(...page.map((p) => p.id ?? ''));
      if (!updated) {
        // An offset-paged reader would now skip ids[2]: the updated ids[0] leaves the window.
        const first = await repo.readResource<Patient>('Patient', ids[0]);
        await repo.updateResource<Patient>({ ...first, active: false });
        updated = true;
      }
    }
    expect(read).toEqual(ids);
  });
});
