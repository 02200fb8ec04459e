import type { Reference, RiskAssessment, Task } from '@medplum/fhirtypes';
import type { MetricName } from '../../fhir/metricCatalogue';
import { AIAST } from '../../policy/aiTransparency';
import { isoDay } from '../../calendar/calendarDay';
import { TWIN_PROFILE, TWIN_RESOURCE_SYSTEM } from '../../fhir/codes/twinCodes';
import type { AlarmEpisode } from './alarmEpisodes';
import type { Attribution } from './episodeAttribution';
import {
  classifyEpisode,
  episodeDeviations,
  explainEpisode,
  type FindingOutcome,
  type MetricDeviation,
} from './episodeExplanation';
import {
  findingLikelihood,
  qualitativeRiskCoding,
  type FindingLikelihood,
  type ScoreCalibration,
} from './findingLikelihood';
import type { FindingDetectorName } from './findingSource';

/** Identifier value of a finding: one per patient, detector and onset day, so a replay updates it in place. */
export function findingIdentifierValue(patientId: string, detector: FindingDetectorName, onsetDay: number): string {
  return `finding/${patientId}/${detector}/${isoDay(onsetDay)}`;
}

/** Identifier value of the review Task of a finding. */
export function findingReviewIdentifierValue(
  patientId: string,
  detector: FindingDetectorName,
  onsetDay: number
): string {
  return `finding-review/${patientId}/${detector}/${isoDay(onsetDay)}`;
}

/** Observation ids that fed one day's score, per metric (from findingsInput.ts). */
export type BasisIndex = ReadonlyMap<number, ReadonlyMap<MetricName, readonly string[]>>;

/** The twin's own Observations on the server: daily recovery states by day, baselines by metric and as-of day. */
export interface TwinOutputs {
  readonly states: ReadonlyMap<number, string>;
  /** Ascending by as-of day. */
  readonly baselines: readonly { readonly metric: MetricName; readonly id: string; readonly asOf: number }[];
}

export interface FindingContext {
  readonly patientId: string;
  readonly detector: FindingDetectorName;
  /** Literal reference to the detector's Device (`Device/{id}`): the profile's twin-ra-2 wants a literal reference. */
  readonly deviceReference: string;
  /** Device version, named in the note. */
  readonly deviceVersion: string;
  readonly alarmThreshold: number;
  /** The detector closes episodes by hysteresis (ensemble, lstm): a closed episode is back towards baseline. */
  readonly hysteresis: boolean;
  /** Episodes at least this long with only activity below baseline read as a recovery plateau. */
  readonly plateauDays: number;
  /** Most references a finding names in basis (the most telling first: peak day, states, baselines). */
  readonly maxBasis: number;
  /** A calibration of the detector's score on labelled data; without it no probability is published. */
  readonly calibration?: ScoreCalibration;
}

export interface Finding {
  readonly riskAssessment: RiskAssessment;
  readonly outcome: FindingOutcome;
  readonly likelihood: FindingLikelihood;
}

/** What a finding rests on: the measurements by day, and the twin's daily states and baselines. */
export interface FindingEvidence {
  readonly basis: BasisIndex;
  readonly twin: TwinOutputs;
}

/**
 * The finding of one alarm episode (profile anomaly-risk-assessment). Pure: the same episode and context give the
 * same resource, byte for byte, so a replay is a no-op update.
 *
 * - status: `preliminary` while the episode is open or a pending sustained shift (R4 observation-status: "initial or
 *   interim ... may be incomplete"), `final` once it has closed (nothing later changes it).
 * - occurrenceDateTime: the onset day (profile: when the finding was made; it is the day the detector first saw it).
 * - basis: the peak day's measurements of the metrics named, the daily recovery states of the peak and onset days,
 *   the baselines in force at onset for the metrics named, then the other alarm days by score (highest first): the
 *   peak is never cut off by the cap.
 * - prediction: outcome as text (heuristic labels, episodeExplanation.ts; a recorded condition or procedure at the
 *   onset is named, episodeAttribution.ts), qualitativeRisk always, probabilityDecimal only with a calibration
 *   (findingLikelihood.ts), and the rationale saying which.
 */
export function buildFinding(
  episode: AlarmEpisode,
  evidence: FindingEvidence,
  context: FindingContext,
  attribution?: Attribution
): Finding {
  const deviations = episodeDeviations(episode);
  const span = episode.lastDay - episode.onsetDay + 1;
  const outcome = outcomeOf(episode, deviations, span, context.plateauDays, attribution);
  const explained = attribution !== undefined && !attribution.infection;
  const likelihood = findingLikelihood(episode.peakScore, context.alarmThreshold, explained, context.calibration);
  const basis = basisOf(episode, evidence, new Set(deviations.map((d) => d.metric)), context.maxBasis);
  const riskAssessment: RiskAssessment = {
    resourceType: 'RiskAssessment',
    // AI Transparency on FHIR: a finding is asserted by an algorithm, and says so in its security label.
    meta: { profile: [TWIN_PROFILE.anomalyRiskAssessment], security: [{ ...AIAST }] },
    identifier: [
      {
        system: TWIN_RESOURCE_SYSTEM,
        value: findingIdentifierValue(context.patientId, context.detector, episode.onsetDay),
      },
    ],
    status: episode.open ? 'preliminary' : 'final',
    method: { text: `recovery-twin early warning, ${context.detector} detector` },
    subject: { reference: `Patient/${context.patientId}` },
    occurrenceDateTime: isoDay(episode.onsetDay),
    performer: { reference: context.deviceReference },
    basis,
    prediction: [
      {
        outcome: { text: outcome },
        ...(likelihood.probability === undefined ? {} : { probabilityDecimal: likelihood.probability }),
        qualitativeRisk: { coding: [qualitativeRiskCoding(likelihood.qualitative)] },
        rationale: likelihood.rationale,
      },
    ],
    note: [
      {
        text: explainEpisode(episode, deviations, outcome, {
          detectorLabel: `${context.detector} detector ${context.deviceVersion}`,
          alarmThreshold: context.alarmThreshold,
          hysteresis: context.hysteresis,
          attribution,
          likelihood: likelihood.sentence,
        }),
      },
    ],
  };
  return { riskAssessment, outcome, likelihood };
}

/**
 * The outcome label: a recorded condition or procedure at the onset labels it, unless there is a fever (after an
 * injury or operation a fever is not expected, heart rate up and HRV down are); then the pattern rule
 * (classifyEpisode), a pending sustained shift being "new normal?" unless the pattern is an infection.
 */
function outcomeOf(
  episode: AlarmEpisode,
  deviations: readonly MetricDeviation[],
  span: number,
  plateauDays: number,
  attribution: Attribution | undefined
): FindingOutcome {
  if (attribution?.infection) {
    return 'possible infection';
  }
  if (attribution && (attribution.event.kind === 'condition' || attribution.event.kind === 'procedure')) {
    return 'change after a recorded condition or procedure';
  }
  const pattern = classifyEpisode(deviations, span, plateauDays);
  if (pattern !== 'possible infection' && episode.shift === 'pending') {
    return 'sustained change (new normal?)';
  }
  return pattern;
}

function basisOf(
  episode: AlarmEpisode,
  evidence: FindingEvidence,
  named: ReadonlySet<MetricName>,
  maxBasis: number
): Reference[] {
  const refs: string[] = [];
  const add = (ids: readonly string[] | undefined): void => {
    for (const id of ids ?? []) {
      if (!refs.includes(id)) {
        refs.push(id);
      }
    }
  };
  const measured = (day: number, which: 'named' | 'other'): string[] => {
    const byMetric = evidence.basis.get(day);
    if (!byMetric) {
      return [];
    }
    return [...byMetric.keys()]
      .filter((m) => named.has(m) === (which === 'named'))
      .sort()
      .flatMap((m) => [...(byMetric.get(m) ?? [])]);
  };
  const byScore = [...episode.days].sort((a, b) => b.score - a.score || a.day - b.day).map((d) => d.day);
  add(measured(episode.peakDay, 'named'));
  for (const day of [episode.peakDay, episode.onsetDay]) {
    const state = evidence.twin.states.get(day);
    add(state === undefined ? [] : [state]);
  }
  for (const metric of [...named].sort()) {
    // The baseline in force at onset: the newest computed as of the onset day or before.
    const inForce = evidence.twin.baselines.filter((b) => b.metric === metric && b.asOf <= episode.onsetDay).pop();
    add(inForce ? [inForce.id] : []);
  }
  for (const day of byScore) {
    add(measured(day, 'named'));
  }
  for (const day of byScore) {
    const state = evidence.twin.states.get(day);
    add(state === undefined ? [] : [state]);
  }
  for (const day of byScore) {
    add(measured(day, 'other'));
  }
  return refs.slice(0, maxBasis).map((id) => ({ reference: `Observation/${id}` }));
}

export interface ReviewTaskContext {
  readonly patientId: string;
  readonly detector: FindingDetectorName;
  /** Reference to the finding: `RiskAssessment/{id}`, or the `urn:uuid` of its entry in the same transaction. */
  readonly findingReference: string;
  /** Who reviews (a Practitioner, PractitionerRole, Organization or CareTeam reference); none = not yet assigned. */
  readonly owner?: string;
  /** The finding's outcome and likelihood, stated in the Task so the worklist shows them. */
  readonly outcome: FindingOutcome;
  readonly likelihood: FindingLikelihood;
  /** When the Task is written (YYYY-MM-DD or an instant, from the run's clock). */
  readonly authoredOn: string;
}

/**
 * The review Task of a finding: asks the care team to look at the RiskAssessment (focus) for the patient (for) and
 * confirm or dismiss it (src/review/findingReview.ts). status `requested`, intent `order` (R4 Task.intent: "In most
 * cases, Tasks will have an intent of 'order'"; the same choice as profile review-task). priority (R4
 * request-priority): `urgent` for a possible infection of moderate likelihood, else `routine`.
 *
 * Claims profile review-task, whose focus may be a proposed CarePlan or, as here, an anomaly RiskAssessment
 * (twin-tk-1). It is written only when absent (see findingsWriter.ts): a rerun must not reset a Task the care team
 * has already moved on; a withdrawn finding cancels it.
 */
export function buildReviewTask(onsetDay: number, context: ReviewTaskContext): Task {
  const likelihood =
    context.likelihood.probability === undefined
      ? `${context.likelihood.qualitative} likelihood (not a calibrated probability)`
      : `probability ${context.likelihood.probability} (calibrated)`;
  return {
    resourceType: 'Task',
    meta: { profile: [TWIN_PROFILE.reviewTask], security: [{ ...AIAST }] },
    identifier: [
      {
        system: TWIN_RESOURCE_SYSTEM,
        value: findingReviewIdentifierValue(context.patientId, context.detector, onsetDay),
      },
    ],
    status: 'requested',
    intent: 'order',
    priority:
      context.outcome === 'possible infection' && context.likelihood.qualitative === 'moderate' ? 'urgent' : 'routine',
    code: { text: 'Review early-warning finding' },
    description:
      `Review the early-warning finding from ${isoDay(onsetDay)} (${context.detector} detector): ` +
      `${context.outcome}, ${likelihood}. Confirm or dismiss it, with a reason.`,
    focus: { reference: context.findingReference },
    for: { reference: `Patient/${context.patientId}` },
    authoredOn: context.authoredOn,
    ...(context.owner ? { owner: { reference: context.owner } } : {}),
  };
}

/** Owner references the review Task accepts (the owner types profile review-task allows). */
export const REVIEW_OWNER_PATTERN = /^(Practitioner|PractitionerRole|Organization|CareTeam)\/[A-Za-z0-9.-]{1,64}$/;
