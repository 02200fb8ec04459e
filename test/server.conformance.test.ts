import { MedplumClient } from '@medplum/core';
import type {
  Bundle,
  CapabilityStatement,
  DocumentReference,
  Observation,
  OperationOutcome,
  Parameters,
  Patient,
  Practitioner,
} from '@medplum/fhirtypes';
import { Client, type FhirResource } from 'fhir-kit-client';
import type { Resource } from '@medplum/fhirtypes';
import { openEvidenceEngine } from '../src/evidence/evidenceEngine';
import { startEmbeddedTestServer, type EmbeddedTestServer } from './support/embeddedTestServer';

/** fhir-kit-client types resources loosely; ours are the @medplum/fhirtypes ones. */
function kitBody(resource: Resource): FhirResource {
  return resource as unknown as FhirResource;
}

/**
 * Two real FHIR clients, fhir-kit-client and @medplum/core's MedplumClient, drive the embedded server as
 * `twin serve` assembles it. Every interaction, system interaction and operation the CapabilityStatement declares
 * is exercised (the last test checks that nothing declared was left out), and what the server answers is what the
 * specification says it answers (FHIR R4 http.html).
 */
describe('conformance: fhir-kit-client and MedplumClient against the CapabilityStatement', () => {
  let server: EmbeddedTestServer;
  let fkc: Client;
  let medplum: MedplumClient;
  let statement: CapabilityStatement;
  /** `client interaction` pairs, e.g. `fkc read`, `medplum $twin-refresh`. */
  const exercised = new Set<string>();
  const both = (interaction: string): void => {
    exercised.add(`fkc ${interaction}`);
    exercised.add(`medplum ${interaction}`);
  };

  beforeAll(async () => {
    const evidence = await openEvidenceEngine({ env: {}, log: () => undefined });
    server = await startEmbeddedTestServer({
      evidence: { ...evidence, now: () => '2026-03-01T09:00:00Z' },
      simulate: { library: evidence.library, today: () => '2026-03-01' },
    });
    fkc = new Client({ baseUrl: server.baseUrl });
    medplum = new MedplumClient({
      baseUrl: `${server.origin}/`,
      fhirUrlPath: 'fhir/R4',
      cacheTime: 0,
      fetch: (url: string | URL | Request, init?: RequestInit) => fetch(url, init),
    });
  });

  afterAll(async () => {
    await server.close();
  });

  /** The HTTP status of a fhir-kit-client failure. */
  async function fkcStatus(call: Promise<unknown>): Promise<number> {
    try {
      await call;
      return 200;
    } catch (err) {
      return (err as { response?: { status?: number } }).response?.status ?? -1;
    }
  }

  test('capabilities: both clients read the CapabilityStatement; it names operations the server serves', async () => {
    statement = (await fkc.capabilityStatement()) as unknown as CapabilityStatement;
    const viaMedplum = await medplum.get<CapabilityStatement>(medplum.fhirUrl('metadata'));
    both('capabilities');
    expect(viaMedplum.rest?.[0]?.resource?.length).toBe(statement.rest?.[0]?.resource?.length);
    expect(statement.fhirVersion).toBe('4.0.1');
    const patient = statement.rest?.[0]?.resource?.find((r) => r.type === 'Patient');
    expect(patient?.operation?.map((o) => o.name).sort()).toEqual([
      'export',
      'match-evidence',
      'simulate',
      'twin-refresh',
    ]);
    // No Medplum-internal search parameter is promised.
    const names = new Set(statement.rest?.[0]?.resource?.flatMap((r) => (r.searchParam ?? []).map((p) => p.name)));
    expect(names.has('_project')).toBe(false);
    expect(names.has('_compartment')).toBe(false);
    // Every OperationDefinition named by this server's own canonical is readable on the server.
    const ours = (statement.rest?.[0]?.resource ?? [])
      .flatMap((r) => r.operation ?? [])
      .filter((o) => o.definition.startsWith('https://recovery-twin.dev/'));
    expect(ours.length).toBeGreaterThanOrEqual(3);
    for (const op of ours) {
      const found = await medplum.searchOne('OperationDefinition', { url: op.definition });
      expect(found?.url).toBe(op.definition);
      const read = (await fkc.read({ resourceType: 'OperationDefinition', id: found?.id as string })) as unknown as {
        code?: string;
      };
      expect(read.code).toBe(op.name);
    }
  });

  test('create, read, vread, update, patch, delete and history with fhir-kit-client', async () => {
    const created = (await fkc.create({
      resourceType: 'Patient',
      body: { resourceType: 'Patient', name: [{ family: 'Kit' }], birthDate: '1980-02-03' },
    })) as unknown as Patient;
    exercised.add('fkc create');
    expect(created.meta?.versionId).toBe('1');
    const id = created.id as string;

    const read = (await fkc.read({ resourceType: 'Patient', id })) as unknown as Patient;
    exercised.add('fkc read');
    expect(read.name?.[0]?.family).toBe('Kit');

    const updated = (await fkc.update({
      resourceType: 'Patient',
      id,
      body: { ...read, gender: 'female' },
      options: { headers: { 'If-Match': `W/"${read.meta?.versionId}"` } },
    })) as unknown as Patient;
    exercised.add('fkc update');
    expect(updated.meta?.versionId).toBe('2');
    // A stale ETag is refused (http.html#concurrency).
    expect(
      await fkcStatus(
        fkc.update({
          resourceType: 'Patient',
          id,
          body: { ...read, gender: 'male' },
          options: { headers: { 'If-Match': 'W/"1"' } },
        })
      )
    ).toBe(412);

    const patched = (await fkc.patch({
      resourceType: 'Patient',
      id,
      jsonPatch: [{ op: 'add', path: '/active', value: true }],
    })) as unknown as Patient;
    exercised.add('fkc patch');
    expect(patched.active).toBe(true);

    const v1 = (await fkc.vread({ resourceType: 'Patient', id, version: '1' })) as unknown as Patient;
    exercised.add('fkc vread');
    expect(v1.gender).toBeUndefined();

    const history = (await fkc.history({ resourceType: 'Patient', id })) as unknown as Bundle;
    exercised.add('fkc history-instance');
    expect(history.type).toBe('history');
    expect(history.entry?.map((e) => e.response?.etag)).toEqual(['W/"3"', 'W/"2"', 'W/"1"']);

    const typeHistory = (await fkc.history({ resourceType: 'Patient' })) as unknown as Bundle;
    exercised.add('fkc history-type');
    expect(typeHistory.type).toBe('history');
    expect(typeHistory.entry?.some((e) => e.fullUrl?.endsWith(`/Patient/${id}`))).toBe(true);

    await fkc.delete({ resourceType: 'Patient', id });
    exercised.add('fkc delete');
    expect(await fkcStatus(fkc.read({ resourceType: 'Patient', id }))).toBe(410);
  });

  test('create, read, vread, update, patch, delete and history with MedplumClient', async () => {
    const created = await medplum.createResource<Patient>({ resourceType: 'Patient', name: [{ family: 'Plum' }] });
    exercised.add('medplum create');
    const read = await medplum.readResource('Patient', created.id);
    exercised.add('medplum read');
    expect(read.name?.[0]?.family).toBe('Plum');

    const updated = await medplum.updateResource<Patient>({ ...read, gender: 'other' });
    exercised.add('medplum update');
    expect(updated.meta?.versionId).toBe('2');

    const patched = await medplum.patchResource('Patient', created.id, [
      { op: 'replace', path: '/gender', value: 'unknown' },
    ]);
    exercised.add('medplum patch');
    expect(patched.gender).toBe('unknown');

    const v2 = await medplum.readVersion('Patient', created.id, '2');
    exercised.add('medplum vread');
    expect(v2.gender).toBe('other');

    const history = await medplum.readHistory('Patient', created.id);
    exercised.add('medplum history-instance');
    expect(history.entry?.length).toBe(3);

    const typeHistory = await medplum.get<Bundle>(medplum.fhirUrl('Patient', '_history'));
    exercised.add('medplum history-type');
    expect(typeHistory.entry?.some((e) => e.resource?.id === created.id)).toBe(true);

    await medplum.deleteResource('Patient', created.id);
    exercised.add('medplum delete');
    await expect(medplum.readResource('Patient', created.id)).rejects.toThrow();
  });

  test('PUT on a new id creates the resource and answers 201 (update as create)', async () => {
    const viaFetch = await fetch(`${server.baseUrl}/Patient/upsert-1`, {
      method: 'PUT',
      headers: { 'Content-Type': 'application/fhir+json' },
      body: JSON.stringify({ resourceType: 'Patient', id: 'upsert-1' }),
    });
    expect(viaFetch.status).toBe(201);
    expect(viaFetch.headers.get('location')).toBe(`${server.baseUrl}/Patient/upsert-1/_history/1`);
    const again = await medplum.updateResource<Patient>({ resourceType: 'Patient', id: 'upsert-1', active: true });
    expect(again.meta?.versionId).toBe('2');
  });

  test('conditional create, update and delete, with both clients', async () => {
    const identifier = { system: 'urn:example:mrn', value: 'c-1' };
    const first = await medplum.createResourceIfNoneExist<Patient>(
      { resourceType: 'Patient', identifier: [identifier] },
      'identifier=urn:example:mrn|c-1'
    );
    const second = await medplum.createResourceIfNoneExist<Patient>(
      { resourceType: 'Patient', identifier: [identifier] },
      'identifier=urn:example:mrn|c-1'
    );
    expect(second.id).toBe(first.id);
    exercised.add('medplum conditional-create');

    const viaKit = (await fkc.create({
      resourceType: 'Patient',
      body: { resourceType: 'Patient', identifier: [identifier] },
      options: { headers: { 'If-None-Exist': 'identifier=urn:example:mrn|c-1' } },
    })) as unknown as Patient;
    expect(viaKit.id).toBe(first.id);
    exercised.add('fkc conditional-create');

    const upserted = await medplum.upsertResource<Patient>(
      { resourceType: 'Patient', identifier: [identifier], active: true },
      { identifier: 'urn:example:mrn|c-1' }
    );
    expect(upserted.id).toBe(first.id);
    exercised.add('medplum conditional-update');
    const viaKitUpdate = (await fkc.update({
      resourceType: 'Patient',
      searchParams: { identifier: 'urn:example:mrn|c-1' },
      body: { resourceType: 'Patient', identifier: [identifier], active: false },
    })) as unknown as Patient;
    expect(viaKitUpdate.id).toBe(first.id);
    expect(viaKitUpdate.active).toBe(false);
    exercised.add('fkc conditional-update');

    await fkc.request('Patient?identifier=urn:example:mrn|c-1', { method: 'DELETE' });
    exercised.add('fkc conditional-delete');
    expect(await fkcStatus(fkc.read({ resourceType: 'Patient', id: first.id }))).toBe(410);
    await medplum.createResource<Patient>({ resourceType: 'Patient', identifier: [{ ...identifier, value: 'c-2' }] });
    await medplum.delete(medplum.fhirUrl('Patient').toString() + '?identifier=urn:example:mrn|c-2');
    exercised.add('medplum conditional-delete');
    expect(await medplum.searchResources('Patient', { identifier: 'urn:example:mrn|c-2' })).toHaveLength(0);
  });

  test('search with paging, _include, _revinclude, _summary and _elements', async () => {
    const patient = await medplum.createResource<Patient>({ resourceType: 'Patient', name: [{ family: 'Search' }] });
    for (let i = 0; i < 3; i++) {
      await medplum.createResource<Observation>({
        resourceType: 'Observation',
        status: 'final',
        code: { coding: [{ system: 'http://loinc.org', code: '8867-4' }] },
        subject: { reference: `Patient/${patient.id}` },
        valueQuantity: { value: 60 + i, unit: '/min', system: 'http://unitsofmeasure.org', code: '/min' },
        effectiveDateTime: `2025-01-0${i + 1}T08:00:00Z`,
        note: [{ text: 'Measured at rest' }],
      });
    }
    const page = (await fkc.search({
      resourceType: 'Observation',
      searchParams: { subject: `Patient/${patient.id}`, _count: '2', _sort: 'date' },
    })) as unknown as Bundle;
    exercised.add('fkc search-type');
    expect(page.entry).toHaveLength(2);
    const next = (await fkc.nextPage({ bundle: page } as never)) as unknown as Bundle;
    expect(next.entry).toHaveLength(1);

    const withPatient = await medplum.search('Observation', {
      subject: `Patient/${patient.id}`,
      _include: 'Observation:subject',
    });
    exercised.add('medplum search-type');
    expect(withPatient.entry?.filter((e) => e.search?.mode === 'include').map((e) => e.resource?.id)).toEqual([
      patient.id,
    ]);

    // The request clients send most: a patient and everything that points at it.
    const rev = (await fkc.search({
      resourceType: 'Patient',
      searchParams: { _id: patient.id, _revinclude: 'Observation:subject' },
    })) as unknown as Bundle;
    expect(rev.entry?.filter((e) => e.resource?.resourceType === 'Observation')).toHaveLength(3);
    exercised.add('fkc _revinclude');
    const revPlum = await medplum.search('Patient', { _id: patient.id, _revinclude: 'Observation:subject' });
    expect(revPlum.entry).toHaveLength(4);
    exercised.add('medplum _revinclude');

    const summary = await medplum.search('Observation', { subject: `Patient/${patient.id}`, _summary: 'true' });
    const first = summary.entry?.[0]?.resource as Observation;
    expect(first.meta?.tag?.some((t) => t.code === 'SUBSETTED')).toBe(true);
    expect(first.valueQuantity).toBeDefined(); // Observation.value is a summary element
    expect(first.note).toBeUndefined(); // Observation.note is not
    const elements = (await fkc.read({
      resourceType: 'Patient',
      id: patient.id,
      options: { headers: {} },
      searchParams: { _elements: 'birthDate' },
    } as never)) as unknown as Patient;
    expect(elements.id).toBe(patient.id);
    const count = await medplum.search('Observation', { subject: `Patient/${patient.id}`, _summary: 'count' });
    expect(count.total).toBe(3);
    expect(count.entry).toBeUndefined();

    // What is not supported is refused, not ignored (search.html#errors).
    expect(
      await fkcStatus(fkc.search({ resourceType: 'Observation', searchParams: { 'subject:Patient.name': 'Search' } }))
    ).toBe(400);
    expect(
      await fkcStatus(
        fkc.search({ resourceType: 'Patient', searchParams: { '_has:Observation:subject:status': 'final' } })
      )
    ).toBe(400);
  });

  test('batch and transaction, with both clients', async () => {
    const transaction: Bundle = {
      resourceType: 'Bundle',
      type: 'transaction',
      entry: [
        {
          fullUrl: 'urn:uuid:5d1f2c3a-0000-4000-8000-000000000001',
          resource: { resourceType: 'Organization', name: 'Clinic', identifier: [{ system: 'urn:org', value: 'o-1' }] },
          request: { method: 'POST', url: 'Organization' },
        },
        {
          resource: {
            resourceType: 'Patient',
            managingOrganization: { reference: 'urn:uuid:5d1f2c3a-0000-4000-8000-000000000001' },
          },
          request: { method: 'POST', url: 'Patient' },
        },
      ],
    };
    const response = (await fkc.transaction({ body: kitBody(transaction) })) as unknown as Bundle;
    exercised.add('fkc transaction');
    expect(response.type).toBe('transaction-response');
    const patientRef = /Patient\/[^/]+/.exec(response.entry?.[1]?.response?.location ?? '')?.[0] as string;
    const orgRef = /Organization\/[^/]+/.exec(response.entry?.[0]?.response?.location ?? '')?.[0] as string;
    const stored = await medplum.readReference<Patient>({ reference: patientRef });
    expect(stored.managingOrganization?.reference).toBe(orgRef);

    // A conditional reference is resolved against the store (http.html#trules).
    const conditional = await medplum.executeBatch({
      resourceType: 'Bundle',
      type: 'transaction',
      entry: [
        {
          resource: {
            resourceType: 'Patient',
            managingOrganization: { reference: 'Organization?identifier=urn:org|o-1' },
          },
          request: { method: 'POST', url: 'Patient' },
        },
      ],
    });
    exercised.add('medplum transaction');
    const conditionalRef = /Patient\/[^/]+/.exec(conditional.entry?.[0]?.response?.location ?? '')?.[0] as string;
    expect((await medplum.readReference<Patient>({ reference: conditionalRef })).managingOrganization?.reference).toBe(
      orgRef
    );

    const batch: Bundle = {
      resourceType: 'Bundle',
      type: 'batch',
      entry: [
        { request: { method: 'GET', url: patientRef } },
        { request: { method: 'GET', url: 'Patient/does-not-exist' } },
      ],
    };
    const kitBatch = (await fkc.batch({ body: kitBody(batch) })) as unknown as Bundle;
    exercised.add('fkc batch');
    expect(kitBatch.entry?.map((e) => e.response?.status?.slice(0, 3))).toEqual(['200', '404']);
    const plumBatch = await medplum.executeBatch(batch);
    exercised.add('medplum batch');
    expect(plumBatch.type).toBe('batch-response');
  });

  test('operations: $twin-refresh, $match-evidence, $review and Bulk Data $export, with both clients', async () => {
    const setup = await medplum.executeBatch({
      resourceType: 'Bundle',
      type: 'transaction',
      entry: [
        {
          fullUrl: 'urn:uuid:0c2d4a1e-0000-4000-8000-000000000001',
          resource: { resourceType: 'Patient' },
          request: { method: 'POST', url: 'Patient' },
        },
        {
          resource: {
            resourceType: 'DocumentReference',
            status: 'current',
            subject: { reference: 'urn:uuid:0c2d4a1e-0000-4000-8000-000000000001' },
            content: [
              {
                attachment: {
                  contentType: 'text/plain',
                  data: Buffer.from('Concussion in a rugby tackle on Saturday. Headache, no neck pain.').toString(
                    'base64'
                  ),
                },
              },
            ],
          } satisfies DocumentReference,
          request: { method: 'POST', url: 'DocumentReference' },
        },
        {
          resource: { resourceType: 'Practitioner', name: [{ family: 'Lee' }] } satisfies Practitioner,
          request: { method: 'POST', url: 'Practitioner' },
        },
      ],
    });
    const patientId = /Patient\/([^/]+)/.exec(setup.entry?.[0]?.response?.location ?? '')?.[1] as string;
    const practitioner = /Practitioner\/[^/]+/.exec(setup.entry?.[2]?.response?.location ?? '')?.[0] as string;

    // $twin-refresh answers the Parameters its OperationDefinition declares.
    const refreshed = (await fkc.operation({
      name: 'twin-refresh',
      resourceType: 'Patient',
      id: patientId,
      method: 'POST',
    })) as unknown as Parameters;
    exercised.add('fkc $twin-refresh');
    const definition = await medplum.searchOne('OperationDefinition', { url: statementDefinition('twin-refresh') });
    const declaredOut = (definition?.parameter ?? []).filter((p) => p.use === 'out');
    const answered = new Set(refreshed.parameter?.map((p) => p.name));
    // Every answered parameter is declared, and every declared one with min >= 1 is answered.
    expect([...answered].filter((name) => !declaredOut.some((p) => p.name === name))).toEqual([]);
    expect(declaredOut.filter((p) => p.min >= 1 && !answered.has(p.name)).map((p) => p.name)).toEqual([]);
    const viaPlum = await medplum.post<Parameters>(medplum.fhirUrl('Patient', patientId, '$twin-refresh'), {
      resourceType: 'Parameters',
    });
    exercised.add('medplum $twin-refresh');
    expect(viaPlum.parameter?.[0]).toEqual({ name: 'status', valueCode: 'refreshed' });
    // Input that is not an (empty) Parameters is refused.
    const bad = await fetch(`${server.baseUrl}/Patient/${patientId}/$twin-refresh`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/fhir+json' },
      body: JSON.stringify({ resourceType: 'Patient' }),
    });
    expect(bad.status).toBe(400);

    const matched = (await fkc.operation({
      name: 'match-evidence',
      resourceType: 'Patient',
      id: patientId,
      input: { resourceType: 'Parameters', parameter: [] },
    })) as unknown as Parameters;
    exercised.add('fkc $match-evidence');
    expect(matched.parameter?.find((p) => p.name === 'status')?.valueCode).toBe('created');
    const again = await medplum.post<Parameters>(medplum.fhirUrl('Patient', patientId, '$match-evidence'), {
      resourceType: 'Parameters',
    });
    exercised.add('medplum $match-evidence');
    expect(again.parameter?.find((p) => p.name === 'status')?.valueCode).toBe('exists');
    const task = matched.parameter?.find((p) => p.name === 'task')?.valueReference?.reference as string;

    const accepted = (await fkc.operation({
      name: 'review',
      resourceType: 'Task',
      id: task.split('/')[1],
      input: {
        resourceType: 'Parameters',
        parameter: [
          { name: 'decision', valueCode: 'accept' },
          { name: 'practitioner', valueReference: { reference: practitioner } },
        ],
      },
    })) as unknown as Parameters;
    exercised.add('fkc $review');
    expect(accepted.parameter?.find((p) => p.name === 'taskStatus')?.valueCode).toBe('accepted');
    const rejected = await medplum.post<Parameters>(medplum.fhirUrl('Task', task.split('/')[1], '$review'), {
      resourceType: 'Parameters',
      parameter: [
        { name: 'decision', valueCode: 'reject' },
        { name: 'practitioner', valueReference: { reference: practitioner } },
        { name: 'reason', valueString: 'Not indicated for this patient' },
      ],
    });
    exercised.add('medplum $review');
    expect(rejected.parameter?.find((p) => p.name === 'carePlanStatus')?.valueCode).toBe('revoked');

    // $simulate: both clients reach it; without a draft proposal (this patient's was rejected) and with a malformed
    // scenario it answers the 400 its OperationDefinition's rules call for, and 404 for an unknown patient.
    const malformed = {
      resourceType: 'Parameters' as const,
      parameter: [{ name: 'scenario', part: [{ name: 'sessionsPerWeek', valueString: 'three' }] }],
    };
    expect(
      await fkcStatus(
        fkc.operation({ name: 'simulate', resourceType: 'Patient', id: patientId, input: kitBody(malformed) })
      )
    ).toBe(400);
    exercised.add('fkc $simulate');
    await expect(
      medplum.post(medplum.fhirUrl('Patient', 'does-not-exist', '$simulate'), {
        resourceType: 'Parameters',
        parameter: [{ name: 'scenario', part: [{ name: 'protocol', valueString: 'ankle-sprain' }] }],
      })
    ).rejects.toThrow(/Not found|not found/);
    exercised.add('medplum $simulate');

    // Bulk Data export: MedplumClient runs the whole async flow (kick-off, status polling, manifest).
    const manifest = await medplum.bulkExport('Patient', 'Patient', undefined, {
      pollStatusOnAccepted: true,
      pollStatusPeriod: 50,
    });
    exercised.add('medplum $export');
    expect(manifest.output?.some((o) => o.type === 'Patient')).toBe(true);
    const kickoff = await fetch(`${server.baseUrl}/Patient/$export?_type=Patient`, {
      headers: { Accept: 'application/fhir+json', Prefer: 'respond-async' },
    });
    expect(kickoff.status).toBe(202);
    const viaKit = await fkcStatus(
      fkc.operation({
        name: 'export',
        resourceType: 'Patient',
        method: 'GET',
        options: { headers: { Prefer: 'respond-async', Accept: 'application/fhir+json' } },
      })
    );
    expect(viaKit).toBe(200); // fhir-kit-client reports the 202 kick-off as success
    exercised.add('fkc $export');
  });

  test('what the server does not do is refused with a 4xx, never served wrongly', async () => {
    expect(
      await fkcStatus(
        fkc.read({ resourceType: 'Patient', id: 'x', options: { headers: { Accept: 'application/fhir+xml' } } })
      )
    ).toBe(406);
    expect(await fkcStatus(fkc.request('$foo'))).toBe(404);
    expect(
      await fkcStatus(fkc.operation({ name: 'everything', resourceType: 'Patient', id: 'x', method: 'GET' }))
    ).toBe(404);
    const outcome = await fetch(`${server.baseUrl}/Patient/x`, {
      method: 'PUT',
      headers: { 'Content-Type': 'application/fhir+json', 'If-Match': '1' },
      body: JSON.stringify({ resourceType: 'Patient', id: 'x' }),
    });
    expect(outcome.status).toBe(400);
    expect(((await outcome.json()) as OperationOutcome).resourceType).toBe('OperationOutcome');
  });

  test('every interaction and operation the CapabilityStatement declares was exercised by both clients', () => {
    const rest = statement.rest?.[0];
    const declared = new Set<string>(['capabilities']);
    for (const resource of rest?.resource ?? []) {
      for (const i of resource.interaction ?? []) {
        declared.add(i.code);
      }
      for (const op of resource.operation ?? []) {
        declared.add(`$${op.name}`);
      }
      if (resource.conditionalCreate) {
        declared.add('conditional-create');
      }
      if (resource.conditionalUpdate) {
        declared.add('conditional-update');
      }
      if (resource.conditionalDelete && resource.conditionalDelete !== 'not-supported') {
        declared.add('conditional-delete');
      }
      if (resource.searchRevInclude?.length) {
        declared.add('_revinclude');
      }
    }
    for (const i of rest?.interaction ?? []) {
      declared.add(i.code);
    }
    const missing = [...declared].flatMap((d) =>
      ['fkc', 'medplum'].filter((c) => !exercised.has(`${c} ${d}`)).map((c) => `${c} ${d}`)
    );
    expect(missing).toEqual([]);
  });

  function statementDefinition(name: string): string {
    const op = statement.rest?.[0]?.resource?.flatMap((r) => r.operation ?? []).find((o) => o.name === name);
    return op?.definition ?? '';
  }
});
