import { evalFhirPathTyped, type TypedValue } from '@medplum/core';
import type { Duration, PlanDefinition, PlanDefinitionAction } from '@medplum/fhirtypes';
import type { PatientSituation } from '../evidence/match/patientSituation';
import type { ProtocolMatch } from '../evidence/match/protocolMatcher';
import type { ExtractedConcept } from '../evidence/notes/conceptExtractor';

/** Whether a phase's entry criteria hold, on what the record says. */
export type CriteriaStatus = 'met' | 'not-met' | 'unknown';

export interface PhaseAssessment {
  readonly index: number;
  /** PlanDefinition.action.id of the phase ("strength-and-control"). */
  readonly id: string;
  /** "Phase 2: Strength and neuromuscular control". */
  readonly label: string;
  readonly status: CriteriaStatus;
  /** Variables the criteria need that the record does not give (for `unknown`), as named in the protocol README. */
  readonly missing: readonly string[];
  /** The same, in words a clinician reads ("knee extension deficit"). */
  readonly missingWords: readonly string[];
  /** Typical day the phase begins and ends, from the phases' timingDuration (undefined when a duration is not given). */
  readonly typicalStartDay?: number;
  readonly typicalEndDay?: number;
}

/** A review the record shows is due or past due. */
export interface OverdueReview {
  /** "Persisting symptoms review (due about day 28; today is day 43)". */
  readonly text: string;
  readonly dueDay: number;
}

/** Where the patient stands on a protocol, and why, in plain words. */
export interface PhasePlacement {
  readonly phases: readonly PhaseAssessment[];
  /** Index of the phase to start from; undefined: the record cannot decide, the clinician chooses at review. */
  readonly start: number | undefined;
  /** Why that phase (or why none), for the CarePlan description. */
  readonly reason: string;
  readonly daysSinceEvent?: number;
  readonly overdue: readonly OverdueReview[];
}

/**
 * What the README's condition variables mean, in the words a clinician uses (fhir-profiles/protocols/README.md, table
 * "Condition variables"). A variable missing here is shown by its name without the `%`.
 */
const VARIABLE_WORDS: Readonly<Record<string, string>> = Object.freeze({
  '%daysSinceEvent': 'time since the injury, surgery or onset',
  '%painScore': 'pain at rest (0-10)',
  '%painDuringActivity': 'pain during exercise (0-10)',
  '%painNextMorningWorse': 'pain or stiffness the morning after loading',
  '%swelling': 'swelling or effusion',
  '%rangeOfMotionFlexionDeg': 'range of flexion',
  '%extensionDeficitDeg': 'knee extension compared with the other side',
  '%fullWeightBearing': 'full weight bearing',
  '%walkingWithoutAid': 'walking without aids or limp',
  '%woundHealed': 'wound healing',
  '%limbSymmetryIndexPct': 'strength or hop tests compared with the other side',
  '%symptomFree24h': 'symptom-free for 24 hours',
  '%symptomFreeDays': 'days free of symptoms',
  '%symptomExacerbation': 'symptoms worsening with activity',
  '%postExertionalSymptoms': 'symptoms after exertion',
  '%rtsStep': 'last return-to-sport step completed',
  '%clinicianClearance': "a clinician's clearance",
  '%redFlags': 'red flags',
  '%fever': 'fever',
  '%systemicSymptoms': 'body-wide symptoms of infection',
  '%cardiacSymptoms': 'chest pain, palpitations, fainting or undue breathlessness',
  '%startBackRisk': 'STarT Back risk group',
  '%performanceDecline': 'decline in training performance',
  '%recoveryIndex': 'recovery index',
  '%baselineLow': 'recovery below the personal normal range',
  '%daysBelowBaseline': 'days below the personal normal range',
  '%restingHeartRateDeltaBpm': 'resting heart rate above baseline',
  '%sleepHoursAvg7d': 'average sleep over 7 days',
});

export function variableWords(variable: string): string {
  return VARIABLE_WORDS[variable] ?? variable.replace(/^%/, '');
}

/** A phase is clearly over when the time since the event is at least this multiple of its typical end. */
const PAST_FACTOR = 2;

/**
 * Evaluates each phase's entry criteria (PlanDefinition.action.condition of kind applicability/start, FHIRPath over the
 * variables of fhir-profiles/protocols/README.md) on what the record gives. A variable the record does not give is
 * replaced by the empty collection `{}`, so FHIRPath's three-valued logic (FHIRPath §6.5 Boolean logic: `false and {}`
 * is false, `true and {}` is empty) decides what it can: "no effusion" alone refutes "quiet knee and full extension",
 * but does not confirm it. Empty = `unknown`, never guessed. Pure.
 */
export function assessPhases(
  planDefinition: PlanDefinition,
  variables: Readonly<Record<string, TypedValue>>
): PhaseAssessment[] {
  let cursor: number | undefined = 0;
  return (planDefinition.action ?? []).map((phase, index) => {
    const label = phaseLabel(phase, index);
    const expressions = entryExpressions(phase);
    const used = [
      ...new Set(expressions.flatMap((e) => [...e.matchAll(/%([A-Za-z][A-Za-z0-9]*)/g)].map((m) => `%${m[1] ?? ''}`))),
    ];
    const missing = used.filter((v) => !(v in variables));
    const results = expressions.map((e) => evaluate(substituteUnknown(e, missing), variables));
    const status: CriteriaStatus = results.some((r) => r === false)
      ? 'not-met'
      : results.every((r) => r === true)
        ? 'met'
        : 'unknown';
    const days = durationDays(phase.timingDuration);
    const typicalStartDay = cursor;
    const typicalEndDay = cursor !== undefined && days !== undefined ? cursor + days : undefined;
    cursor = typicalEndDay;
    return {
      index,
      id: phase.id ?? `phase-${index + 1}`,
      label,
      status,
      missing: status === 'unknown' ? missing : [],
      missingWords: status === 'unknown' ? missing.map(variableWords) : [],
      ...(typicalStartDay !== undefined ? { typicalStartDay } : {}),
      ...(typicalEndDay !== undefined ? { typicalEndDay } : {}),
    };
  });
}

/**
 * The phase to start from, on criteria alone: the last phase whose criteria are met; the first phase when nothing is
 * known (a new episode starts at the beginning); undefined when the first phase is known not to apply and no later
 * phase is known to (the clinician chooses). placePatient() adds what time since the event says.
 */
export function currentPhase(assessments: readonly PhaseAssessment[]): number | undefined {
  const met = assessments.filter((a) => a.status === 'met').map((a) => a.index);
  if (met.length > 0) {
    return Math.max(...met);
  }
  return assessments[0]?.status === 'unknown' ? 0 : undefined;
}

/**
 * Where to start, from the criteria and the time since the event:
 * 1. the last phase whose criteria are met (currentPhase);
 * 2. if that phase is clearly over by time (days since the event at least twice its typical end, from the phases'
 *    timingDuration) and the next phase's criteria are not refuted by the record, the next phase: a knee 120 days
 *    after ACL reconstruction is not in its first fortnight. Time moves the start by one phase at most: a phase that
 *    needs a measurement (strength symmetry, a completed return-to-sport step) is not assumed from the calendar;
 * 3. otherwise no start: the clinician chooses when approving.
 * Reviews whose time has come are surfaced: a clinical-review activity whose description names a time ("by about 4
 * weeks", "at 6 months") reached, and the next phase when its typical start has passed but its criteria cannot be
 * checked on the record.
 */
export function placePatient(
  planDefinition: PlanDefinition,
  variables: Readonly<Record<string, TypedValue>>
): PhasePlacement {
  const phases = assessPhases(planDefinition, variables);
  const dse: unknown = variables['%daysSinceEvent']?.value;
  const daysSinceEvent = typeof dse === 'number' ? dse : undefined;
  let start = currentPhase(phases);
  let reason: string;
  const startPhase = start !== undefined ? phases[start] : undefined;
  if (start === undefined || !startPhase) {
    reason =
      'The record does not show which phase applies' +
      (phases[0]?.status === 'not-met' ? ` (${phases[0].label} no longer does` : ' (') +
      (phases[0]?.status === 'not-met'
        ? ' and no later phase is confirmed)'
        : 'nothing is recorded to place the patient)') +
      ': choose the phase when approving.';
  } else {
    reason =
      startPhase.status === 'met'
        ? `Start at ${startPhase.label}: its entry criteria are met on the record.`
        : `Start at ${startPhase.label}: nothing is recorded yet to place the patient further on.`;
    const next = phases[start + 1];
    if (
      daysSinceEvent !== undefined &&
      startPhase.typicalEndDay !== undefined &&
      daysSinceEvent >= PAST_FACTOR * startPhase.typicalEndDay &&
      next &&
      next.status !== 'not-met'
    ) {
      reason =
        // Two labels of the form "Phase N: title" in one sentence read as one run-on list: the past phase is named
        // by its number with its title in brackets.
        `Start at ${next.label}. ${bracketed(startPhase.label)} is past (day ${daysSinceEvent} since the event; it usually ` +
        `lasts to about day ${startPhase.typicalEndDay})` +
        (next.status === 'met'
          ? ' and its entry criteria are met.'
          : `; confirm at review: ${next.missingWords.join(', ')} not in the record.`);
      start = next.index;
    }
  }
  const overdue: OverdueReview[] = [];
  if (daysSinceEvent !== undefined) {
    const around = start ?? 0;
    for (const phase of phases.filter((p) => p.index >= around && p.index <= around + 1)) {
      for (const action of (planDefinition.action?.[phase.index]?.action ?? []).filter(isReviewPoint)) {
        const due = dueDay(`${action.title ?? ''} ${action.description ?? ''}`);
        if (due !== undefined && daysSinceEvent >= due) {
          overdue.push({
            text: `${action.title ?? 'Clinical review'} (${phase.label.split(':')[0]}): due about day ${due}; today is day ${daysSinceEvent}.`,
            dueDay: due,
          });
        }
      }
    }
    const next = start !== undefined ? phases[start + 1] : undefined;
    // A review already due in the starting phase decides the next step itself ("if symptoms have not resolved by about
    // 4 weeks, refer"): no separate readiness check beside it.
    const reviewDue = overdue.some((o) => o.text.includes(`(${phases[start ?? 0]?.label.split(':')[0] ?? ''})`));
    if (
      next &&
      !reviewDue &&
      next.status === 'unknown' &&
      next.typicalStartDay !== undefined &&
      daysSinceEvent > next.typicalStartDay
    ) {
      overdue.push({
        text:
          `Check readiness for ${next.label}: it usually starts about day ${next.typicalStartDay}; today is day ` +
          `${daysSinceEvent}. Not in the record: ${next.missingWords.join(', ')}.`,
        dueDay: next.typicalStartDay,
      });
    }
  }
  return { phases, start, reason, ...(daysSinceEvent !== undefined ? { daysSinceEvent } : {}), overdue };
}

/** "Phase 1: Early post-operative" -> "Phase 1 (Early post-operative)"; a label without a title stays as it is. */
function bracketed(label: string): string {
  const at = label.indexOf(': ');
  return at < 0 ? label : `${label.slice(0, at)} (${label.slice(at + 2)})`;
}

export function phaseLabel(phase: PlanDefinitionAction, index: number): string {
  return [phase.prefix, phase.title].filter(Boolean).join(': ') || `Phase ${index + 1}`;
}

function entryExpressions(phase: PlanDefinitionAction): string[] {
  return (phase.condition ?? [])
    .filter((c) => c.kind === 'applicability' || c.kind === 'start')
    .map((c) => c.expression?.expression)
    .filter((e): e is string => typeof e === 'string' && e.trim() !== '');
}

/** `%swelling = false and %extensionDeficitDeg <= 0` with the deficit unknown -> `%swelling = false and {} <= 0`. */
function substituteUnknown(expression: string, missing: readonly string[]): string {
  let out = expression;
  for (const v of [...missing].sort((a, b) => b.length - a.length)) {
    out = out.replace(new RegExp(`${v.replace('%', '%')}(?![A-Za-z0-9])`, 'g'), '{}');
  }
  return out;
}

function evaluate(expression: string, variables: Readonly<Record<string, TypedValue>>): boolean | undefined {
  try {
    const result = evalFhirPathTyped(expression, [], { ...variables });
    if (result.length === 1 && typeof result[0]?.value === 'boolean') {
      return result[0].value;
    }
    return undefined;
  } catch {
    return undefined;
  }
}

/** A UCUM duration in whole days (FHIR R4 Duration; the library uses d, wk, h). */
function durationDays(d: Duration | undefined): number | undefined {
  if (d?.value === undefined) {
    return undefined;
  }
  const perDay: Record<string, number> = { d: 1, wk: 7, h: 1 / 24, mo: 30 };
  const factor = perDay[d.code ?? ''];
  return factor === undefined ? undefined : Math.ceil(d.value * factor);
}

function isReviewPoint(action: PlanDefinitionAction): boolean {
  return (action.definitionCanonical ?? '').endsWith('/clinical-review-point');
}

/** "by about 4 weeks" -> 28, "at 6 months" -> 180, "at 6 weeks" -> 42. */
function dueDay(text: string): number | undefined {
  const m = /\b(?:by about|at about|at|by|after|beyond)\s+(\d+)\s+(day|week|month)s?\b/i.exec(text);
  if (!m) {
    return undefined;
  }
  const n = Number(m[1]);
  const unit = (m[2] ?? '').toLowerCase();
  return unit === 'day' ? n : unit === 'week' ? n * 7 : n * 30;
}

/**
 * The variables the record supports today (a subset of the README's list), each from the newest record that speaks
 * of it (an older "swollen" is overruled by a newer "no effusion"):
 * - %daysSinceEvent: days from the supporting Condition onset or Procedure date (else the earliest supporting note);
 * - %swelling, %fever, %systemicSymptoms: affirmed (true) or explicitly negated (false) in the notes;
 * - %fullWeightBearing, %walkingWithoutAid: "full weight bearing", "walking without crutches" (true); "crutches",
 *   "non weight bearing", "limp" (false);
 * - %symptomFree24h: false when a note affirms a current headache, dizziness, pain or fatigue;
 * - %redFlags: true when a contraindication or red flag is affirmed in the notes; otherwise unknown;
 * - %painScore: the newest patient-reported pain (0-10) of the last 7 days.
 * Not mentioned = unknown: absence of a mention is not absence of the finding.
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
  // Newest note first; notes without a date count as oldest.
  const byNewest = [...situation.notes].sort((a, b) => (b.date ?? '').localeCompare(a.date ?? ''));
  const mentionsOf = (keys: readonly string[]): ExtractedConcept[] => {
    for (const note of byNewest) {
      const found = note.concepts.filter((c) => !c.uncertain && !c.historical && keys.includes(c.key));
      if (found.length > 0) {
        return found;
      }
    }
    return [];
  };
  const flag = (keys: readonly string[]): boolean | undefined => {
    const found = mentionsOf(keys);
    if (found.some((c) => !c.negated)) {
      return true;
    }
    return found.length > 0 ? false : undefined;
  };
  const setBoolean = (name: string, value: boolean | undefined): void => {
    if (value !== undefined) {
      variables[name] = { type: 'boolean', value };
    }
  };
  setBoolean('%swelling', flag(['swelling', 'effusion']));
  setBoolean('%fever', flag(['fever']));
  const systemic = flag(['fever', 'systemic-symptoms']);
  setBoolean('%systemicSymptoms', systemic);

  const gait = mentionsOf(['weight-bearing-limit', 'full-weight-bearing', 'walking-unaided']).filter((c) => !c.negated);
  if (gait.some((c) => c.key === 'weight-bearing-limit')) {
    setBoolean('%walkingWithoutAid', false);
    setBoolean('%fullWeightBearing', false);
  } else if (gait.some((c) => c.key === 'walking-unaided')) {
    setBoolean('%walkingWithoutAid', true);
    setBoolean('%fullWeightBearing', true);
  } else if (gait.some((c) => c.key === 'full-weight-bearing')) {
    setBoolean('%fullWeightBearing', true);
  }
  if (mentionsOf(['headache', 'dizziness', 'fatigue']).some((c) => !c.negated)) {
    setBoolean('%symptomFree24h', false);
  }
  if (situation.latestPain) {
    variables['%painScore'] = { type: 'decimal', value: situation.latestPain.value };
  }
  const mentions = situation.notes.flatMap((n) => n.concepts).filter((c) => !c.uncertain && !c.historical);
  if (mentions.some((c) => c.kind === 'contraindication' && !c.negated)) {
    variables['%redFlags'] = { type: 'boolean', value: true };
  }
  return variables;
}
