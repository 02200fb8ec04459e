import type { DocumentReference, Parameters, Practitioner } from '@medplum/fhirtypes';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer } from '../src/cli/serveCommand';
import { openEvidenceEngine } from '../src/evidence/evidenceEngine';
import { HttpFhirClient } from '../src/fhir/httpFhirClient';
import { registerEvidenceOperations } from '../src/server/evidenceOperations';
import { openSqliteStore } from '../src/store/sqliteStore';
import { createEmbeddedRouter } from '../src/store/transactionBundle';

type Running = Awaited<ReturnType<typeof startServer>>;

describe('$match-evidence and $review over HTTP', () => {
  let dir: string;
  let running: Running;
  let client: HttpFhirClient;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'twin-evidence-op-'));
    const evidence = await openEvidenceEngine({ env: {}, log: () => undefined });
    running = await startServer({
      port: 0,
      host: '127.0.0.1',
      dataDir: dir,
      seed: false,
      log: () => undefined,
      openRepository: async (dataDir, { baseUrl }) => {
        const store = await openSqliteStore(dataDir, { baseUrl, durability: 'normal' });
        const router = createEmbeddedRouter();
        registerEvidenceOperations(router, { ...evidence, now: () => '2026-03-01T09:00:00Z' });
        return {
          repo: store.repo,
          close: () => store.close(),
          supports: store.supports,
          router,
          systemInteractions: ['transaction', 'batch'],
        };
      },
    });
    client = new HttpFhirClient({ baseUrl: running.baseUrl });
  });

  afterAll(async () => {
    await running.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function post(
    path: string,
    body?: Parameters
  ): Promise<{ status: number; json: Parameters & { issue?: unknown[] } }> {
    const res = await fetch(`${running.baseUrl}/${path}`, {
      method: 'POST',
      headers: { accept: 'application/fhir+json', 'content-type': 'application/fhir+json' },
      ...(body ? { body: JSON.stringify(body) } : {}),
    });
    return { status: res.status, json: (await res.json()) as Parameters & { issue?: unknown[] } };
  }

  const value = (p: Parameters, name: string): unknown => {
    const found = p.parameter?.find((x) => x.name === name);
    return found?.valueCode ?? found?.valueString ?? found?.valueReference?.reference;
  };

  test('proposal for a patient with a concussion note; review through $review; invalid decisions refused', async () => {
    const note: DocumentReference = {
      resourceType: 'DocumentReference',
      status: 'current',
      content: [
        {
          attachment: {
            contentType: 'text/plain',
            data: Buffer.from('Concussion in a rugby tackle on Saturday. Headache, no neck pain.').toString('base64'),
          },
        },
      ],
    };
    const created = await client.transaction({
      resourceType: 'Bundle',
      type: 'transaction',
      entry: [
        {
          fullUrl: 'urn:uuid:0c2d4a1e-0000-4000-8000-000000000001',
          resource: { resourceType: 'Patient' },
          request: { method: 'POST', url: 'Patient' },
        },
        {
          resource: { ...note, subject: { reference: 'urn:uuid:0c2d4a1e-0000-4000-8000-000000000001' } },
          request: { method: 'POST', url: 'DocumentReference' },
        },
        {
          resource: { resourceType: 'Practitioner', name: [{ family: 'Lee' }] } satisfies Practitioner,
          request: { method: 'POST', url: 'Practitioner' },
        },
      ],
    });
    const patientId = /Patient\/([^/]+)/.exec(created.entry?.[0]?.response?.location ?? '')?.[1] as string;
    const practitioner = /Practitioner\/[^/]+/.exec(created.entry?.[2]?.response?.location ?? '')?.[0] as string;

    const first = await post(`Patient/${patientId}/$match-evidence`);
    expect(first.status).toBe(200);
    expect(value(first.json, 'status')).toBe('created');
    const match = first.json.parameter?.find((p) => p.name === 'match');
    expect(match?.part?.[0]?.valueCanonical).toBe(
      'https://recovery-twin.dev/fhir/PlanDefinition/concussion-return-to-sport'
    );
    expect(String(value(first.json, 'ranking'))).toMatch(/lexical only|no model installed/);
    const task = String(value(first.json, 'task'));

    const again = await post(`Patient/${patientId}/$match-evidence`);
    expect(value(again.json, 'status')).toBe('exists');

    const approveEarly = await post(`${task}/$review`, {
      resourceType: 'Parameters',
      parameter: [
        { name: 'decision', valueCode: 'approve' },
        { name: 'practitioner', valueReference: { reference: practitioner } },
      ],
    });
    // A business rule refuses it (Task not yet accepted): 422 Unprocessable Entity, not 400 (src/fhir/outcomes.ts).
    expect(approveEarly.status).toBe(422);
    expect(JSON.stringify(approveEarly.json)).toMatch(/Task is requested/);

    const accept = await post(`${task}/$review`, {
      resourceType: 'Parameters',
      parameter: [
        { name: 'decision', valueCode: 'accept' },
        { name: 'practitioner', valueReference: { reference: practitioner } },
      ],
    });
    expect(value(accept.json, 'taskStatus')).toBe('accepted');
    const approve = await post(`${task}/$review`, {
      resourceType: 'Parameters',
      parameter: [
        { name: 'decision', valueCode: 'approve' },
        { name: 'practitioner', valueReference: { reference: practitioner } },
      ],
    });
    expect(approve.status).toBe(200);
    expect(value(approve.json, 'carePlanStatus')).toBe('active');

    expect(
      (
        await post(`${task}/$review`, {
          resourceType: 'Parameters',
          parameter: [{ name: 'decision', valueCode: 'bless' }],
        })
      ).status
    ).toBe(400);
    expect((await post(`Patient/no-such/$match-evidence`)).status).toBe(404);
    expect((await post(`Observation/x/$match-evidence`)).status).toBe(400);
  });
});
