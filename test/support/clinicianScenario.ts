import type { FhirRepository, FhirRouter } from '@medplum/fhir-router';
import type { DocumentReference, Patient, Practitioner, RiskAssessment, Task } from '@medplum/fhirtypes';
import { generateCohort } from '../../src/cohort/generateCohort';
import { writeFindingsForPatients } from '../../src/detect/findings/findingsWriter';
import type { EvidenceEngine } from '../../src/evidence/evidenceEngine';
import { LocalFhirClient } from '../../src/fhir/localFhirClient';
import { proposeCarePlan } from '../../src/proposal/proposalWriter';
import { postBundle } from '../../src/server/postBundle';
import { refreshPatientTwin } from '../../src/twin/refresh/refreshPatientTwin';

export interface ClinicianScenario {
  readonly patientId: string;
  readonly otherPatientId: string;
  readonly practitioner: string;
  readonly taskId: string;
  readonly carePlanId: string;
  readonly openFindings: number;
}

function isoDay(d: Date): string {
  return d.toISOString().slice(0, 10);
}

/**
 * What a clinician meets: synthetic patients through the real pipeline (cohort -> twin refresh -> findings), a
 * practitioner, and for the patient with an open finding a note that the protocol library matches, proposed as a
 * CarePlan awaiting review (the same functions `twin refresh`, `twin findings` and `twin plan` run).
 */
export async function seedClinicianScenario(
  repo: FhirRepository,
  router: FhirRouter,
  evidence: EvidenceEngine,
  now: Date
): Promise<ClinicianScenario> {
  const client = new LocalFhirClient(repo, router);
  const today = (): string => isoDay(now);
  const start = new Date(now.getTime() - 59 * 86_400_000);
  for (const generated of generateCohort({ patients: 4, days: 60, seed: 20260301, startDate: isoDay(start) })) {
    await postBundle(router, repo, generated.bundle);
  }
  const patients = await client.searchAll<Patient>('Patient', {});
  const ids = patients.map((p) => p.id ?? '').sort();
  for (const id of ids) {
    await refreshPatientTwin(id, { client, today });
  }
  await writeFindingsForPatients(ids, { client, today });
  const open = new Map<string, number>();
  for (const r of await client.searchAll<RiskAssessment>('RiskAssessment', {})) {
    const subject = (r.subject?.reference ?? '').replace('Patient/', '');
    if (r.status === 'preliminary') {
      open.set(subject, (open.get(subject) ?? 0) + 1);
    }
  }
  // Server-assigned ids are random: choose by the cohort's own subject key, so every run meets the same patient, and
  // prefer one whose open finding has its review Task (a clinician's scenario has something to review).
  const keyOf = new Map(patients.map((p) => [p.id ?? '', p.identifier?.[0]?.value ?? '']));
  const reviewed = new Set(
    (await client.searchAll<Task>('Task', {}))
      .filter((t) => (t.focus?.reference ?? '').startsWith('RiskAssessment/'))
      .map((t) => (t.for?.reference ?? '').replace('Patient/', ''))
  );
  const byKey = [...ids].sort((a, b) => (keyOf.get(a) ?? '').localeCompare(keyOf.get(b) ?? ''));
  const patientId =
    byKey.find((id) => open.has(id) && reviewed.has(id)) ?? byKey.find((id) => open.has(id)) ?? byKey[0] ?? '';
  const otherPatientId = byKey.find((id) => id !== patientId) ?? '';
  await repo.updateResource<Practitioner>({
    resourceType: 'Practitioner',
    id: 'dr1',
    name: [{ prefix: ['Dr'], given: ['Robin'], family: 'Review' }],
  });
  await repo.updateResource<DocumentReference>({
    resourceType: 'DocumentReference',
    id: `note-${patientId}`,
    status: 'current',
    subject: { reference: `Patient/${patientId}` },
    content: [
      {
        attachment: {
          contentType: 'text/plain',
          data: Buffer.from(
            'Sprained ankle playing netball yesterday. No fracture. Wants to return to sport.'
          ).toString('base64'),
        },
      },
    ],
  });
  const outcome = await proposeCarePlan(
    patientId,
    { client, library: evidence.library, matcher: evidence.matcher, now: () => now.toISOString() },
    { owner: 'Practitioner/dr1' }
  );
  if ((outcome.status !== 'created' && outcome.status !== 'exists') || !outcome.task) {
    throw new Error(`The scenario expected a proposal, got ${outcome.status}`);
  }
  return {
    patientId,
    otherPatientId,
    practitioner: 'Practitioner/dr1',
    taskId: outcome.task.replace('Task/', ''),
    carePlanId: outcome.carePlan.replace('CarePlan/', ''),
    openFindings: open.get(patientId) ?? 0,
  };
}
