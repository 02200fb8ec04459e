import type { Reference, RiskAssessment, Task } from '@medplum/fhirtypes';
import type { MetricName } from '../../fhir/metricCatalogue';
import { AIAST } from '../../policy/aiTransparency';
import { isoDay } from '../../calendar/calendarDay';
import { TWIN_PROFILE, TWIN_RESOURCE_SYSTEM } from '../../fhir/codes/twinCodes';
import type { AlarmEpisode } from './alarmEpisodes';
import { classifyEpisode, episodeDeviations, explainEpisode, type FindingOutcome } from './episodeExplanation';
import { findingProbability } from './findingProbability';
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

export interface FindingContext {
  readonly patientId: string;
  readonly detector: FindingDetectorName;
  /** Literal reference to the detector's Device (`Device/{id}`): the profile's twin-ra-2 wants a literal reference. */
  readonly deviceReference: string;
  /** Device version, named in the note. */
  readonly deviceVersion: string;
  readonly alarmThreshold: number;
  /** Episodes at least this long with only activity below baseline read as a recovery plateau. */
  readonly plateauDays: number;
  /** Most Observations named in `basis`. */
  readonly maxBasis: number;
}

export interface Finding {
  readonly riskAssessment: RiskAssessment;
  readonly outcome: FindingOutcome;
  readonly probability: number;
}

/**
 * The finding of one alarm episode (profile anomaly-risk-assessment). Pure: the same episode and context give the
 * same resource, byte for byte, so a replay is a no-op update.
 *
 * - status: `preliminary` while the episode is open (R4 observation-status: "initial or interim ... may be
 *   incomplete"), `final` once it has closed (nothing later changes it). A clinician's review is the Task's business.
 * - occurrenceDateTime: the onset day (profile: when the finding was made; it is the day the detector first saw it).
 * - basis: the Observations that fed the alarm days, those of the metrics the detector named first, at most maxBasis.
 * - prediction: outcome as text (the profile asks for an outcome, not a coding; the labels are heuristics, see
 *   episodeExplanation.ts) and probabilityDecimal from the peak score (findingProbability.ts, not calibrated).
 */
export function buildFinding(episode: AlarmEpisode, basisIndex: BasisIndex, context: FindingContext): Finding {
  const deviations = episodeDeviations(episode);
  const span = episode.lastDay - episode.onsetDay + 1;
  const outcome = classifyEpisode(deviations, span, context.plateauDays);
  const probability = findingProbability(episode.peakScore, context.alarmThreshold);
  const basis = basisOf(episode, basisIndex, new Set(deviations.map((d) => d.metric)), context.maxBasis);
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
        probabilityDecimal: probability,
        rationale: `Monotone map of the peak score against the alarm threshold; not a calibrated probability.`,
      },
    ],
    note: [
      {
        text: explainEpisode(episode, deviations, outcome, {
          detectorLabel: `${context.detector} detector ${context.deviceVersion}`,
          alarmThreshold: context.alarmThreshold,
        }),
      },
    ],
  };
  return { riskAssessment, outcome, probability };
}

function basisOf(
  episode: AlarmEpisode,
  index: BasisIndex,
  named: ReadonlySet<MetricName>,
  maxBasis: number
): Reference[] {
  const first: string[] = [];
  const rest: string[] = [];
  for (const day of episode.days) {
    const byMetric = index.get(day.day);
    if (!byMetric) {
      continue;
    }
    for (const metric of [...byMetric.keys()].sort()) {
      (named.has(metric) ? first : rest).push(...(byMetric.get(metric) ?? []));
    }
  }
  const ids = [...new Set([...first, ...rest])].slice(0, maxBasis);
  return ids.map((id) => ({ reference: `Observation/${id}` }));
}

export interface ReviewTaskContext {
  readonly patientId: string;
  readonly detector: FindingDetectorName;
  /** Reference to the finding: `RiskAssessment/{id}`, or the `urn:uuid` of its entry in the same transaction. */
  readonly findingReference: string;
  /** Who reviews (a Practitioner, PractitionerRole, Organization or CareTeam reference); none = not yet assigned. */
  readonly owner?: string;
}

/**
 * The review Task of a finding above the review threshold: asks the care team to look at the RiskAssessment
 * (focus) for the patient (for). status `requested`, intent `order` (R4 Task.intent: "In most cases, Tasks will have
 * an intent of 'order'"; the same choice as profile review-task).
 *
 * Claims profile review-task, whose focus may be a proposed CarePlan or, as here, an anomaly RiskAssessment
 * (twin-tk-1). Its content depends only on the episode's identity, never on how the episode evolves, and it is written
 * only when absent (see findingsWriter.ts): a rerun must not reset a Task the care team has already moved on.
 */
export function buildReviewTask(onsetDay: number, context: ReviewTaskContext): Task {
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
    code: { text: 'Review early-warning finding' },
    description:
      `Review the early-warning finding from ${isoDay(onsetDay)} (${context.detector} detector): ` +
      'is this person recovering as expected?',
    focus: { reference: context.findingReference },
    for: { reference: `Patient/${context.patientId}` },
    ...(context.owner ? { owner: { reference: context.owner } } : {}),
  };
}

/** Owner references the review Task accepts (the owner types profile review-task allows). */
export const REVIEW_OWNER_PATTERN = /^(Practitioner|PractitionerRole|Organization|CareTeam)\/[A-Za-z0-9.-]{1,64}$/;
