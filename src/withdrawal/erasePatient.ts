import type { CarePlan, Consent, Observation, Provenance, Resource, RiskAssessment, Task } from '@medplum/fhirtypes';
import type { FhirClient } from '../fhir/fhirClient';
import { TWIN_RESOURCE_SYSTEM } from '../fhir/codes/twinCodes';
import { consentAllowsProcessing } from '../policy/consentPolicy';
import { planErasure, type ErasureKey, type ErasurePlan } from './erasurePlan';

export interface ErasureDeps {
  readonly client: FhirClient;
  /** Removes resources and all their versions by key (the embedded store's purgeResources). */
  readonly purge: (keys: readonly ErasureKey[]) => Promise<number>;
  /** The calendar day the Consents are judged on (YYYY-MM-DD). */
  readonly today: () => string;
}

/** What one erasure found and did: counts and reasons only (no identifiers, no values). */
export interface ErasureSummary extends ErasurePlan {
  /** Resources actually removed (0 when only planned, or on a rerun). */
  readonly removed: number;
  /** The patient's own data, kept, by type. */
  readonly source: Readonly<Record<string, number>>;
  /** True when the Consents still allow processing: the next refresh computes the twin again. */
  readonly consentAllowsProcessing: boolean;
}

/** Source types counted in the report (what erasure never touches). */
const SOURCE_TYPES = [
  ['Observation', 'subject'],
  ['Condition', 'subject'],
  ['Procedure', 'subject'],
  ['DocumentReference', 'subject'],
  ['Consent', 'patient'],
] as const;

const TARGET_CHUNK = 50;

/**
 * Erasure on the patient's request (GDPR Art. 17, right to erasure) of what the twin derived from their data: reads
 * the engine's resources of the patient and their Provenance, plans (erasurePlan.ts, pure) and, when `apply`, purges
 * them with their history. Source data and approved clinical decisions stay. Idempotent: a rerun finds nothing left.
 */
export async function erasePatient(patientId: string, deps: ErasureDeps, apply: boolean): Promise<ErasureSummary> {
  const { client } = deps;
  const subject = `Patient/${patientId}`;
  const engines = { identifier: `${TWIN_RESOURCE_SYSTEM}|` };
  const [observations, findings, carePlans, tasks] = await Promise.all([
    client.searchAll<Observation>('Observation', { ...engines, subject }),
    client.searchAll<RiskAssessment>('RiskAssessment', { ...engines, subject }),
    client.searchAll<CarePlan>('CarePlan', { ...engines, subject }),
    client.searchAll<Task>('Task', { ...engines, patient: subject }),
  ]);
  const derived: Resource[] = [...observations, ...findings, ...carePlans, ...tasks];
  const provenance = new Map<string, Provenance>();
  for (let i = 0; i < derived.length; i += TARGET_CHUNK) {
    const target = derived
      .slice(i, i + TARGET_CHUNK)
      .map((r) => `${r.resourceType}/${r.id ?? ''}`)
      .join(',');
    for (const p of await client.searchAll<Provenance>('Provenance', { target })) {
      provenance.set(p.id ?? '', p);
    }
  }
  const plan = planErasure({ observations, findings, carePlans, tasks, provenance: [...provenance.values()] });
  const removed = apply && plan.erase.length > 0 ? await deps.purge(plan.erase) : 0;

  const twinIds = new Set(observations.map((o) => o.id));
  const source: Record<string, number> = {};
  if (
    await client.read('Patient', patientId).then(
      () => true,
      () => false
    )
  ) {
    source.Patient = 1;
  }
  for (const [type, param] of SOURCE_TYPES) {
    const found = await client.searchAll<Resource>(type, { [param]: subject });
    const own = type === 'Observation' ? found.filter((r) => !twinIds.has(r.id)) : found;
    if (own.length > 0) {
      source[type] = own.length;
    }
  }
  const consents = await client.searchAll<Consent>('Consent', { patient: subject });
  return {
    ...plan,
    removed,
    source,
    consentAllowsProcessing: consentAllowsProcessing(consents, deps.today()),
  };
}
