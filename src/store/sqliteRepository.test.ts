import { getStatus, parseSearchRequest, validateResource, type WithId } from '@medplum/core';
import type { FhirRequest } from '@medplum/fhir-router';
import type { Bundle, BundleEntry, Observation, Patient, Resource } from '@medplum/fhirtypes';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadBaseDefinitions } from '../fhir/definitions';
import { SqliteRepository } from './sqliteRepository';
import { createEmbeddedRouter } from './transactionBundle';

const BASE = 'http://localhost/fhir/R4';
loadBaseDefinitions();

function heartRate(subject: string, day: string, value: number, extra: Partial<Observation> = {}): Observation {
  return {
    resourceType: 'Observation',
    status: 'final',
    category: [
      { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'vital-signs' }] },
    ],
    code: { coding: [{ system: 'http://loinc.org', code: '8867-4', display: 'Heart rate' }] },
    subject: { reference: subject },
    effectiveDateTime: `${day}T08:00:00Z`,
    valueQuantity: { value, unit: 'beats/minute', system: 'http://unitsofmeasure.org', code: '/min' },
    ...extra,
  };
}

function request(
  method: FhirRequest['method'],
  url: string,
  body?: unknown,
  headers: Record<string, string> = {}
): FhirRequest {
  return { method, url, pathname: '', body, params: {}, query: {}, headers, config: { transactions: true } };
}

describe('SqliteRepository', () => {
  let dir: string;
  let repo: SqliteRepository;
  let clock: number;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'twin-store-'));
    clock = Date.UTC(2026, 0, 1);
    repo = new SqliteRepository({
      path: join(dir, 'fhir.sqlite'),
      baseUrl: BASE,
      validate: (r: Resource) => validateResource(r),
      now: () => new Date((clock += 1000)),
    });
  });

  afterEach(() => {
    repo.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('create, read, update with versions, history newest first, vread', async () => {
    const p = await repo.createResource<Patient>({ resourceType: 'Patient', name: [{ family: 'Okafor' }] });
    expect(p.meta?.versionId).toBe('1');
    const p2 = await repo.updateResource<Patient>({ ...p, name: [{ family: 'Okafor-Lund' }] });
    expect(p2.meta?.versionId).toBe('2');
    const read = await repo.readResource<Patient>('Patient', p.id);
    expect(read.name?.[0].family).toBe('Okafor-Lund');
    const history = await repo.readHistory('Patient', p.id);
    expect(history.entry?.map((e) => e.resource?.meta?.versionId)).toEqual(['2', '1']);
    const v1 = await repo.readVersion<Patient>('Patient', p.id, '1');
    expect(v1.name?.[0].family).toBe('Okafor');
  });

  test('an update that changes nothing creates no new version', async () => {
    const p = await repo.createResource<Patient>({ resourceType: 'Patient', gender: 'female' });
    const again = await repo.updateResource<Patient>({ resourceType: 'Patient', id: p.id, gender: 'female' });
    expect(again.meta?.versionId).toBe('1');
    expect((await repo.readHistory('Patient', p.id)).entry).toHaveLength(1);
  });

  test('If-Match with a stale version is refused with 412', async () => {
    const p = await repo.createResource<Patient>({ resourceType: 'Patient', gender: 'female' });
    await repo.updateResource({ ...p, gender: 'male' }, { ifMatch: '1' });
    await expect(repo.updateResource({ ...p, gender: 'other' }, { ifMatch: '1' })).rejects.toMatchObject({
      outcome: { issue: [expect.objectContaining({ code: 'processing' })] },
    });
    expect((await repo.readResource<Patient>('Patient', p.id)).gender).toBe('male');
  });

  test('delete gives 410 on read and keeps history', async () => {
    const p = await repo.createResource<Patient>({ resourceType: 'Patient' });
    await repo.deleteResource('Patient', p.id);
    await expect(repo.readResource('Patient', p.id)).rejects.toMatchObject({
      outcome: { issue: [expect.objectContaining({ code: 'deleted' })] },
    });
    const history = await repo.readHistory('Patient', p.id);
    expect(history.entry?.map((e) => e.response?.status)).toEqual(['410', '201']);
    await expect(repo.readResource('Patient', 'no-such-id')).rejects.toMatchObject({
      outcome: { issue: [expect.objectContaining({ code: 'not-found' })] },
    });
  });

  test('invalid resources are refused and nothing is stored', async () => {
    await expect(
      repo.createResource({ resourceType: 'Observation', status: 'final' } as Observation)
    ).rejects.toMatchObject({ outcome: { issue: [expect.objectContaining({ expression: ['Observation.code'] })] } });
    expect(repo.countResources('Observation')).toBe(0);
  });

  describe('search', () => {
    let a: WithId<Patient>;
    beforeEach(async () => {
      a = await repo.createResource<Patient>({
        resourceType: 'Patient',
        name: [{ family: 'Müller', given: ['Ana'] }],
        identifier: [{ system: 'urn:test', value: 'A' }],
        birthDate: '1990-05-01',
      });
      const b = await repo.createResource<Patient>({ resourceType: 'Patient', name: [{ family: 'Smith' }] });
      for (let d = 1; d <= 20; d++) {
        const day = `2026-02-${String(d).padStart(2, '0')}`;
        await repo.createResource(heartRate(`Patient/${a.id}`, day, 50 + d));
        await repo.createResource(heartRate(`Patient/${b.id}`, day, 70 + d));
      }
      await repo.createResource<Observation>({
        ...heartRate(`Patient/${a.id}`, '2026-02-05', 12),
        code: { coding: [{ system: 'http://loinc.org', code: '9279-1' }] },
      });
    });

    async function ids(query: string): Promise<number[]> {
      const bundle = await repo.search<Observation>(parseSearchRequest(query));
      return (bundle.entry ?? []).map((e) => e.resource?.valueQuantity?.value as number);
    }

    test('subject + code + date range', async () => {
      const q = `Observation?subject=Patient/${a.id}&code=http://loinc.org|8867-4&date=ge2026-02-10&date=lt2026-02-13`;
      expect(await ids(q)).toEqual([60, 61, 62]);
      expect(await ids(`Observation?patient=${a.id}&code=9279-1`)).toEqual([12]);
      expect(await ids(`Observation?subject=Patient/${a.id}&date=2026-02-03`)).toEqual([53]);
    });

    test('quantity prefixes, token :not, missing', async () => {
      expect(await ids(`Observation?value-quantity=gt89`)).toEqual([90]);
      expect(await ids(`Observation?value-quantity=le51&code=8867-4`)).toEqual([51]);
      expect(await ids(`Observation?value-quantity=60|http://unitsofmeasure.org|/min`)).toEqual([60]);
      expect(await ids(`Observation?value-quantity=60||mg`)).toEqual([]);
      expect(await ids(`Observation?subject=Patient/${a.id}&code:not=8867-4`)).toEqual([12]);
      expect(await ids(`Observation?encounter:missing=false`)).toEqual([]);
    });

    test('string search folds case and accents; token identifier', async () => {
      const names = async (q: string): Promise<string[]> =>
        ((await repo.search<Patient>(parseSearchRequest(q))).entry ?? []).map(
          (e) => e.resource?.name?.[0].family ?? ''
        );
      expect(await names('Patient?name=mul')).toEqual(['Müller']);
      expect(await names('Patient?family:exact=muller')).toEqual(['Müller']);
      expect(await names('Patient?name:contains=MIT')).toEqual(['Smith']);
      expect(await names('Patient?identifier=urn:test|A')).toEqual(['Müller']);
      expect(await names('Patient?birthdate=1990')).toEqual(['Müller']);
      expect(await names(`Patient?_id=${a.id}`)).toEqual(['Müller']);
    });

    test('paging with next links, sort, total', async () => {
      const page1 = await repo.search<Observation>(
        parseSearchRequest(`Observation?subject=Patient/${a.id}&code=8867-4&_sort=-date&_count=5&_total=accurate`)
      );
      expect(page1.total).toBe(20);
      expect(page1.entry?.map((e) => e.resource?.valueQuantity?.value)).toEqual([70, 69, 68, 67, 66]);
      const next = page1.link?.find((l) => l.relation === 'next')?.url;
      expect(next).toContain('_offset=5');
      const page2 = await repo.search<Observation>(parseSearchRequest(next!.replace(BASE + '/', '')));
      expect(page2.entry?.map((e) => e.resource?.valueQuantity?.value)).toEqual([65, 64, 63, 62, 61]);
      const totalOnly = await repo.search(
        parseSearchRequest(`Observation?subject=Patient/${a.id}&_count=0&_total=accurate`)
      );
      expect(totalOnly.total).toBe(21);
      expect(totalOnly.entry).toBeUndefined();
      expect(totalOnly.link?.some((l) => l.relation === 'next')).toBe(false);
      const last = await repo.search(
        parseSearchRequest(`Observation?subject=Patient/${a.id}&code=8867-4&_count=5&_offset=15`)
      );
      expect(last.link?.some((l) => l.relation === 'next')).toBe(false);
    });

    test('_include brings the subject', async () => {
      const bundle = await repo.search(parseSearchRequest(`Observation?code=9279-1&_include=Observation:subject`));
      expect(bundle.entry?.map((e) => e.resource?.resourceType).sort()).toEqual(['Observation', 'Patient']);
    });

    test('unknown or unsupported parameters are refused, not ignored', async () => {
      await expect(repo.search(parseSearchRequest('Observation?colour=blue'))).rejects.toMatchObject({
        outcome: { issue: [expect.objectContaining({ code: 'invalid' })] },
      });
      expect(() => parseSearchRequest('Observation?code-value-quantity=x')).toThrow(/composite/);
      await expect(repo.search(parseSearchRequest('Observation?subject:Patient.name=x'))).rejects.toThrow(
        /not supported/
      );
      await expect(repo.search(parseSearchRequest('Observation?value-quantity=high'))).rejects.toThrow(
        /Invalid number/
      );
      expect(() => parseSearchRequest('Observation?date=yesterday')).toThrow(/Invalid format for date/);
    });
  });

  describe('through the FhirRouter', () => {
    test('a search the parser cannot read is a 400, not a 500', async () => {
      const [outcome] = await createEmbeddedRouter().handleRequest(
        request('GET', '/Observation?code-value-quantity=x'),
        repo
      );
      expect(getStatus(outcome)).toBe(400);
    });

    test('conditional create is idempotent', async () => {
      const router = createEmbeddedRouter();
      const patient: Patient = { resourceType: 'Patient', identifier: [{ system: 'urn:test', value: 'P1' }] };
      const [o1, r1] = await router.handleRequest(
        request('POST', '/Patient', patient, { 'if-none-exist': 'identifier=urn:test|P1' }),
        repo
      );
      const [o2, r2] = await router.handleRequest(
        request('POST', '/Patient', patient, { 'if-none-exist': 'identifier=urn:test|P1' }),
        repo
      );
      expect(o1.issue?.[0].code).toBe('informational');
      expect(o2.issue?.[0].code).toBe('informational');
      expect(r1?.id).toBe(r2?.id);
      expect(repo.countResources('Patient')).toBe(1);
    });

    test('a transaction is all or nothing, and a large conditional one is accepted', async () => {
      const router = createEmbeddedRouter();
      const entries: BundleEntry[] = Array.from({ length: 30 }, (_, i) => ({
        fullUrl: `urn:uuid:00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
        resource: { resourceType: 'Patient', identifier: [{ system: 'urn:test', value: `T${i}` }] },
        request: { method: 'POST' as const, url: 'Patient', ifNoneExist: `identifier=urn:test|T${i}` },
      }));
      const good: Bundle = { resourceType: 'Bundle', type: 'transaction', entry: entries };
      const [ok, res] = await router.handleRequest(request('POST', '/', good), repo);
      expect(ok.issue?.[0].severity).toBe('information');
      expect((res as Bundle).type).toBe('transaction-response');
      expect(repo.countResources('Patient')).toBe(30);
      // replay: nothing new
      await router.handleRequest(request('POST', '/', good), repo);
      expect(repo.countResources('Patient')).toBe(30);

      const bad: Bundle = {
        resourceType: 'Bundle',
        type: 'transaction',
        entry: [
          { resource: { resourceType: 'Patient', gender: 'female' }, request: { method: 'POST', url: 'Patient' } },
          {
            resource: { resourceType: 'Observation', status: 'final' } as Observation,
            request: { method: 'POST', url: 'Observation' },
          },
        ],
      };
      const [outcome] = await router.handleRequest(request('POST', '/', bad), repo);
      expect(outcome.issue?.[0].severity).toBe('error');
      expect(repo.countResources('Patient')).toBe(30);
      expect(repo.countResources('Observation')).toBe(0);
    });

    test('urn:uuid references inside a transaction are rewritten', async () => {
      const router = createEmbeddedRouter();
      const bundle: Bundle = {
        resourceType: 'Bundle',
        type: 'transaction',
        entry: [
          {
            fullUrl: 'urn:uuid:11111111-1111-4111-8111-111111111111',
            resource: { resourceType: 'Patient' },
            request: { method: 'POST', url: 'Patient' },
          },
          {
            resource: heartRate('urn:uuid:11111111-1111-4111-8111-111111111111', '2026-03-01', 60),
            request: { method: 'POST', url: 'Observation' },
          },
        ],
      };
      await router.handleRequest(request('POST', '/', bundle), repo);
      const obs = await repo.searchResources<Observation>(parseSearchRequest('Observation?code=8867-4'));
      const patientId = (await repo.searchResources<Patient>(parseSearchRequest('Patient')))[0].id;
      expect(obs[0].subject?.reference).toBe(`Patient/${patientId}`);
    });
  });

  test('data survives reopening', async () => {
    const p = await repo.createResource<Patient>({ resourceType: 'Patient', gender: 'male' });
    repo.close();
    repo = new SqliteRepository({ path: join(dir, 'fhir.sqlite'), baseUrl: BASE });
    expect((await repo.readResource<Patient>('Patient', p.id)).gender).toBe('male');
  });
});
