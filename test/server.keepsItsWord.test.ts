import type { Bundle, CapabilityStatement, OperationOutcome, Organization, Patient } from '@medplum/fhirtypes';
import { gzipSync } from 'node:zlib';
import { startEmbeddedTestServer, type EmbeddedTestServer } from './support/embeddedTestServer';

/**
 * Issue 16, point by point, over HTTP against the embedded server as `twin serve` assembles it: what should be refused
 * is refused (and not stored), client errors are 4xx OperationOutcomes, the CapabilityStatement promises only what
 * works, and a large write does not starve other requests.
 */
const FHIR_JSON = { 'Content-Type': 'application/fhir+json' };

describe('the embedded server keeps its word', () => {
  let server: EmbeddedTestServer;

  beforeAll(async () => {
    server = await startEmbeddedTestServer({ limits: { maxBundleEntries: 5000 } });
    await put('Patient/p1', { resourceType: 'Patient', id: 'p1', name: [{ family: 'One' }] });
  });

  afterAll(async () => {
    await server.close();
  });

  function send(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Response> {
    const raw = body === undefined || typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body);
    return fetch(`${server.baseUrl}/${path}`, {
      method,
      headers: { ...(body === undefined ? {} : FHIR_JSON), ...headers },
      ...(raw === undefined ? {} : { body: raw }),
    });
  }
  const put = (path: string, body: unknown, headers?: Record<string, string>): Promise<Response> =>
    send('PUT', path, body, headers);

  async function expectOutcome(response: Response, status: number): Promise<OperationOutcome> {
    expect({ status: response.status }).toEqual({ status });
    const outcome = (await response.json()) as OperationOutcome;
    expect(outcome.resourceType).toBe('OperationOutcome');
    return outcome;
  }

  async function count(type: string): Promise<number> {
    const bundle = (await (await send('GET', `${type}?_summary=count`)).json()) as Bundle;
    return bundle.total ?? -1;
  }

  describe('input that should be refused is refused, and not stored', () => {
    test.each([
      ['a HumanName that is a number', '{"resourceType":"Patient","name":[1]}'],
      [
        'two types of one choice element',
        JSON.stringify({
          resourceType: 'Observation',
          status: 'final',
          code: { text: 'x' },
          valueQuantity: { value: 1 },
          valueString: 'a',
        }),
      ],
      ['an element named constructor', '{"resourceType":"Patient","constructor":{"a":1}}'],
      ['an element named __proto__', '{"resourceType":"Patient","__proto__":{"a":1}}'],
      ['an element named toString', '{"resourceType":"Patient","toString":"x"}'],
    ])('POST %s -> 400', async (_name, body) => {
      const type = body.includes('Observation') ? 'Observation' : 'Patient';
      const before = await count(type);
      await expectOutcome(await send('POST', type, body), 400);
      expect(await count(type)).toBe(before);
    });

    test.each(['a;b', 'a'.repeat(1000), '*', '%zz', 'a b', 'a"b', 'a\u202eb'])(
      'PUT with the id %j -> 400, directly and inside a transaction',
      async (id) => {
        const before = await count('Patient');
        await expectOutcome(await put(`Patient/${encodeURIComponent(id)}`, { resourceType: 'Patient', id }), 400);
        const inTransaction = await send('POST', '', {
          resourceType: 'Bundle',
          type: 'transaction',
          entry: [{ resource: { resourceType: 'Patient', id }, request: { method: 'PUT', url: `Patient/${id}` } }],
        });
        await expectOutcome(inTransaction, 400);
        expect(await count('Patient')).toBe(before);
      }
    );

    test('ids with CR/LF, spaces, quotes or U+202E inside a transaction are refused', async () => {
      for (const id of ['a\r\nb', 'a b', "a'b", 'a\u202e']) {
        const response = await send('POST', '', {
          resourceType: 'Bundle',
          type: 'transaction',
          entry: [{ resource: { resourceType: 'Patient', id }, request: { method: 'PUT', url: `Patient/${id}` } }],
        });
        expect(response.status).toBe(400);
      }
    });

    test('a resource claiming a profile it does not meet is refused', async () => {
      const response = await send('POST', 'Observation', {
        resourceType: 'Observation',
        meta: { profile: ['http://hl7.org/fhir/StructureDefinition/heartrate'] },
        status: 'final',
        code: { text: 'x' },
      });
      const outcome = await expectOutcome(response, 400);
      expect(JSON.stringify(outcome)).toContain('heartrate');
    });
  });

  describe('If-Match', () => {
    test.each(['1', 'W/1', '*', 'W/"1", W/"2"'])('If-Match: %s is not an ETag -> 400', async (value) => {
      await expectOutcome(await put('Patient/p1', { resourceType: 'Patient', id: 'p1' }, { 'If-Match': value }), 400);
    });

    test('with a valid ETag, exactly one of 20 concurrent updates wins', async () => {
      const created = await put('Patient/race', { resourceType: 'Patient', id: 'race' });
      const etag = created.headers.get('etag') as string;
      const responses = await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          put(
            'Patient/race',
            { resourceType: 'Patient', id: 'race', birthDate: `2000-01-${String(i + 1).padStart(2, '0')}` },
            {
              'If-Match': etag,
            }
          )
        )
      );
      const statuses = responses.map((r) => r.status).sort();
      expect(statuses.filter((s) => s === 200)).toHaveLength(1);
      expect(statuses.filter((s) => s === 412)).toHaveLength(19);
      const current = (await (await send('GET', 'Patient/race')).json()) as Patient;
      expect(current.meta?.versionId).toBe('2');
    });

    test('If-Match on an id that does not exist does not create it', async () => {
      await expectOutcome(
        await put('Patient/never', { resourceType: 'Patient', id: 'never' }, { 'If-Match': 'W/"1"' }),
        412
      );
      expect((await send('GET', 'Patient/never')).status).toBe(404);
    });
  });

  describe('FHIR R4 transaction rules (http.html#trules)', () => {
    const uuid = (n: number): string => `urn:uuid:7f3c1e2a-0000-4000-8000-${String(n).padStart(12, '0')}`;

    test('two entries with the same fullUrl -> 400, nothing stored', async () => {
      const before = await count('Patient');
      const response = await send('POST', '', {
        resourceType: 'Bundle',
        type: 'transaction',
        entry: [
          { fullUrl: uuid(1), resource: { resourceType: 'Patient' }, request: { method: 'POST', url: 'Patient' } },
          { fullUrl: uuid(1), resource: { resourceType: 'Patient' }, request: { method: 'POST', url: 'Patient' } },
        ],
      });
      await expectOutcome(response, 400);
      expect(await count('Patient')).toBe(before);
    });

    test('a reference to a urn:uuid no entry has -> 400', async () => {
      const response = await send('POST', '', {
        resourceType: 'Bundle',
        type: 'transaction',
        entry: [
          {
            resource: { resourceType: 'Patient', managingOrganization: { reference: uuid(99) } },
            request: { method: 'POST', url: 'Patient' },
          },
        ],
      });
      await expectOutcome(response, 400);
    });

    test('a nested transaction is refused, not executed', async () => {
      const before = await count('Patient');
      const response = await send('POST', '', {
        resourceType: 'Bundle',
        type: 'transaction',
        entry: [
          {
            resource: {
              resourceType: 'Bundle',
              type: 'transaction',
              entry: [{ resource: { resourceType: 'Patient' }, request: { method: 'POST', url: 'Patient' } }],
            },
            request: { method: 'POST', url: '/' },
          },
        ],
      });
      await expectOutcome(response, 400);
      expect(await count('Patient')).toBe(before);
    });

    test('conditional references are resolved (Synthea style), or the whole transaction fails', async () => {
      const org: Organization = { resourceType: 'Organization', identifier: [{ system: 'urn:npi', value: 'org-1' }] };
      const created = (await (await send('POST', 'Organization', org)).json()) as Organization;
      const response = await send('POST', '', {
        resourceType: 'Bundle',
        type: 'transaction',
        entry: [
          {
            fullUrl: uuid(2),
            resource: {
              resourceType: 'Patient',
              managingOrganization: { reference: 'Organization?identifier=urn:npi|org-1' },
            },
            request: { method: 'POST', url: 'Patient' },
          },
        ],
      });
      expect(response.status).toBe(200);
      const location = ((await response.json()) as Bundle).entry?.[0]?.response?.location as string;
      const patient = (await (await send('GET', location.replace(/\/_history\/\d+$/, ''))).json()) as Patient;
      expect(patient.managingOrganization?.reference).toBe(`Organization/${created.id}`);

      const before = await count('Patient');
      const unresolved = await send('POST', '', {
        resourceType: 'Bundle',
        type: 'transaction',
        entry: [
          { resource: { resourceType: 'Patient' }, request: { method: 'POST', url: 'Patient' } },
          {
            resource: {
              resourceType: 'Patient',
              managingOrganization: { reference: 'Organization?identifier=urn:npi|none' },
            },
            request: { method: 'POST', url: 'Patient' },
          },
        ],
      });
      await expectOutcome(unresolved, 400);
      await send('POST', 'Organization', org); // now two match
      const ambiguous = await send('POST', '', {
        resourceType: 'Bundle',
        type: 'transaction',
        entry: [
          {
            resource: {
              resourceType: 'Patient',
              managingOrganization: { reference: 'Organization?identifier=urn:npi|org-1' },
            },
            request: { method: 'POST', url: 'Patient' },
          },
        ],
      });
      await expectOutcome(ambiguous, 400);
      expect(await count('Patient')).toBe(before);
    });
  });

  describe('operations validate their input', () => {
    test('$twin-refresh with a body that is not an empty Parameters -> 400', async () => {
      await expectOutcome(await send('POST', 'Patient/p1/$twin-refresh', { resourceType: 'Patient' }), 400);
      await expectOutcome(
        await send('POST', 'Patient/p1/$twin-refresh', {
          resourceType: 'Parameters',
          parameter: [{ name: 'window', valueString: 'x' }],
        }),
        400
      );
      await expectOutcome(
        await send('POST', 'Patient/p1/$twin-refresh', '{"a":' + '['.repeat(100_000) + ']'.repeat(100_000) + '}'),
        400
      );
      expect((await send('POST', 'Patient/p1/$twin-refresh', { resourceType: 'Parameters' })).status).toBe(200);
    });

    test('$export with an impossible _since -> 400', async () => {
      const response = await send('GET', 'Patient/$export?_since=2024-02-30T00:00:00Z', undefined, {
        Accept: 'application/fhir+json',
        Prefer: 'respond-async',
      });
      await expectOutcome(response, 400);
    });

    test('GET $foo -> 404, not an empty searchset; GET on a POST-only operation -> 405', async () => {
      await expectOutcome(await send('GET', '$foo'), 404);
      await expectOutcome(await send('GET', 'Patient/p1/$twin-refresh'), 405);
    });
  });

  describe('client errors are 4xx OperationOutcomes, not 500s', () => {
    test.each([
      ['GET', 'Patient?_count=abc'],
      ['GET', 'Patient?_count='],
      ['GET', 'Patient?_offset=99999999999999999999'],
      ['GET', `Observation?code=${Array.from({ length: 500 }, (_, i) => i + 1).join(',')}`],
      ['GET', '$export-status/%zz'],
      ['GET', 'Group/%zz/$export'],
    ])('%s %s -> 400', async (method, path) => {
      await expectOutcome(
        await send(method, path, undefined, { Accept: 'application/fhir+json', Prefer: 'respond-async' }),
        400
      );
    });

    test('a 10k-deep JSON body -> 400', async () => {
      await expectOutcome(await send('POST', 'Patient', '['.repeat(10_000) + ']'.repeat(10_000)), 400);
    });

    test('Content-Encoding: gzip with a plain body -> 400; a real gzip body works', async () => {
      const plain = JSON.stringify({ resourceType: 'Patient' });
      await expectOutcome(await send('POST', 'Patient', plain, { 'Content-Encoding': 'gzip' }), 400);
      expect((await send('POST', 'Patient', gzipSync(plain), { 'Content-Encoding': 'gzip' })).status).toBe(201);
    });

    test('a JSON Patch into a prototype or into a primitive -> 400, and nothing is polluted', async () => {
      for (const patch of [
        [{ op: 'add', path: '/__proto__/polluted', value: 1 }],
        [{ op: 'add', path: '/constructor/prototype/polluted', value: 1 }],
        [{ op: 'add', path: '/birthDate/x', value: 1 }],
      ]) {
        await expectOutcome(
          await send('PATCH', 'Patient/p1', JSON.stringify(patch), { 'Content-Type': 'application/json-patch+json' }),
          400
        );
      }
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    });

    test('a transaction with entry:[null] -> 400', async () => {
      await expectOutcome(await send('POST', '', '{"resourceType":"Bundle","type":"transaction","entry":[null]}'), 400);
    });

    test('GET Patient?_id=X&_revinclude=Observation:subject works', async () => {
      await send('POST', 'Observation', {
        resourceType: 'Observation',
        status: 'final',
        code: { text: 'x' },
        subject: { reference: 'Patient/p1' },
      });
      const response = await send('GET', 'Patient?_id=p1&_revinclude=Observation:subject');
      expect(response.status).toBe(200);
      const bundle = (await response.json()) as Bundle;
      expect(
        bundle.entry?.some((e) => e.resource?.resourceType === 'Observation' && e.search?.mode === 'include')
      ).toBe(true);
    });
  });

  describe('the CapabilityStatement promises what works, and only that', () => {
    let statement: CapabilityStatement;
    beforeAll(async () => {
      statement = (await (await send('GET', 'metadata')).json()) as CapabilityStatement;
    });
    const patientEntry = (): NonNullable<NonNullable<CapabilityStatement['rest']>[number]['resource']>[number] =>
      statement.rest?.[0]?.resource?.find((r) => r.type === 'Patient') ?? { type: 'Patient' };

    test('type history is declared and works', async () => {
      expect(patientEntry().interaction?.map((i) => i.code)).toContain('history-type');
      const history = (await (await send('GET', 'Patient/_history?_count=2')).json()) as Bundle;
      expect(history.type).toBe('history');
      expect(history.entry).toHaveLength(2);
      // _since is honoured on type and instance history, and checked.
      const future = (await (await send('GET', 'Patient/_history?_since=2999-01-01T00:00:00Z')).json()) as Bundle;
      expect(future.total).toBe(0);
      const instance = (await (await send('GET', 'Patient/p1/_history?_since=2999-01-01T00:00:00Z')).json()) as Bundle;
      expect(instance.total).toBe(0);
      await expectOutcome(await send('GET', 'Patient/p1/_history?_since=2024-02-30T00:00:00Z'), 400);
      await expectOutcome(await send('GET', 'Patient/p1/_history?_at=2024-02-01'), 400);
    });

    test('_revinclude is declared', () => {
      expect(patientEntry().searchRevInclude).toContain('Observation:subject');
    });

    test('chained search, _has and $everything are refused and not declared', async () => {
      await expectOutcome(await send('GET', 'Observation?subject:Patient.name=One'), 400);
      await expectOutcome(await send('GET', 'Patient?_has:Observation:subject:status=final'), 400);
      await expectOutcome(await send('GET', 'Patient/p1/$everything'), 404);
      expect(patientEntry().operation?.map((o) => o.name)).not.toContain('everything');
      expect(patientEntry().searchParam?.map((p) => p.name)).not.toContain('_has');
    });

    test('_elements and _summary return subsets tagged SUBSETTED', async () => {
      const elements = (await (await send('GET', 'Patient/p1?_elements=birthDate')).json()) as Patient;
      expect(elements.name).toBeUndefined();
      expect(elements.meta?.tag?.map((t) => t.code)).toContain('SUBSETTED');
      const summary = (await (await send('GET', 'Patient?_id=p1&_summary=true')).json()) as Bundle<Patient>;
      expect(summary.entry?.[0]?.resource?.name?.[0]?.family).toBe('One');
      await expectOutcome(await send('GET', 'Patient?_summary=maybe'), 400);
    });

    test('the paging links of an _elements search work on this server (FHIR R4 http.html#paging)', async () => {
      await put('Patient/p2', {
        resourceType: 'Patient',
        id: 'p2',
        name: [{ family: 'Two' }],
        birthDate: '1990-01-01',
      });
      const first = (await (
        await send('GET', 'Patient?_id=p1,p2&_elements=birthDate&_count=1&_sort=_id')
      ).json()) as Bundle;
      const next = first.link?.find((l) => l.relation === 'next')?.url ?? '';
      expect(next).toContain('_elements=birthDate');
      const res = await fetch(next);
      expect(res.status).toBe(200);
      const page = (await res.json()) as Bundle<Patient>;
      expect(page.entry?.[0]?.resource?.id).toBe('p2');
      expect(page.entry?.[0]?.resource?.name).toBeUndefined();
      expect(page.entry?.[0]?.resource?.meta?.tag?.map((t) => t.code)).toContain('SUBSETTED');
    });

    test('Accept: application/fhir+xml -> 406', async () => {
      await expectOutcome(await send('GET', 'Patient/p1', undefined, { Accept: 'application/fhir+xml' }), 406);
      await expectOutcome(await send('GET', 'metadata?_format=xml'), 406);
    });

    test('PUT that creates answers 201, PUT that updates 200', async () => {
      expect((await put('Patient/fresh', { resourceType: 'Patient', id: 'fresh' })).status).toBe(201);
      expect((await put('Patient/fresh', { resourceType: 'Patient', id: 'fresh', active: true })).status).toBe(200);
    });

    test('no Medplum-internal search parameter is listed or accepted', async () => {
      const names = statement.rest?.[0]?.resource?.flatMap((r) => r.searchParam?.map((p) => p.name) ?? []) ?? [];
      expect(names).not.toContain('_project');
      expect(names).not.toContain('_compartment');
      await expectOutcome(await send('GET', 'Patient?_project=x'), 400);
    });

    test('every OperationDefinition named by the server canonical is readable here', async () => {
      const ours = (statement.rest?.[0]?.resource ?? [])
        .flatMap((r) => r.operation ?? [])
        .filter((o) => o.definition.startsWith('https://recovery-twin.dev/'));
      expect(ours.map((o) => o.name).sort()).toEqual(['twin-refresh']);
      const found = (await (
        await send('GET', `OperationDefinition?url=${encodeURIComponent(ours[0].definition)}`)
      ).json()) as Bundle;
      expect(found.entry).toHaveLength(1);
    });
  });

  describe('bounded work', () => {
    const transaction = (entries: number): string =>
      JSON.stringify({
        resourceType: 'Bundle',
        type: 'transaction',
        entry: Array.from({ length: entries }, () => ({
          resource: { resourceType: 'Basic', code: { text: 'load' } },
          request: { method: 'POST', url: 'Basic' },
        })),
      });

    test('a Bundle over the configured entry limit is refused with a clear OperationOutcome', async () => {
      const outcome = await expectOutcome(await send('POST', '', transaction(5001)), 413);
      expect(outcome.issue?.[0]?.details?.text).toMatch(/5001 entries; this server takes at most 5000/);
    });

    test('/healthz keeps answering while a large transaction is written', async () => {
      let done = false;
      let answered = 0;
      const probe = (async (): Promise<void> => {
        while (!done) {
          const response = await fetch(`${server.origin}/healthz`);
          await response.arrayBuffer();
          if (!done && response.status === 200) {
            answered++;
          }
          await new Promise((resolve) => setTimeout(resolve, 5));
        }
      })();
      const response = await send('POST', '', transaction(3000));
      done = true;
      await probe;
      expect(response.status).toBe(200);
      // Starved, the probe would get at most one answer in before the transaction's response.
      expect(answered).toBeGreaterThanOrEqual(3);
    }, 120_000);
  });
});
