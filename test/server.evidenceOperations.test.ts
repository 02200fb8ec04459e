import type { DocumentReference, Parameters, Practitioner, Task } from '@medplum/fhirtypes';
import { addDays } from '../src/calendar/calendarDay';
import { DEFAULT_FINDINGS_OPTIONS, writeFindingsForPatients } from '../src/detect/findings/findingsWriter';
import { buildMetricObservation } from '../src/ingest/importers/metricObservation';
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
    // Every activity of step 1 ordered (review Task, advice, daily score, sleep), the phase and the decision's Provenance.
    const requested = (approve.json.parameter ?? []).filter((p) => p.name === 'requested');
    expect(requested.map((p) => p.valueReference?.reference?.split('/')[0])).toEqual([
      'Task',
      'CommunicationRequest',
      'Task',
      'ServiceRequest',
    ]);
    expect(String(value(approve.json, 'phaseInForce'))).toMatch(/^Phase 1/);
    const provenance = String(value(approve.json, 'provenance'));
    const carePlan = String(value(first.json, 'carePlan'));
    const decisions = await client.searchAll('Provenance', { target: carePlan });
    expect(decisions.map((p) => `Provenance/${p.id}`)).toContain(provenance);
    // Stop rules and red flags in the operation's output; the protocol is on the server.
    expect(
      (first.json.parameter ?? [])
        .filter((p) => p.name === 'caution')
        .map((p) => p.valueString)
        .join(' ')
    ).toMatch(/double vision/);
    expect(value(first.json, 'startPhase')).toMatch(/^Phase 1/);
    const pd = await fetch(`${running.baseUrl}/PlanDefinition/concussion-return-to-sport`);
    expect(pd.status).toBe(200);

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

  test('a condition with no protocol is said plainly with a care-team Task; a phase is chosen at $review', async () => {
    const created = await client.transaction({
      resourceType: 'Bundle',
      type: 'transaction',
      entry: [
        {
          fullUrl: 'urn:uuid:0c2d4a1e-0000-4000-8000-000000000011',
          resource: { resourceType: 'Patient' },
          request: { method: 'POST', url: 'Patient' },
        },
        {
          resource: {
            resourceType: 'Condition',
            subject: { reference: 'urn:uuid:0c2d4a1e-0000-4000-8000-000000000011' },
            code: { text: 'Fracture of clavicle' },
            onsetDateTime: '2026-02-20',
          },
          request: { method: 'POST', url: 'Condition' },
        },
        {
          fullUrl: 'urn:uuid:0c2d4a1e-0000-4000-8000-000000000012',
          resource: { resourceType: 'Patient' },
          request: { method: 'POST', url: 'Patient' },
        },
        {
          resource: {
            resourceType: 'Condition',
            subject: { reference: 'urn:uuid:0c2d4a1e-0000-4000-8000-000000000012' },
            code: { text: 'Sprain of ankle' },
            onsetDateTime: '2026-02-01',
          },
          request: { method: 'POST', url: 'Condition' },
        },
        {
          resource: { resourceType: 'Practitioner', name: [{ family: 'Ng' }] } satisfies Practitioner,
          request: { method: 'POST', url: 'Practitioner' },
        },
      ],
    });
    const idOf = (i: number, type: string): string =>
      new RegExp(`${type}/[^/]+`).exec(created.entry?.[i]?.response?.location ?? '')?.[0] as string;
    const clavicle = await post(`${idOf(0, 'Patient')}/$match-evidence`);
    expect(value(clavicle.json, 'status')).toBe('no-match');
    expect(value(clavicle.json, 'noProtocol')).toBe('No protocol for fracture of clavicle in the library.');
    expect(String(value(clavicle.json, 'careTeamTask'))).toMatch(/^Task\//);

    const ankle = await post(`${idOf(2, 'Patient')}/$match-evidence`);
    expect(value(ankle.json, 'startPhase')).toMatch(/chosen by the clinician/);
    const task = String(value(ankle.json, 'task'));
    const practitioner = idOf(4, 'Practitioner');
    const decide = (parameter: Parameters['parameter']) =>
      post(`${task}/$review`, { resourceType: 'Parameters', parameter });
    await decide([
      { name: 'decision', valueCode: 'accept' },
      { name: 'practitioner', valueReference: { reference: practitioner } },
    ]);
    const without = await decide([
      { name: 'decision', valueCode: 'approve' },
      { name: 'practitioner', valueReference: { reference: practitioner } },
    ]);
    expect(without.status).toBe(400);
    expect(JSON.stringify(without.json)).toMatch(/choose it/);
    const withPhase = await decide([
      { name: 'decision', valueCode: 'approve' },
      { name: 'practitioner', valueReference: { reference: practitioner } },
      { name: 'phase', valueInteger: 2 },
    ]);
    expect(withPhase.status).toBe(200);
    expect(value(withPhase.json, 'phaseInForce')).toMatch(/^Phase 2/);
  });

  test("a finding's review Task through $review: confirm or dismiss, proposal decisions refused", async () => {
    const created = await client.transaction({
      resourceType: 'Bundle',
      type: 'transaction',
      entry: [
        { resource: { resourceType: 'Patient' }, request: { method: 'POST', url: 'Patient' } },
        {
          resource: { resourceType: 'Practitioner', name: [{ family: 'Okafor' }] } satisfies Practitioner,
          request: { method: 'POST', url: 'Practitioner' },
        },
      ],
    });
    const patientId = /Patient\/([^/]+)/.exec(created.entry?.[0]?.response?.location ?? '')?.[1] ?? '';
    const practitioner = /Practitioner\/[^/]+/.exec(created.entry?.[1]?.response?.location ?? '')?.[0] ?? '';
    const entry = [];
    for (let d = 0; d < 50; d++) {
      const spike = d >= 40 && d < 45;
      for (const [metric, v] of [
        ['resting-heart-rate', 60 + ((d * 7) % 5) - 2 + (spike ? 20 : 0)],
        ['hrv-rmssd', 50 + ((d * 3) % 7) - 3 - (spike ? 20 : 0)],
      ] as const) {
        const o = buildMetricObservation({
          source: 'test',
          subjectKey: 'finding-review',
          subject: { reference: `Patient/${patientId}` },
          metric,
          day: addDays('2026-01-01', d),
          value: v,
        });
        entry.push({ resource: o, request: { method: 'POST' as const, url: 'Observation' } });
      }
    }
    await client.transaction({ resourceType: 'Bundle', type: 'transaction', entry });
    await writeFindingsForPatients([patientId], { client, today: () => '2026-03-01' }, DEFAULT_FINDINGS_OPTIONS);
    const [task] = await client.searchAll<Task>('Task', { subject: `Patient/${patientId}` });
    expect(task.focus?.reference).toMatch(/^RiskAssessment\//);
    const approve = await post(`Task/${task.id}/$review`, {
      resourceType: 'Parameters',
      parameter: [
        { name: 'decision', valueCode: 'approve' },
        { name: 'practitioner', valueReference: { reference: practitioner } },
      ],
    });
    expect(approve.status).toBe(400);
    const dismissWithoutReason = await post(`Task/${task.id}/$review`, {
      resourceType: 'Parameters',
      parameter: [
        { name: 'decision', valueCode: 'dismiss' },
        { name: 'practitioner', valueReference: { reference: practitioner } },
      ],
    });
    expect(dismissWithoutReason.status).toBe(400);
    const confirm = await post(`Task/${task.id}/$review`, {
      resourceType: 'Parameters',
      parameter: [
        { name: 'decision', valueCode: 'confirm' },
        { name: 'practitioner', valueReference: { reference: practitioner } },
        { name: 'reason', valueString: 'Febrile on phone follow-up' },
      ],
    });
    expect(confirm.status).toBe(200);
    expect(value(confirm.json, 'findingDecision')).toBe('confirmed');
    const [stored] = await client.searchAll<Task>('Task', { _id: task.id ?? '' });
    expect(stored.status).toBe('completed');
    expect(stored.output?.find((o) => o.type?.text === 'review reason')?.valueString).toBe(
      'Febrile on phone follow-up'
    );
  });
});
