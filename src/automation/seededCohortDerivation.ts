import type { Observation, Patient } from '@medplum/fhirtypes';
import { writeFindingsForPatients } from '../detect/findings/findingsWriter';
import type { EvidenceEngine } from '../evidence/evidenceEngine';
import type { FhirClient } from '../fhir/fhirClient';
import { TWIN_RESOURCE_SYSTEM } from '../fhir/codes/twinCodes';
import { proposeCarePlan } from '../proposal/proposalWriter';
import { refreshPatientTwin } from '../twin/refresh/refreshPatientTwin';

export interface SeededCohortWorld {
  readonly client: FhirClient;
  readonly evidence: EvidenceEngine;
  readonly today: () => string;
  readonly now: () => string;
  readonly timeZone?: string;
  /** Aborted when the server shuts down: the run stops between two patients (each patient's writes are atomic). */
  readonly signal: AbortSignal;
  readonly log: (line: string) => void;
}

export interface SeededCohortSummary {
  readonly patients: number;
  readonly derived: number;
  readonly alreadyDerived: number;
  readonly proposals: number;
  readonly failed: number;
  readonly stopped: boolean;
}

/**
 * The embedded default's first start: runs, for every patient whose twin has not been derived yet, what the hospital
 * deployment's automation and bots run on new data (twin refresh, early-warning findings, evidence matching and a
 * care-plan proposal for review), so a clinician opening the demo sees a twin, findings and proposals waiting for
 * review rather than raw measurements. Nothing here approves anything: every proposal is a draft with its review Task.
 *
 * "Derived" means the patient has a twin Observation (identifier system TWIN_RESOURCE_SYSTEM); a patient interrupted
 * between its refresh and its proposal is completed by the next refresh/plan run, and every write is idempotent, so
 * a restart never duplicates anything. Counts only in the log.
 */
export async function deriveSeededCohort(world: SeededCohortWorld): Promise<SeededCohortSummary> {
  const patients = (await world.client.searchAll<Patient>('Patient', { _sort: '_id' })).map((p) => p.id as string);
  let derived = 0;
  let alreadyDerived = 0;
  let proposals = 0;
  let failed = 0;
  for (const id of patients) {
    if (world.signal.aborted) {
      break;
    }
    try {
      const twin = await world.client.searchAll<Observation>('Observation', {
        subject: `Patient/${id}`,
        identifier: `${TWIN_RESOURCE_SYSTEM}|`,
      });
      if (twin.length > 0) {
        alreadyDerived++;
        continue;
      }
      const refreshed = await refreshPatientTwin(id, {
        client: world.client,
        today: world.today,
        ...(world.timeZone ? { timeZone: world.timeZone } : {}),
      });
      if (refreshed.status === 'skipped-consent') {
        continue;
      }
      await writeFindingsForPatients([id], { client: world.client, today: world.today });
      const proposal = await proposeCarePlan(id, { ...world.evidence, client: world.client, now: world.now });
      if (proposal.status === 'created') {
        proposals++;
      }
      derived++;
    } catch {
      // The reason may name health data; the patient is left for the next run.
      failed++;
    }
    if ((derived + alreadyDerived + failed) % 5 === 0) {
      world.log(`Demo twins: ${derived + alreadyDerived + failed}/${patients.length} patients`);
    }
  }
  return {
    patients: patients.length,
    derived,
    alreadyDerived,
    proposals,
    failed,
    stopped: world.signal.aborted,
  };
}
