import type { CarePlan, Observation, Provenance, Resource, RiskAssessment, Task } from '@medplum/fhirtypes';
import { TWIN_RESOURCE_SYSTEM } from '../fhir/codes/twinCodes';

/** What the engine derived for one patient (identifier system TWIN_RESOURCE_SYSTEM) and the Provenance of it. */
export interface ErasureCandidates {
  readonly observations: readonly Observation[];
  readonly findings: readonly RiskAssessment[];
  readonly carePlans: readonly CarePlan[];
  readonly tasks: readonly Task[];
  /** Provenance whose target is one of the resources above. */
  readonly provenance: readonly Provenance[];
}

export interface ErasureKey {
  readonly resourceType: string;
  readonly id: string;
}

export interface KeptGroup {
  readonly resourceType: string;
  readonly count: number;
  readonly reason: string;
}

export interface ErasurePlan {
  readonly erase: readonly ErasureKey[];
  /** Counts by resource type of what is erased. */
  readonly erased: Readonly<Record<string, number>>;
  /** What the twin wrote but erasure keeps, grouped by type and reason. */
  readonly kept: readonly KeptGroup[];
}

/**
 * A CarePlan a clinician put in force (src/review/reviewDecision.ts: approval sets status active and intent plan;
 * R4 valueset-request-status). Its intent stays `plan` after it is later stopped, so intent decides as well as status.
 */
function isApprovedPlan(c: CarePlan): boolean {
  return c.intent !== 'proposal' || c.status === 'active' || c.status === 'on-hold' || c.status === 'completed';
}

export const KEPT_APPROVED_PLAN = 'approved by a clinician: a clinical decision, kept in the record';
export const KEPT_APPROVAL_REVIEW = 'the review that approved a kept plan: the record of a clinical decision';
export const KEPT_DECISION_PROVENANCE = 'records (also) a kept clinical decision or its plan';

/**
 * Pure: what `twin erase` removes for one patient. Only resources the engine wrote (identifier TWIN_RESOURCE_SYSTEM)
 * are candidates, so the patient's source data (wearable Observations, Conditions, notes, the Patient) never are:
 * - twin Observations (baselines, daily states) and RiskAssessments (findings, simulations): erased, any status;
 * - CarePlans: a proposal never approved (draft, revoked after rejection or withdrawal) is erased; an approved plan
 *   is a clinician's decision and is kept;
 * - Tasks: erased, except a review Task that decided an approved plan (its focus) or that was completed (approved);
 * - Provenance: erased when every target is erased (the proposal's, a withdrawal's, a rejection's); one that also
 *   targets a kept resource (the approval's) is kept.
 */
export function planErasure(candidates: ErasureCandidates): ErasurePlan {
  const erase: ErasureKey[] = [];
  const kept = new Map<string, KeptGroup>();
  const keep = (resourceType: string, reason: string): void => {
    const k = `${resourceType}\u0000${reason}`;
    const group = kept.get(k);
    kept.set(k, { resourceType, reason, count: (group?.count ?? 0) + 1 });
  };
  const erasing = new Set<string>();
  const add = (r: Resource): void => {
    if (r.id && !erasing.has(`${r.resourceType}/${r.id}`)) {
      erasing.add(`${r.resourceType}/${r.id}`);
      erase.push({ resourceType: r.resourceType, id: r.id });
    }
  };
  candidates.observations.filter(isEngines).forEach(add);
  candidates.findings.filter(isEngines).forEach(add);
  const keptPlans = new Set<string>();
  for (const c of candidates.carePlans.filter(isEngines)) {
    if (isApprovedPlan(c)) {
      keptPlans.add(`CarePlan/${c.id ?? ''}`);
      keep('CarePlan', KEPT_APPROVED_PLAN);
    } else {
      add(c);
    }
  }
  for (const t of candidates.tasks.filter(isEngines)) {
    const focus = t.focus?.reference ?? '';
    if (keptPlans.has(focus) || t.status === 'completed') {
      keep('Task', KEPT_APPROVAL_REVIEW);
    } else {
      add(t);
    }
  }
  for (const p of candidates.provenance) {
    // A versioned target (`CarePlan/x/_history/2`) names the same resource.
    const targets = p.target.map((t) => (t.reference ?? '').replace(/\/_history\/.*$/, ''));
    if (targets.length > 0 && targets.every((t) => erasing.has(t))) {
      add(p);
    } else {
      keep('Provenance', KEPT_DECISION_PROVENANCE);
    }
  }
  const erased: Record<string, number> = {};
  for (const k of erase) {
    erased[k.resourceType] = (erased[k.resourceType] ?? 0) + 1;
  }
  return { erase, erased, kept: [...kept.values()] };
}

function isEngines(resource: { identifier?: { system?: string }[] }): boolean {
  return resource.identifier?.some((i) => i.system === TWIN_RESOURCE_SYSTEM) ?? false;
}
