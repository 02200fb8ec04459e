import { OperationOutcomeError, preconditionFailed } from '@medplum/core';
import { MemoryRepository } from '@medplum/fhir-router';
import type { OperationOutcome, Patient, Resource } from '@medplum/fhirtypes';
import type { TestServer } from './support/testServer';
import { startTestServer } from './support/testServer';

const FHIR_JSON = 'application/fhir+json';

async function expectOutcome(response: Response, status: number): Promise<OperationOutcome> {
  expect(response.status).toBe(status);
  expect(response.headers.get('content-type')).toBe('application/fhir+json; charset=utf-8');
  const body = (await response.json()) as OperationOutcome;
  expect(body.resourceType).toBe('OperationOutcome');
  expect(body.issue?.length).toBeGreaterThan(0);
  return body;
}

function send(
  server: TestServer,
  method: string,
  path: string,
  body: string | undefined,
  contentType?: string
): Promise<Response> {
  return fetch(`${server.baseUrl}/${path}`, {
    method,
    headers: contentType ? { 'Content-Type': contentType } : {},
    body,
  });
}

describe('FHIR HTTP layer: bad input gives a 4xx OperationOutcome, never a crash', () => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startTestServer();
  });

  afterAll(async () => {
    await server.close();
  });

  afterEach(() => {
    // Every bad request above must not have logged an unexpected error.
    expect(server.logLines.filter((line) => line.includes('error'))).toEqual([]);
  });

  test('malformed JSON -> 400, and the message does not quote the body', async () => {
    const response = await send(
      server,
      'POST',
      'Patient',
      '{"resourceType":"Patient","name":[{"family":"Zed',
      FHIR_JSON
    );
    const outcome = await expectOutcome(response, 400);
    expect(JSON.stringify(outcome)).not.toContain('Zed');
  });

  test('a JSON primitive instead of a resource -> 400', async () => {
    await expectOutcome(await send(server, 'POST', 'Patient', '"Patient"', FHIR_JSON), 400);
  });

  test('a JSON array instead of a resource -> 400', async () => {
    await expectOutcome(await send(server, 'POST', 'Patient', '[]', FHIR_JSON), 400);
  });

  test('POST without a body -> 400', async () => {
    await expectOutcome(await send(server, 'POST', 'Patient', undefined), 400);
  });

  test.each([
    ['POST', 'Patient', 'text/plain'],
    ['POST', 'Patient', 'application/xml'],
    ['PUT', 'Patient/p1', 'application/fhir+xml'],
    ['PATCH', 'Patient/p1', 'text/plain'],
    ['POST', 'Patient/_search', FHIR_JSON],
  ])('%s %s with Content-Type %s -> 415', async (method, path, contentType) => {
    const body = method === 'PATCH' ? '[]' : JSON.stringify({ resourceType: 'Patient', id: 'p1' });
    const outcome = await expectOutcome(await send(server, method, path, body, contentType), 415);
    expect(outcome.issue?.[0]?.code).toBe('not-supported');
  });

  test('both application/fhir+json and application/json are accepted for create', async () => {
    for (const contentType of [FHIR_JSON, 'application/json', 'application/fhir+json; fhirVersion=4.0']) {
      const response = await send(server, 'POST', 'Patient', JSON.stringify({ resourceType: 'Patient' }), contentType);
      expect(response.status).toBe(201);
    }
  });

  test('unknown resource type in the URL -> 404, for reads and writes', async () => {
    await expectOutcome(await send(server, 'GET', 'NotAType/1', undefined), 404);
    await expectOutcome(await send(server, 'GET', 'NotAType', undefined), 404);
    await expectOutcome(await send(server, 'POST', 'NotAType', '{"resourceType":"NotAType"}', FHIR_JSON), 404);
  });

  test('a real FHIR type that the CapabilityStatement does not declare -> 404', async () => {
    const outcome = await expectOutcome(await send(server, 'GET', 'Encounter/1', undefined), 404);
    expect(outcome.issue?.[0]?.details?.text).toContain('not supported');
  });

  test('PUT where the body id differs from the URL id -> 400', async () => {
    const body = JSON.stringify({ resourceType: 'Patient', id: 'other' });
    await expectOutcome(await send(server, 'PUT', 'Patient/p1', body, FHIR_JSON), 400);
  });

  test('PUT where the body has no id -> 400', async () => {
    await expectOutcome(await send(server, 'PUT', 'Patient/p1', '{"resourceType":"Patient"}', FHIR_JSON), 400);
  });

  test('body resourceType differs from the URL type -> 400 on POST and PUT', async () => {
    await expectOutcome(await send(server, 'POST', 'Patient', '{"resourceType":"Observation"}', FHIR_JSON), 400);
    const body = JSON.stringify({ resourceType: 'Observation', id: 'p1' });
    await expectOutcome(await send(server, 'PUT', 'Patient/p1', body, FHIR_JSON), 400);
  });

  test('PATCH with a body that is neither JSON Patch nor Parameters -> 400', async () => {
    const created = await send(server, 'POST', 'Patient', '{"resourceType":"Patient"}', FHIR_JSON);
    const { id } = (await created.json()) as Patient;
    const response = await send(server, 'PATCH', `Patient/${id}`, '{"op":"add"}', 'application/json-patch+json');
    await expectOutcome(response, 400);
  });

  test('a transaction Bundle is rejected when transactions are not declared', async () => {
    const other = await startTestServer({
      capabilityStatement: {
        resourceType: 'CapabilityStatement',
        status: 'active',
        date: '2025-01-01',
        kind: 'instance',
        fhirVersion: '4.0.1',
        format: ['json'],
        rest: [{ mode: 'server', resource: [{ type: 'Patient' }] }],
      },
    });
    try {
      const bundle = JSON.stringify({ resourceType: 'Bundle', type: 'transaction', entry: [] });
      const response = await fetch(`${other.baseUrl}`, {
        method: 'POST',
        headers: { 'Content-Type': FHIR_JSON },
        body: bundle,
      });
      await expectOutcome(response, 400);
    } finally {
      await other.close();
    }
  });

  test('unknown path outside the FHIR base -> 404 OperationOutcome', async () => {
    const response = await fetch(`${server.origin}/no/such/path`);
    await expectOutcome(response, 404);
  });
});

describe('FHIR HTTP layer: body size limit', () => {
  test('a body over the configured limit -> 413', async () => {
    const server = await startTestServer({ bodyLimit: '1kb' });
    try {
      const patient: Patient = { resourceType: 'Patient', name: [{ text: 'x'.repeat(2000) }] };
      const response = await send(server, 'POST', 'Patient', JSON.stringify(patient), FHIR_JSON);
      const outcome = await expectOutcome(response, 413);
      expect(outcome.issue?.[0]?.code).toBe('too-long');
    } finally {
      await server.close();
    }
  });

  test('the default limit is 16mb: 17 MB -> 413, 1 MB -> 201', async () => {
    const server = await startTestServer();
    try {
      const big: Patient = { resourceType: 'Patient', name: [{ text: 'x'.repeat(17 * 1024 * 1024) }] };
      await expectOutcome(await send(server, 'POST', 'Patient', JSON.stringify(big), FHIR_JSON), 413);
      const fine: Patient = { resourceType: 'Patient', name: [{ text: 'x'.repeat(1024 * 1024) }] };
      const response = await send(server, 'POST', 'Patient', JSON.stringify(fine), FHIR_JSON);
      expect(response.status).toBe(201);
    } finally {
      await server.close();
    }
  });
});

/** A repository with a bug: its error message quotes resource content, as a careless store might. */
class LeakyRepository extends MemoryRepository {
  override readResource<T extends Resource>(_resourceType: string, _id: string): Promise<T> {
    return Promise.reject(new Error('cannot decode row {"family":"Leakyname","mrn":"MRN-4711"}'));
  }

  override deleteResource(): Promise<void> {
    // An intended outcome, which must still reach the client as it is.
    return Promise.reject(new OperationOutcomeError(preconditionFailed));
  }
}

describe('FHIR HTTP layer: unexpected exceptions', () => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startTestServer({ repo: new LeakyRepository() });
  });

  afterAll(async () => {
    await server.close();
  });

  test('a repository bug -> 500 OperationOutcome that echoes nothing, logged without the message', async () => {
    const response = await fetch(`${server.baseUrl}/Patient/p1`);
    const outcome = await expectOutcome(response, 500);
    expect(outcome.issue?.[0]?.code).toBe('exception');
    const text = JSON.stringify(outcome);
    expect(text).not.toContain('Leakyname');
    expect(text).not.toContain('MRN-4711');
    const errorLines = server.logLines.filter((line) => line.includes('error'));
    expect(errorLines.length).toBeGreaterThan(0);
    expect(server.logLines.join('\n')).not.toContain('Leakyname');
  });

  test('an OperationOutcomeError from the repository keeps its status', async () => {
    const response = await fetch(`${server.baseUrl}/Patient/p1`, { method: 'DELETE' });
    await expectOutcome(response, 412);
  });

  test('the server keeps serving after an exception', async () => {
    const response = await fetch(`${server.baseUrl}/metadata`);
    expect(response.status).toBe(200);
  });
});
