import type { CarePlan, Consent, Observation, RiskAssessment, Task } from '@medplum/fhirtypes';
import { writeBack } from '../deliver/writeBack';
import type { FhirClient } from '../fhir/fhirClient';
import { TWIN_RESOURCE_SYSTEM } from '../fhir/codes/twinCodes';
import { consentAllowsProcessing } from '../policy/consentPolicy';
import { planWithdrawal, type WithdrawalCounts } from './withdrawalPlan';

export interface WithdrawalDeps {
  readonly client: FhirClient;
  /** The calendar day the Consents are judged on (YYYY-MM-DD). */
  readonly today: () => string;
  /** The instant the withdrawal is recorded (Provenance.recorded). */
  readonly now: () => string;
}

/** What one patient's withdrawal did: counts only, safe to log. */
export type WithdrawalSummary =
  { readonly status: 'consent-allows' } | ({ readonly status: 'withdrawn' | 'nothing-to-withdraw' } & WithdrawalCounts);

/**
 * Withdraws what the engine derived for one patient when an active Consent denies processing (issue 17, "withdraw with
 * effect"); does nothing while the Consents allow it (the same gate every stage uses, src/policy/consentPolicy.ts).
 * Reads the engine's resources of the patient (identifier system TWIN_RESOURCE_SYSTEM), plans the withdrawal
 * (withdrawalPlan.ts, pure) and sends it through the deliver stage as one transaction. Idempotent: a second run finds
 * nothing still live and sends nothing.
 */
export async function withdrawPatient(patientId: string, deps: WithdrawalDeps): Promise<WithdrawalSummary> {
  const { client } = deps;
  const subject = `Patient/${patientId}`;
  const consents = await client.searchAll<Consent>('Consent', { patient: subject });
  const today = deps.today();
  if (consentAllowsProcessing(consents, today)) {
    return { status: 'consent-allows' };
  }
  const denying = consents.filter((c) => !consentAllowsProcessing([c], today));
  const engines = { subject, identifier: `${TWIN_RESOURCE_SYSTEM}|` };
  const [observations, findings, carePlans, tasks] = await Promise.all([
    client.searchAll<Observation>('Observation', engines),
    client.searchAll<RiskAssessment>('RiskAssessment', engines),
    client.searchAll<CarePlan>('CarePlan', engines),
    client.searchAll<Task>('Task', engines),
  ]);
  const { plan, counts } = planWithdrawal(
    { observations, findings, carePlans, tasks },
    { patientId, denyingConsents: denying, now: deps.now() }
  );
  const written = await writeBack(client, plan);
  return { status: written.sent.length > 0 ? 'withdrawn' : 'nothing-to-withdraw', ...counts };
}

/** What a sweep did: how many patients it looked at and how many had something withdrawn. */
export interface WithdrawalSweepSummary {
  readonly patients: number;
  readonly withdrawn: number;
  readonly failed: number;
}

/**
 * The sweep: every patient with an active Consent that denies processing gets the withdrawal, so a Consent that
 * arrived while the engine was down (no event, no refresh since) is still honoured. `patientIds` narrows it to some
 * patients (`twin withdraw --patient`); each patient is its own transaction, one failure does not stop the others.
 */
export async function sweepWithdrawals(
  deps: WithdrawalDeps,
  patientIds: readonly string[] | 'all' = 'all',
  log: (line: string) => void = () => undefined
): Promise<WithdrawalSweepSummary> {
  const ids = patientIds === 'all' ? await patientsWithActiveConsent(deps.client) : patientIds;
  let withdrawn = 0;
  let failed = 0;
  for (const id of ids) {
    try {
      const s = await withdrawPatient(id, deps);
      if (s.status === 'withdrawn') {
        withdrawn++;
      }
    } catch {
      // No identifiers or health data in the log: the count says a patient failed; the rerun retries it.
      failed++;
      log('twin withdraw: one patient failed; run again to retry');
    }
  }
  return { patients: ids.length, withdrawn, failed };
}

/** Patients named by an active Consent (R4 consent.html: search `status`, `patient`), each once, in a stable order. */
async function patientsWithActiveConsent(client: FhirClient): Promise<string[]> {
  const consents = await client.searchAll<Consent>('Consent', { status: 'active' });
  const ids = new Set<string>();
  for (const c of consents) {
    const ref = c.patient?.reference ?? '';
    if (ref.startsWith('Patient/')) {
      ids.add(ref.slice('Patient/'.length));
    }
  }
  return [...ids].sort();
}
