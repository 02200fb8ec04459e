import type { Annotation, CarePlan, Consent, Observation, Provenance, RiskAssessment, Task } from '@medplum/fhirtypes';
import { TWIN_RESOURCE_SYSTEM } from '../fhir/codes/twinCodes';
import { WITHDRAWAL_NOTE, WITHDRAWN_TASK_REASON } from '../policy/consentWithdrawalMarks';
import { append, versionedUpdate, type PlannedWrite, type WritePlan } from '../deliver/writePlan';

/** What the engine derived for one patient, as read from the server (any status; the plan picks what is still live). */
export interface DerivedResources {
  readonly observations: readonly Observation[];
  readonly findings: readonly RiskAssessment[];
  readonly carePlans: readonly CarePlan[];
  readonly tasks: readonly Task[];
}

export interface WithdrawalContext {
  readonly patientId: string;
  /** The Consent(s) that deny processing: the reason, named by the Provenance. */
  readonly denyingConsents: readonly Consent[];
  /** When the withdrawal is recorded (Provenance.recorded, the note's time). */
  readonly now: string;
}

/** Counts of one withdrawal plan: safe to log (no values, no identifiers). */
export interface WithdrawalCounts {
  readonly observations: number;
  readonly findings: number;
  readonly proposals: number;
  readonly tasks: number;
  readonly approvedNoted: number;
}

/**
 * Task states in which a review is still open (FHIR R4 task.html#statemachine): cancelled is reachable from each of
 * them; completed, cancelled, rejected, failed and entered-in-error are final and stay as they are.
 */
const OPEN_TASK: ReadonlySet<Task['status']> = new Set([
  'draft',
  'requested',
  'received',
  'accepted',
  'ready',
  'in-progress',
  'on-hold',
]);

/**
 * CarePlan states a clinician put in force (R4 careplan.html: valueset-request-status): the plan is clinical history
 * and keeps its status; it is only marked as no longer supported by the twin.
 */
const APPROVED_PLAN: ReadonlySet<CarePlan['status']> = new Set(['active', 'on-hold', 'completed']);

export interface WithdrawalPlan {
  readonly plan: WritePlan;
  readonly counts: WithdrawalCounts;
}

/**
 * Pure: what the server must change to withdraw the engine's outputs for one patient whose Consent denies processing.
 * Only resources carrying the engine's identifier (TWIN_RESOURCE_SYSTEM) are touched; each is kept (never deleted)
 * and moved to the status its state machine allows:
 * - twin Observations (baselines, baselines in force, daily states): entered-in-error (R4 observation.html#status);
 * - findings and simulations (RiskAssessment): entered-in-error (R4 riskassessment.html, observation-status);
 * - a proposal still awaiting review (CarePlan draft): revoked (R4 valueset-request-status: "terminated prior to
 *   reaching completion"), with the note;
 * - an approved plan (active, on-hold, completed): status unchanged, the note added once;
 * - open Tasks of the engine (reviews, care-team gaps): cancelled with a statusReason.
 * Every update is version-checked (If-Match on the versionId read): a resource someone changed in between fails the
 * whole transaction rather than being overwritten. With something to withdraw, one Provenance records why (the
 * denying Consent as its source entity) in the same transaction; R4 Provenance has no identifier to key a conditional
 * create on, so "once" comes from the plan: a rerun finds nothing left to withdraw and plans no write at all.
 */
export function planWithdrawal(derived: DerivedResources, context: WithdrawalContext): WithdrawalPlan {
  const writes: PlannedWrite[] = [];
  const withdraw = <T extends Observation | RiskAssessment | CarePlan | Task>(resource: T, changed: T): void => {
    if (resource.id) {
      writes.push(versionedUpdate({ ...changed, id: resource.id }, resource.meta?.versionId));
    }
  };
  const observations = derived.observations.filter((o) => isEngines(o) && o.status !== 'entered-in-error');
  for (const o of observations) {
    withdraw(o, { ...o, status: 'entered-in-error' });
  }
  const findings = derived.findings.filter((r) => isEngines(r) && r.status !== 'entered-in-error');
  for (const r of findings) {
    withdraw(r, { ...r, status: 'entered-in-error' });
  }
  const note: Annotation = { time: context.now, text: WITHDRAWAL_NOTE };
  const engineePlans = derived.carePlans.filter(isEngines);
  const proposals = engineePlans.filter((c) => c.status === 'draft');
  for (const c of proposals) {
    withdraw(c, { ...c, status: 'revoked', note: [...(c.note ?? []), note] });
  }
  const approved = engineePlans.filter(
    (c) => APPROVED_PLAN.has(c.status) && !(c.note ?? []).some((n) => n.text === WITHDRAWAL_NOTE)
  );
  for (const c of approved) {
    withdraw(c, { ...c, note: [...(c.note ?? []), note] });
  }
  const tasks = derived.tasks.filter((t) => isEngines(t) && OPEN_TASK.has(t.status));
  for (const t of tasks) {
    withdraw(t, { ...t, status: 'cancelled', statusReason: { text: WITHDRAWN_TASK_REASON } });
  }
  const counts: WithdrawalCounts = {
    observations: observations.length,
    findings: findings.length,
    proposals: proposals.length,
    tasks: tasks.length,
    approvedNoted: approved.length,
  };
  if (writes.length > 0) {
    writes.push(append(withdrawalProvenance(writes, context)));
  }
  return { plan: { writes }, counts };
}

/** The Provenance of one withdrawal (R4 provenance.html): targets every resource changed, the Consent as the source. */
function withdrawalProvenance(writes: readonly PlannedWrite[], context: WithdrawalContext): Provenance {
  const target = writes.flatMap((w) =>
    w.kind === 'versioned-update' ? [{ reference: `${w.resource.resourceType}/${w.resource.id}` }] : []
  );
  return {
    resourceType: 'Provenance',
    target,
    recorded: context.now,
    reason: [{ text: 'The patient withdrew consent to processing by the recovery twin' }],
    activity: { text: 'withdrawal of the twin outputs (statuses entered-in-error, revoked, cancelled)' },
    agent: [{ who: { display: 'recovery-twin engine' } }],
    entity: context.denyingConsents
      .filter((c) => c.id)
      .map((c) => ({ role: 'source' as const, what: { reference: `Consent/${c.id ?? ''}` } })),
  };
}

function isEngines(resource: { identifier?: { system?: string }[] }): boolean {
  return resource.identifier?.some((i) => i.system === TWIN_RESOURCE_SYSTEM) ?? false;
}
