import type { FhirRepository, FhirRouter } from '@medplum/fhir-router';
import type { Patient } from '@medplum/fhirtypes';
import { postBundle } from './postBundle';
import { SUBJECT_KEY_SYSTEM } from '../ingest/importers/metricObservation';
import { generateCohort } from '../cohort/generateCohort';

export interface EmbeddedSeedOptions {
  readonly patients: number;
  readonly days: number;
  readonly seed: number;
  /** Day 0 of the cohort, `YYYY-MM-DD`. */
  readonly startDate: string;
  readonly log?: (line: string) => void;
}

export interface EmbeddedSeedResult {
  readonly posted: number;
  readonly alreadyPresent: number;
}

/**
 * Loads the synthetic cohort into the embedded server through the same transaction path a client uses.
 *
 * Each patient is one atomic transaction, so a patient whose Patient resource exists is complete and is skipped:
 * a restart after a crash mid-seed finishes the rest, and an ordinary restart costs one search per patient instead
 * of re-running thousands of conditional creates. Logs counts only, never health data.
 */
export async function seedEmbeddedStore(
  repo: FhirRepository,
  router: FhirRouter,
  options: EmbeddedSeedOptions
): Promise<EmbeddedSeedResult> {
  let posted = 0;
  let alreadyPresent = 0;
  for (const patient of generateCohort(options)) {
    const existing = await repo.searchOne<Patient>({
      resourceType: 'Patient',
      filters: [{ code: 'identifier', operator: 'eq', value: `${SUBJECT_KEY_SYSTEM}|${patient.subjectKey}` }],
    });
    if (existing) {
      alreadyPresent++;
      continue;
    }
    await postBundle(router, repo, patient.bundle);
    posted++;
    if (posted % 5 === 0) {
      options.log?.(`Seeding: ${posted + alreadyPresent}/${options.patients} patients`);
    }
  }
  return { posted, alreadyPresent };
}
