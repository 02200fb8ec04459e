import type {
  Bundle,
  CarePlan,
  Consent,
  Observation,
  Patient,
  Provenance,
  Resource,
  RiskAssessment,
  Task,
} from '@medplum/fhirtypes';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { addDays } from '../calendar/calendarDay';
import { DEFAULT_FINDINGS_OPTIONS, writeFindingsForPatients } from '../detect/findings/findingsWriter';
import { TWIN_RESOURCE_SYSTEM } from '../fhir/codes/twinCodes';
import { LocalFhirClient } from '../fhir/localFhirClient';
import { buildMetricObservation } from '../ingest/importers/metricObservation';
import { openSqliteStore, type SqliteStore } from '../store/sqliteStore';
import { createEmbeddedRouter } from '../store/transactionBundle';
import { refreshPatientTwin } from '../twin/refresh/refreshPatientTwin';
import { WITHDRAWAL_NOTE } from '../policy/consentWithdrawalMarks';
import { sweepWithdrawals, withdrawPatient, type WithdrawalDeps } from './withdrawPatient';

const TODAY = '2026-06-01';
let dir: string;
let store: SqliteStore;
let client: LocalFhirClient;
let deps: WithdrawalDeps;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'twin-withdrawal-'));
  store = await openSqliteStore(dir, { baseUrl: 'http://localhost/fhir/R4', durability: 'normal' });
  client = new LocalFhirClient(store.repo, createEmbeddedRouter());
  deps = { client, today: () => TODAY, now: () => `${TODAY}T10:00:00Z` };
});

afterAll(() => {
  store.close();
  rmSync(dir, { recursive: true, force: true });
});

async function create<T extends Resource>(resource: T): Promise<string> {
  const created = await client.transaction({
    resourceType: 'Bundle',
    type: 'transaction',
    entry: [{ resource, request: { method: 'POST', url: resource.resourceType } }],
  });
  const location = created.entry?.[0]?.response?.location ?? '';
  return new RegExp(`${resource.resourceType}/([^/]+)`).exec(location)?.[1] ?? '';
}

function consent(patientId: string, type: 'permit' | 'deny'): Consent {
  return {
    resourceType: 'Consent',
    status: 'active',
    // consentscope 'patient-privacy' and LOINC 59284-0 as in src/cohort/clinicalResources.ts
    scope: {
      coding: [
        {
          system: 'http://terminology.hl7.org/CodeSystem/consentscope',
          code: 'patient-privacy',
          display: 'Privacy Consent',
        },
      ],
    },
    category: [{ coding: [{ system: 'http://loinc.org', code: '59284-0', display: 'Patient Consent' }] }],
    patient: { reference: `Patient/${patientId}` },
    policy: [{ uri: 'https://recovery-twin.dev/policy/wearable-data-processing' }],
    provision: { type, period: { start: '2026-05-01' } },
  };
}

/**
 * A patient with the engine's outputs of every kind: the twin (real refresh), findings with a review Task (real
 * detector over an infection-like spike), a draft proposal with its review Task and an approved CarePlan.
 */
async function patientWithOutputs(key: string): Promise<string> {
  const patientId = await create<Patient>({ resourceType: 'Patient' });
  const subject = { reference: `Patient/${patientId}` };
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
        subject,
        metric,
        day: addDays('2026-01-01', d),
        value,
      });
      entry.push({ resource: o, request: { method: 'POST', url: 'Observation' } });
    }
  }
  await client.transaction({ resourceType: 'Bundle', type: 'transaction', entry });
  await refreshPatientTwin(patientId, { client, today: () => TODAY });
  await writeFindingsForPatients([patientId], { client, today: () => TODAY }, DEFAULT_FINDINGS_OPTIONS);
  const plan = (status: CarePlan['status'], value: string): CarePlan => ({
    resourceType: 'CarePlan',
    identifier: [{ system: TWIN_RESOURCE_SYSTEM, value }],
    status,
    intent: 'proposal',
    subject,
    title: 'Test plan',
  });
  const draftId = await create(plan('draft', `proposal/${patientId}/test/2`));
  await create(plan('active', `proposal/${patientId}/test/1`));
  await create<Task>({
    resourceType: 'Task',
    identifier: [{ system: TWIN_RESOURCE_SYSTEM, value: `proposal-review/${patientId}/test/2` }],
    status: 'requested',
    intent: 'proposal',
    for: subject,
    focus: { reference: `CarePlan/${draftId}` },
  });
  return patientId;
}

/** Every engine resource of the patient and every Provenance, by reference -> versionId. */
async function versions(patientId: string): Promise<Map<string, string>> {
  const engines = { subject: `Patient/${patientId}`, identifier: `${TWIN_RESOURCE_SYSTEM}|` };
  const all: Resource[] = [
    ...(await client.searchAll<Observation>('Observation', { subject: `Patient/${patientId}` })),
    ...(await client.searchAll<RiskAssessment>('RiskAssessment', engines)),
    ...(await client.searchAll<CarePlan>('CarePlan', engines)),
    ...(await client.searchAll<Task>('Task', engines)),
    ...(await client.searchAll<Provenance>('Provenance', {})),
  ];
  return new Map(all.map((r) => [`${r.resourceType}/${r.id ?? ''}`, r.meta?.versionId ?? '']));
}

async function engineResources(patientId: string): Promise<{
  observations: Observation[];
  findings: RiskAssessment[];
  plans: CarePlan[];
  tasks: Task[];
}> {
  const engines = { subject: `Patient/${patientId}`, identifier: `${TWIN_RESOURCE_SYSTEM}|` };
  return {
    observations: await client.searchAll<Observation>('Observation', engines),
    findings: await client.searchAll<RiskAssessment>('RiskAssessment', engines),
    plans: await client.searchAll<CarePlan>('CarePlan', engines),
    tasks: await client.searchAll<Task>('Task', engines),
  };
}

describe('withdraw with effect (issue 17)', () => {
  let patientId: string;
  let consentId: string;

  beforeAll(async () => {
    patientId = await patientWithOutputs('withdraw-a');
  }, 120_000);

  it('does nothing while the Consents allow processing', async () => {
    const before = await versions(patientId);
    expect(await withdrawPatient(patientId, deps)).toEqual({ status: 'consent-allows' });
    expect(await versions(patientId)).toEqual(before);
  });

  it('withdraws every output once a denying Consent is active, and keeps the approved plan noted', async () => {
    const before = await engineResources(patientId);
    expect(before.observations.length).toBeGreaterThan(0);
    expect(before.findings.length).toBeGreaterThan(0);
    expect(before.tasks.filter((t) => (t.focus?.reference ?? '').startsWith('RiskAssessment/')).length).toBeGreaterThan(
      0
    );
    const provenancesBefore = (await client.searchAll<Provenance>('Provenance', {})).length;

    consentId = await create(consent(patientId, 'deny'));
    const summary = await withdrawPatient(patientId, deps);
    expect(summary).toMatchObject({ status: 'withdrawn', proposals: 1, approvedNoted: 1 });

    const after = await engineResources(patientId);
    expect(after.observations.length).toBe(before.observations.length);
    expect(after.observations.every((o) => o.status === 'entered-in-error')).toBe(true);
    expect(after.findings.every((r) => r.status === 'entered-in-error')).toBe(true);
    expect(after.tasks.every((t) => t.status === 'cancelled' || t.status === 'completed')).toBe(true);
    expect(after.tasks.filter((t) => t.status === 'cancelled').length).toBeGreaterThanOrEqual(2);
    const draft = after.plans.find((c) => c.identifier?.[0]?.value?.endsWith('/2'));
    const approved = after.plans.find((c) => c.identifier?.[0]?.value?.endsWith('/1'));
    expect(draft?.status).toBe('revoked');
    expect(approved?.status).toBe('active');
    expect(approved?.note?.map((n) => n.text)).toEqual([WITHDRAWAL_NOTE]);

    const provenances = await client.searchAll<Provenance>('Provenance', {});
    expect(provenances.length).toBe(provenancesBefore + 1);
    const record = provenances.find((p) => p.entity?.some((e) => e.what?.reference === `Consent/${consentId}`));
    expect(record?.target.length).toBe(
      after.observations.length + after.findings.length + 2 + (summary.status === 'withdrawn' ? summary.tasks : 0)
    );
  });

  it('writes nothing new when run again, by the patient or by the sweep', async () => {
    const before = await versions(patientId);
    expect(await withdrawPatient(patientId, deps)).toMatchObject({ status: 'nothing-to-withdraw', observations: 0 });
    expect(await sweepWithdrawals(deps)).toMatchObject({ withdrawn: 0, failed: 0 });
    expect(await versions(patientId)).toEqual(before);
  });

  it('processes nothing more for the patient: refresh and findings write nothing', async () => {
    const before = await versions(patientId);
    expect((await refreshPatientTwin(patientId, { client, today: () => TODAY })).status).toBe('skipped-consent');
    await writeFindingsForPatients([patientId], { client, today: () => TODAY }, DEFAULT_FINDINGS_OPTIONS);
    expect(await versions(patientId)).toEqual(before);
  });

  it('resumes when the deny is no longer in force (a new permit)', async () => {
    const denying = await client.read<Consent>('Consent', consentId);
    await client.transaction({
      resourceType: 'Bundle',
      type: 'transaction',
      entry: [
        {
          resource: { ...denying, status: 'inactive' },
          request: { method: 'PUT', url: `Consent/${consentId}` },
        },
      ],
    });
    await create(consent(patientId, 'permit'));
    expect(await withdrawPatient(patientId, deps)).toEqual({ status: 'consent-allows' });
    const summary = await refreshPatientTwin(patientId, { client, today: () => TODAY });
    expect(summary.status).toBe('refreshed');
    const { observations } = await engineResources(patientId);
    expect(observations.some((o) => o.status === 'final')).toBe(true);
  });
});

describe('the sweep', () => {
  it('withdraws for a patient whose denying Consent arrived while nothing ran', async () => {
    const patientId = await patientWithOutputs('withdraw-b');
    await create(consent(patientId, 'deny'));
    const summary = await sweepWithdrawals(deps);
    expect(summary.withdrawn).toBe(1);
    const { observations } = await engineResources(patientId);
    expect(observations.every((o) => o.status === 'entered-in-error')).toBe(true);
    expect((await sweepWithdrawals(deps)).withdrawn).toBe(0);
  }, 120_000);
});
