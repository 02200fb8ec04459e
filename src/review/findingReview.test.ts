import type { Bundle, Patient, Practitioner, RiskAssessment, Task } from '@medplum/fhirtypes';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { addDays } from '../calendar/calendarDay';
import { DEFAULT_FINDINGS_OPTIONS, writeFindingsForPatients } from '../detect/findings/findingsWriter';
import { LocalFhirClient } from '../fhir/localFhirClient';
import { createValidator } from '../fhir/validation';
import { buildMetricObservation } from '../ingest/importers/metricObservation';
import { openSqliteStore, type SqliteStore } from '../store/sqliteStore';
import { createEmbeddedRouter } from '../store/transactionBundle';
import { applyFindingReview, dispatchFindingReview } from './findingReview';

const validator = createValidator();
const NOW = '2026-06-02T10:00:00Z';
let dir: string;
let store: SqliteStore;
let client: LocalFhirClient;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'twin-finding-review-'));
  store = await openSqliteStore(dir, { baseUrl: 'http://localhost/fhir/R4', durability: 'normal' });
  client = new LocalFhirClient(store.repo, createEmbeddedRouter());
});

afterAll(() => {
  store.close();
  rmSync(dir, { recursive: true, force: true });
});

/** A patient with an infection-like spike on day 40 (resting HR up, HRV down), findings written, one review Task. */
async function patientWithReviewTask(key: string): Promise<{ task: Task; patientId: string }> {
  const created = await client.transaction({
    resourceType: 'Bundle',
    type: 'transaction',
    entry: [{ resource: { resourceType: 'Patient' } satisfies Patient, request: { method: 'POST', url: 'Patient' } }],
  });
  const patientId = /Patient\/([^/]+)/.exec(created.entry?.[0]?.response?.location ?? '')?.[1] ?? '';
  const entry: Bundle['entry'] = [];
  for (let d = 0; d < 50; d++) {
    const spike = d >= 40 && d < 45;
    for (const [metric, value] of [
      ['resting-heart-rate', 60 + ((d * 7) % 5) - 2 + (spike ? 20 : 0)],
      ['hrv-rmssd', 50 + ((d * 3) % 7) - 3 - (spike ? 20 : 0)],
    ] as const) {
      const o = buildMetricObservation({
        source: 'test',
        subjectKey: key,
        subject: { reference: `Patient/${patientId}` },
        metric,
        day: addDays('2026-01-01', d),
        value,
      });
      entry.push({ resource: o, request: { method: 'POST', url: 'Observation' } });
    }
  }
  await client.transaction({ resourceType: 'Bundle', type: 'transaction', entry });
  await writeFindingsForPatients(
    [patientId],
    { client, validate: (r) => validator.validate(r), today: () => '2026-06-01' },
    { ...DEFAULT_FINDINGS_OPTIONS, taskOwner: 'CareTeam/sports-med' }
  );
  const [task] = await client.searchAll<Task>('Task', { subject: `Patient/${patientId}` });
  return { task, patientId };
}

async function practitioner(): Promise<string> {
  const created = await client.transaction({
    resourceType: 'Bundle',
    type: 'transaction',
    entry: [
      {
        resource: { resourceType: 'Practitioner', name: [{ family: 'Test' }] } satisfies Practitioner,
        request: { method: 'POST', url: 'Practitioner' },
      },
    ],
  });
  return /(Practitioner\/[^/]+)/.exec(created.entry?.[0]?.response?.location ?? '')?.[1] ?? '';
}

describe('review of an early-warning finding', () => {
  it('the Task says who, how urgent, since when, what outcome and how likely', async () => {
    const { task } = await patientWithReviewTask('describe');
    expect(task).toMatchObject({
      status: 'requested',
      owner: { reference: 'CareTeam/sports-med' },
      priority: 'urgent',
      authoredOn: '2026-06-01',
    });
    expect(task.description).toMatch(/possible infection, moderate likelihood/);
  });

  it('dismiss needs a reason; with one it completes the Task and records decision, reason and clinician', async () => {
    const { task } = await patientWithReviewTask('dismiss');
    const clinician = await practitioner();
    const validate = (r: Parameters<typeof validator.validate>[0]): void => validator.validate(r);
    await expect(
      applyFindingReview(client, { taskId: task.id ?? '', decision: 'dismiss', practitioner: clinician }, NOW, validate)
    ).rejects.toThrow(/must say why/);
    const result = await applyFindingReview(
      client,
      { taskId: task.id ?? '', decision: 'dismiss', practitioner: clinician, reason: 'Known marathon taper' },
      NOW,
      validate
    );
    expect(result).toMatchObject({ taskStatus: 'completed', decision: 'dismissed' });
    const [stored] = await client.searchAll<Task>('Task', { _id: task.id ?? '' });
    expect(stored.status).toBe('completed');
    expect(stored.businessStatus?.text).toBe('dismissed');
    expect(stored.output?.map((o) => o.valueCode ?? o.valueString)).toEqual(['dismissed', 'Known marathon taper']);
    expect(stored.note?.[0]).toMatchObject({ authorReference: { reference: clinician }, time: NOW });
    expect(stored.owner?.reference).toBe('CareTeam/sports-med');
    // The finding itself is the algorithm's assertion and stays as it was.
    const [finding] = await client.searchAll<RiskAssessment>('RiskAssessment', {
      _id: stored.focus?.reference?.split('/')[1] ?? '',
    });
    expect(finding.status).not.toBe('entered-in-error');
    // A decided review cannot be decided again.
    await expect(
      applyFindingReview(client, { taskId: task.id ?? '', decision: 'confirm', practitioner: clinician }, NOW)
    ).rejects.toThrow(/completed/);
  });

  it('$review dispatches by the Task focus: confirm a finding; proposal decisions are refused for a finding', async () => {
    const { task } = await patientWithReviewTask('confirm');
    const clinician = await practitioner();
    await expect(
      dispatchFindingReview(client, task.id ?? '', [{ name: 'decision', valueCode: 'approve' }], NOW)
    ).rejects.toThrow(/confirm or dismiss/);
    await expect(
      dispatchFindingReview(client, task.id ?? '', [{ name: 'decision', valueCode: 'confirm' }], NOW)
    ).rejects.toThrow(/Practitioner/);
    const out = await dispatchFindingReview(
      client,
      task.id ?? '',
      [
        { name: 'decision', valueCode: 'confirm' },
        { name: 'practitioner', valueReference: { reference: clinician } },
      ],
      NOW
    );
    expect(out?.parameter).toEqual([
      { name: 'taskStatus', valueCode: 'completed' },
      { name: 'findingDecision', valueCode: 'confirmed' },
    ]);
  });

  it('a Task that reviews no finding is left to the proposal review', async () => {
    const created = await client.transaction({
      resourceType: 'Bundle',
      type: 'transaction',
      entry: [
        {
          resource: {
            resourceType: 'Task',
            status: 'requested',
            intent: 'order',
            focus: { reference: 'CarePlan/x' },
          } satisfies Task,
          request: { method: 'POST', url: 'Task' },
        },
      ],
    });
    const id = /Task\/([^/]+)/.exec(created.entry?.[0]?.response?.location ?? '')?.[1] ?? '';
    expect(await dispatchFindingReview(client, id, [{ name: 'decision', valueCode: 'approve' }], NOW)).toBeUndefined();
  });
});
