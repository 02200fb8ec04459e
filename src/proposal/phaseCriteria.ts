import { evalFhirPathTyped, type TypedValue } from '@medplum/core';
import type { PlanDefinition } from '@medplum/fhirtypes';
import type { PatientSituation } from '../evidence/match/patientSituation';
import type { ProtocolMatch } from '../evidence/match/protocolMatcher';

/** Whether a phase's entry criteria hold, on what the record says. */
export type CriteriaStatus = 'met' | 'not-met' | 'unknown';

export interface PhaseAssessment {
  readonly index: number;
  /** "Phase 2: Strength and neuromuscular control". */
  readonly label: string;
  readonly status: CriteriaStatus;
  /** Variables the criteria need that the record does not give (for `unknown`). */
  readonly missing: readonly string[];
}

/**
 * Evaluates each phase's entry criteria (PlanDefinition.action.condition of kind applicability/start, FHIRPath over the
 * named twin variables documented in fhir-profiles/protocols/README.md) with the variables the record supports.
 * A criterion that reads a variable the record does not give is `unknown`, never guessed: absence of a mention is not
 * absence of the finding. Pure.
 */
export function assessPhases(
  planDefinition: PlanDefinition,
  variables: Readonly<Record<string, TypedValue>>
): PhaseAssessment[] {
  return (planDefinition.action ?? []).map((phase, index) => {
    const label = [phase.prefix, phase.title].filter(Boolean).join(': ') || `Phase ${index + 1}`;
    const expressions = (phase.condition ?? [])
      .filter((c) => c.kind === 'applicability' || c.kind === 'start')
      .map((c) => c.expression?.expression)
      .filter((e): e is string => typeof e === 'string' && e.trim() !== '');
    const missing = [
      ...new Set(expressions.flatMap((e) => [...e.matchAll(/%([A-Za-z][A-Za-z0-9]*)/g)].map((m) => `%${m[1] ?? ''}`))),
    ].filter((v) => !(v in variables));
    if (missing.length > 0) {
      return { index, label, status: 'unknown', missing };
    }
    const met = expressions.every((e) => {
      try {
        const result = evalFhirPathTyped(e, [], { ...variables });
        return result.length === 1 && result[0]?.value === true;
      } catch {
        return false;
      }
    });
    return { index, label, status: met ? 'met' : 'not-met', missing: [] };
  });
}

/**
 * The phase to start from: the last phase whose criteria are met; the first phase when nothing is known (a new
 * episode starts at the beginning); undefined when the first phase is known not to apply and no later phase is
 * known to (e.g. an ankle sprain older than a week whose progress is not recorded): the clinician chooses.
 */
export function currentPhase(assessments: readonly PhaseAssessment[]): number | undefined {
  const met = assessments.filter((a) => a.status === 'met').map((a) => a.index);
  if (met.length > 0) {
    return Math.max(...met);
  }
  return assessments[0]?.status === 'unknown' ? 0 : undefined;
}

/**
 * The twin variables the record supports today (a subset of the README's list):
 * - %daysSinceEvent: days from the supporting Condition onset or Procedure date (else the earliest supporting note);
 * - %swelling, %fever: affirmed (true) or explicitly negated (false) in the notes; not mentioned = unknown;
 * - %redFlags: true when a contraindication is affirmed in the notes; otherwise unknown;
 * - %painScore: the newest patient-reported pain (0-10) of the last 7 days.
 */
export function recordVariables(
  situation: PatientSituation,
  match: ProtocolMatch,
  now: string
): Record<string, TypedValue> {
  const variables: Record<string, TypedValue> = {};
  const supporting = new Set(match.supportedBy);
  const coded = [...situation.conditions, ...situation.procedures].filter((i) => supporting.has(i.reference) && i.date);
  const notes = situation.notes.filter((i) => supporting.has(i.reference) && i.date);
  const eventDate =
    coded
      .map((i) => i.date as string)
      .sort()
      .at(-1) ?? notes.map((i) => i.date as string).sort()[0];
  if (eventDate) {
    const days = Math.floor((Date.parse(now) - Date.parse(eventDate)) / 86_400_000);
    if (Number.isFinite(days) && days >= 0) {
      variables['%daysSinceEvent'] = { type: 'integer', value: days };
    }
  }
  const mentions = situation.notes.flatMap((n) => n.concepts).filter((c) => !c.uncertain && !c.historical);
  const flag = (keys: readonly string[]): boolean | undefined => {
    const found = mentions.filter((c) => keys.includes(c.key));
    if (found.some((c) => !c.negated)) {
      return true;
    }
    return found.length > 0 ? false : undefined;
  };
  const swelling = flag(['swelling', 'effusion']);
  if (swelling !== undefined) {
    variables['%swelling'] = { type: 'boolean', value: swelling };
  }
  const fever = flag(['fever']);
  if (fever !== undefined) {
    variables['%fever'] = { type: 'boolean', value: fever };
  }
  if (situation.latestPain) {
    variables['%painScore'] = { type: 'decimal', value: situation.latestPain.value };
  }
  if (mentions.some((c) => c.kind === 'contraindication' && !c.negated)) {
    variables['%redFlags'] = { type: 'boolean', value: true };
  }
  return variables;
}
