import type { Bundle, CapabilityStatement, OperationOutcome, Patient } from '@medplum/fhirtypes';
import type { TestServer } from './support/testServer';
import { startTestServer, TEST_CLOCK_DATE } from './support/testServer';

const FHIR_JSON = 'application/fhir+json';

async function create(server: TestServer, patient: Patient, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${server.baseUrl}/Patient`, {
    method: 'POST',
    headers: { 'Content-Type': FHIR_JSON, ...headers },
    body: JSON.stringify(patient),
  });
}

describe('FHIR HTTP layer: REST interactions over MemoryRepository', () => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startTestServer();
  });

  afterAll(async () => {
    await server.close();
  });

  test('create -> 201 with Location, ETag, Last-Modified and the stored resource', async () => {
    const response = await create(server, { resourceType: 'Patient', gender: 'female' });
    expect(response.status).toBe(201);
    expect(response.headers.get('content-type')).toBe('application/fhir+json; charset=utf-8');
    const body = (await response.json()) as Patient;
    const versionId = body.meta?.versionId as string;
    expect(body.id).toBeTruthy();
    expect(versionId).toBeTruthy();
    // FHIR R4 http.html#create
    expect(response.headers.get('location')).toBe(`${server.baseUrl}/Patient/${body.id}/_history/${versionId}`);
    expect(response.headers.get('etag')).toBe(`W/"${versionId}"`);
    expect(response.headers.get('last-modified')).toBe(new Date(body.meta?.lastUpdated as string).toUTCString());
  });

  test('read and vread return the resource with its ETag; HEAD has no body', async () => {
    const created = (await (await create(server, { resourceType: 'Patient', gender: 'male' })).json()) as Patient;
    const versionId = created.meta?.versionId as string;

    const read = await fetch(`${server.baseUrl}/Patient/${created.id}`);
    expect(read.status).toBe(200);
    expect(read.headers.get('etag')).toBe(`W/"${versionId}"`);
    expect(await read.json()).toEqual(created);

    const vread = await fetch(`${server.baseUrl}/Patient/${created.id}/_history/${versionId}`);
    expect(vread.status).toBe(200);
    expect(((await vread.json()) as Patient).gender).toBe('male');

    const head = await fetch(`${server.baseUrl}/Patient/${created.id}`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers.get('etag')).toBe(`W/"${versionId}"`);
    expect(await head.text()).toBe('');
  });

  test('read of a missing resource -> 404 OperationOutcome', async () => {
    const response = await fetch(`${server.baseUrl}/Patient/does-not-exist`);
    expect(response.status).toBe(404);
    expect(((await response.json()) as OperationOutcome).resourceType).toBe('OperationOutcome');
  });

  test('conditional read: If-None-Match with the current version -> 304, with an old one -> 200', async () => {
    const created = (await (await create(server, { resourceType: 'Patient' })).json()) as Patient;
    const etag = `W/"${created.meta?.versionId}"`;
    const notModified = await fetch(`${server.baseUrl}/Patient/${created.id}`, { headers: { 'If-None-Match': etag } });
    expect(notModified.status).toBe(304);
    const modified = await fetch(`${server.baseUrl}/Patient/${created.id}`, {
      headers: { 'If-None-Match': 'W/"some-older-version"' },
    });
    expect(modified.status).toBe(200);
  });

  test('update with a current If-Match -> 200 and a new version; with a stale one -> 412', async () => {
    const created = (await (await create(server, { resourceType: 'Patient', gender: 'female' })).json()) as Patient;
    const firstVersion = created.meta?.versionId as string;
    const put = (ifMatch: string, gender: Patient['gender']): Promise<Response> =>
      fetch(`${server.baseUrl}/Patient/${created.id}`, {
        method: 'PUT',
        headers: { 'Content-Type': FHIR_JSON, 'If-Match': ifMatch },
        body: JSON.stringify({ resourceType: 'Patient', id: created.id, gender }),
      });

    const updated = await put(`W/"${firstVersion}"`, 'other');
    expect(updated.status).toBe(200);
    const body = (await updated.json()) as Patient;
    expect(body.gender).toBe('other');
    expect(body.meta?.versionId).not.toBe(firstVersion);
    expect(updated.headers.get('etag')).toBe(`W/"${body.meta?.versionId}"`);

    // FHIR R4 http.html#concurrency: a stale version is refused, and the resource is unchanged.
    const stale = await put(`W/"${firstVersion}"`, 'unknown');
    expect(stale.status).toBe(412);
    expect(((await stale.json()) as OperationOutcome).resourceType).toBe('OperationOutcome');
    const after = (await (await fetch(`${server.baseUrl}/Patient/${created.id}`)).json()) as Patient;
    expect(after.gender).toBe('other');
  });

  test('conditional create with If-None-Exist does not duplicate', async () => {
    const patient: Patient = { resourceType: 'Patient', identifier: [{ system: 'urn:test:mrn', value: 'cc-1' }] };
    const headers = { 'If-None-Exist': 'identifier=urn:test:mrn|cc-1' };
    const first = await create(server, patient, headers);
    expect(first.status).toBe(201);
    const second = await create(server, patient, headers);
    expect(second.status).toBe(200);
    const firstId = ((await first.json()) as Patient).id;
    expect(((await second.json()) as Patient).id).toBe(firstId);

    const search = await fetch(`${server.baseUrl}/Patient?identifier=urn:test:mrn|cc-1`);
    expect(((await search.json()) as Bundle).total).toBe(1);
  });

  test('search returns the repository Bundle as it is, without ETag', async () => {
    const created = (await (await create(server, { resourceType: 'Patient' })).json()) as Patient;
    const response = await fetch(`${server.baseUrl}/Patient?_id=${created.id}`);
    expect(response.status).toBe(200);
    expect(response.headers.get('etag')).toBeNull();
    const bundle = (await response.json()) as Bundle<Patient>;
    expect(bundle.type).toBe('searchset');
    expect(bundle.entry?.map((e) => e.resource?.id)).toEqual([created.id]);
  });

  test('search by POST with a form body', async () => {
    const created = (await (await create(server, { resourceType: 'Patient' })).json()) as Patient;
    const response = await fetch(`${server.baseUrl}/Patient/_search`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ _id: created.id as string }).toString(),
    });
    expect(response.status).toBe(200);
    const bundle = (await response.json()) as Bundle<Patient>;
    expect(bundle.entry?.map((e) => e.resource?.id)).toEqual([created.id]);
  });

  test('PATCH with JSON Patch -> 200 and the patched resource', async () => {
    const created = (await (await create(server, { resourceType: 'Patient', active: false })).json()) as Patient;
    const response = await fetch(`${server.baseUrl}/Patient/${created.id}`, {
      method: 'PATCH',
      headers: { 'Content-Type': 'application/json-patch+json' },
      body: JSON.stringify([{ op: 'replace', path: '/active', value: true }]),
    });
    expect(response.status).toBe(200);
    expect(((await response.json()) as Patient).active).toBe(true);
  });

  test('DELETE -> 200, then read -> 404', async () => {
    const created = (await (await create(server, { resourceType: 'Patient' })).json()) as Patient;
    const deleted = await fetch(`${server.baseUrl}/Patient/${created.id}`, { method: 'DELETE' });
    expect(deleted.status).toBe(200);
    expect((await fetch(`${server.baseUrl}/Patient/${created.id}`)).status).toBe(404);
  });

  test('transaction Bundle -> 200 transaction-response', async () => {
    const bundle: Bundle = {
      resourceType: 'Bundle',
      type: 'transaction',
      entry: [{ request: { method: 'POST', url: 'Patient' }, resource: { resourceType: 'Patient', gender: 'female' } }],
    };
    const response = await fetch(server.baseUrl, {
      method: 'POST',
      headers: { 'Content-Type': FHIR_JSON },
      body: JSON.stringify(bundle),
    });
    expect(response.status).toBe(200);
    const result = (await response.json()) as Bundle;
    expect(result.type).toBe('transaction-response');
    expect(result.entry?.[0]?.response?.status).toMatch(/^201/);
  });

  test('metadata serves the injected CapabilityStatement', async () => {
    const response = await fetch(`${server.baseUrl}/metadata`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('application/fhir+json; charset=utf-8');
    const statement = (await response.json()) as CapabilityStatement;
    expect(statement.resourceType).toBe('CapabilityStatement');
    expect(statement.fhirVersion).toBe('4.0.1');
    expect(statement.kind).toBe('instance');
    expect(statement.date).toBe(TEST_CLOCK_DATE.toISOString());
    expect(statement.implementation?.url).toBe(server.baseUrl);
    expect(statement.rest?.[0]?.resource?.map((r) => r.type)).toEqual(['Patient', 'Observation']);
  });

  test('the request log has method, path without query string, status and duration', async () => {
    server.logLines.length = 0;
    await fetch(`${server.baseUrl}/Patient?identifier=urn:test:mrn|secret-mrn-99`);
    expect(server.logLines).toHaveLength(1);
    expect(server.logLines[0]).toMatch(/^GET \/fhir\/R4\/Patient 200 \d+\.\dms$/);
    expect(server.logLines[0]).not.toContain('secret-mrn-99');
  });
});

describe('healthz', () => {
  test('503 before ready, 200 {"status":"ok"} after', async () => {
    const server = await startTestServer();
    try {
      server.setReady(false);
      const before = await fetch(`${server.origin}/healthz`);
      expect(before.status).toBe(503);
      server.setReady(true);
      const after = await fetch(`${server.origin}/healthz`);
      expect(after.status).toBe(200);
      expect(await after.json()).toEqual({ status: 'ok' });
    } finally {
      await server.close();
    }
  });

  test('request durations come from the injected clock', async () => {
    let tick = 0;
    const server = await startTestServer({ now: () => (tick += 7) });
    try {
      await fetch(`${server.origin}/healthz`);
      expect(server.logLines).toEqual(['GET /healthz 200 7.0ms']);
    } finally {
      await server.close();
    }
  });
});
