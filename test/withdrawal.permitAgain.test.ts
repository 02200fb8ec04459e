/**
 * Deny -> permit -> refresh: after a Consent that denies processing withdrew the twin's outputs and a new Consent
 * permits it again, a finding written again gets its review Task again, and a proposal revoked by the withdrawal is
 * not read as a clinician's rejection: a fresh proposal is made. Reruns write nothing new.
 */
import type { CarePlan, Consent, RiskAssessment, Task } from '@medplum/fhirtypes';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeFindingsForPatients } from '../src/detect/findings/findingsWriter';
import { ProtocolMatcher } from '../src/evidence/match/protocolMatcher';
import { TWIN_RESOURCE_SYSTEM } from '../src/fhir/codes/twinCodes';
import { LocalFhirClient } from '../src/fhir/localFhirClient';
import { isCancelledByWithdrawal, isRevokedByWithdrawal } from '../src/policy/consentWithdrawalMarks';
import { proposeCarePlan } from '../src/proposal/proposalWriter';
import { loadProtocolLibrary } from '../src/protocols/protocolLibrary';
import { openSqliteStore, type SqliteStore } from '../src/store/sqliteStore';
import { createEmbeddedRouter } from '../src/store/transactionBundle';
import { withdrawPatient } from '../src/withdrawal/withdrawPatient';
import { seedClinicianScenario } from './support/clinicianScenario';

const NOW = new Date('2026-03-02T10:00:00Z');
const TODAY = NOW.toISOString().slice(0, 10);
let dir: string;
let store: SqliteStore;

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'twin-permit-again-'));
  store = await openSqliteStore(dir, { baseUrl: 'http://localhost/fhir/R4', durability: 'normal' });
});

afterEach(() => {
  store.close();
  rmSync(dir, { recursive: true, force: true });
});

function consent(patientId: string, type: 'deny' | 'permit'): Consent {
  return {
    resourceType: 'Consent',
    status: 'active',
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
    provision: { type },
  };
}

test('deny -> permit -> refresh: findings come back with their review Tasks, and a fresh proposal is made', async () => {
  const router = createEmbeddedRouter();
  const client = new LocalFhirClient(store.repo, router);
  const library = loadProtocolLibrary();
  const matcher = await ProtocolMatcher.create(library);
  const scenario = await seedClinicianScenario(store.repo, router, { library, matcher }, NOW);
  const engines = { identifier: `${TWIN_RESOURCE_SYSTEM}|` };
  const findings = (patientId: string): Promise<RiskAssessment[]> =>
    client.searchAll<RiskAssessment>('RiskAssessment', { ...engines, subject: `Patient/${patientId}` });
  const tasks = (patientId: string): Promise<Task[]> =>
    client.searchAll<Task>('Task', { ...engines, patient: `Patient/${patientId}` });
  const openReviewOf = (all: Task[], finding: RiskAssessment): Task[] =>
    all.filter((t) => t.focus?.reference === `RiskAssessment/${finding.id}` && t.status === 'requested');

  // The patient with the proposal, and a patient whose finding awaits review (which patient depends on the ids the
  // store gives the synthetic cohort, so it is looked up).
  const reviewed = (await client.searchAll<Task>('Task', { ...engines, status: 'requested' })).find((t) =>
    t.focus?.reference?.startsWith('RiskAssessment/')
  );
  const reviewPatient = (reviewed?.for?.reference ?? '').replace('Patient/', '');
  expect(reviewPatient).not.toBe('');
  const tasksBefore = await tasks(reviewPatient);
  const withTask = (await findings(reviewPatient)).filter((f) => openReviewOf(tasksBefore, f).length === 1);
  expect(withTask.length).toBeGreaterThan(0);

  // Deny: the withdrawal cancels the reviews and revokes the proposal.
  const patients = [...new Set([scenario.patientId, reviewPatient])];
  const denies: string[] = [];
  for (const patientId of patients) {
    denies.push((await store.repo.createResource(consent(patientId, 'deny'))).id);
    const withdrawal = await withdrawPatient(patientId, { client, today: () => TODAY, now: () => NOW.toISOString() });
    expect(withdrawal.status).toBe('withdrawn');
  }
  const revoked = await client.read<CarePlan>('CarePlan', scenario.carePlanId);
  expect(isRevokedByWithdrawal(revoked)).toBe(true);
  const cancelledByWithdrawal = (await tasks(reviewPatient)).filter(isCancelledByWithdrawal).length;
  expect(cancelledByWithdrawal).toBeGreaterThanOrEqual(withTask.length);

  // Permit again: the deny is no longer active and a permitting Consent is on file.
  for (const [i, patientId] of patients.entries()) {
    const deny = await store.repo.readResource<Consent>('Consent', denies[i] ?? '');
    await store.repo.updateResource<Consent>({ ...deny, status: 'inactive' });
    await store.repo.createResource(consent(patientId, 'permit'));
  }

  // Refresh: findings come back, and each that had a review has an open review again.
  const deps = { client, today: () => TODAY };
  await writeFindingsForPatients(patients, deps);
  const back = await findings(reviewPatient);
  const tasksAfter = await tasks(reviewPatient);
  for (const f of withTask) {
    const again = back.find((b) => b.id === f.id);
    expect(again?.status).not.toBe('entered-in-error');
    expect(openReviewOf(tasksAfter, f)).toHaveLength(1);
  }
  // The cancelled reviews stay as they were (audit); the renewed ones are new Tasks.
  expect(tasksAfter.filter(isCancelledByWithdrawal).length).toBe(cancelledByWithdrawal);

  // The proposal: the withdrawn one is not a rejection, a fresh one is written for review.
  const proposeDeps = { client, library, matcher, now: () => NOW.toISOString() };
  const fresh = await proposeCarePlan(scenario.patientId, proposeDeps, { owner: scenario.practitioner });
  expect(fresh.status).toBe('created');
  if (fresh.status !== 'created') {
    throw new Error('expected a proposal');
  }
  expect(fresh.carePlan).not.toBe(`CarePlan/${scenario.carePlanId}`);
  const freshPlan = await client.read<CarePlan>('CarePlan', fresh.carePlan.replace('CarePlan/', ''));
  expect(freshPlan.status).toBe('draft');
  const patientId = scenario.patientId;
  const freshTask = (await tasks(patientId)).find((t) => t.focus?.reference === fresh.carePlan);
  expect(freshTask?.status).toBe('requested');

  // Reruns write nothing new.
  const rerun = await writeFindingsForPatients(patients, deps);
  expect(rerun.tasksCreated).toBe(0);
  const taskCount = (await tasks(reviewPatient)).length;
  expect((await proposeCarePlan(patientId, proposeDeps, { owner: scenario.practitioner })).status).toBe('exists');
  await writeFindingsForPatients(patients, deps);
  expect((await tasks(reviewPatient)).length).toBe(taskCount);
}, 120_000);
