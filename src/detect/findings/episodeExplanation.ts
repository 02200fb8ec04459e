import { isMetricName, type MetricName } from '../../fhir/metricCatalogue';
import { isoDay } from '../../calendar/calendarDay';
import type { AlarmEpisode } from './alarmEpisodes';

/**
 * How one metric moved during an episode, read from the detector's day reasons (src/detect/causalScorer.ts writes
 * `<metric> [far ]<above|below> personal baseline`, `far` meaning at least 3 robust SD, otherwise at least 2; the LSTM
 * detector writes the same with `, unlike the recent pattern` appended, see lstmFindingSource.ts). The reasons carry
 * no values, so neither does anything built from them.
 */
export interface MetricDeviation {
  readonly metric: MetricName;
  readonly direction: 'above' | 'below';
  /** At least 3 robust SD from baseline on some day of the episode (else 2 to 3). */
  readonly far: boolean;
  /** First day of the episode on which the metric was named. */
  readonly sinceDay: number;
  /** Days of the episode on which it was named. */
  readonly days: number;
}

const REASON_PART = /^([a-z0-9-]+) (far )?(above|below) personal baseline(?:, unlike the recent pattern)?$/;

/** The metrics the detector named over an episode, most often named first (then by name). */
export function episodeDeviations(episode: AlarmEpisode): MetricDeviation[] {
  const byMetric = new Map<
    MetricName,
    { direction: 'above' | 'below'; far: boolean; sinceDay: number; days: number }
  >();
  for (const day of episode.days) {
    for (const part of day.reason.split(';')) {
      const m = REASON_PART.exec(part.trim());
      if (!m || !isMetricName(m[1])) {
        continue;
      }
      const metric = m[1];
      const direction = m[3] === 'above' ? 'above' : 'below';
      const seen = byMetric.get(metric);
      if (seen) {
        seen.far ||= m[2] !== undefined;
        seen.days++;
      } else {
        byMetric.set(metric, { direction, far: m[2] !== undefined, sinceDay: day.day, days: 1 });
      }
    }
  }
  return [...byMetric.entries()]
    .map(([metric, d]) => ({ metric, ...d }))
    .sort((a, b) => b.days - a.days || (a.metric < b.metric ? -1 : 1));
}

/** The outcomes a finding can predict (docs/ARCHITECTURE.md: findings). Free text: the profile asks for an outcome, no coding. */
export type FindingOutcome = 'possible infection' | 'insufficient recovery' | 'overreaching' | 'recovery plateau';

/** Signs that point at an infection rather than at training strain (fever, breathing, oxygenation). */
const INFECTION_SIGNS: ReadonlySet<MetricName> = new Set(['body-temperature', 'respiratory-rate', 'oxygen-saturation']);
const HEART_RATE: ReadonlySet<MetricName> = new Set(['resting-heart-rate', 'heart-rate']);
/** Self-reported strain (PMSys-style wellness items). */
const SUBJECTIVE_STRAIN: ReadonlySet<MetricName> = new Set(['readiness', 'fatigue', 'soreness', 'stress', 'mood']);
const ACTIVITY: ReadonlySet<MetricName> = new Set(['steps', 'active-minutes']);

/**
 * A label for the pattern of an episode. A heuristic on which metrics deviated, not a diagnosis; the note says so.
 * In order:
 * - fever, breathing rate or oxygen saturation adverse -> possible infection;
 * - self-reported strain items (readiness, fatigue, soreness, stress, mood) adverse -> overreaching (the person
 *   reports strain; a rising heart rate alongside does not change that);
 * - resting or spot heart rate above baseline -> possible infection (the pattern the published smartwatch studies of
 *   pre-symptomatic illness rely on);
 * - only activity (steps, active minutes) below baseline for at least `plateauDays` -> recovery plateau (the person
 *   stays less active than their own recent normal with no sign of strain or illness);
 * - anything else (HRV or sleep down, pain up, several metrics moderately adverse together) -> insufficient recovery.
 */
export function classifyEpisode(
  deviations: readonly MetricDeviation[],
  episodeDays: number,
  plateauDays: number
): FindingOutcome {
  const metrics = new Set(deviations.map((d) => d.metric));
  const any = (group: ReadonlySet<MetricName>): boolean => [...metrics].some((m) => group.has(m));
  if (any(INFECTION_SIGNS)) {
    return 'possible infection';
  }
  if (any(SUBJECTIVE_STRAIN)) {
    return 'overreaching';
  }
  if (any(HEART_RATE)) {
    return 'possible infection';
  }
  if (metrics.size > 0 && [...metrics].every((m) => ACTIVITY.has(m)) && episodeDays >= plateauDays) {
    return 'recovery plateau';
  }
  return 'insufficient recovery';
}

/** Plain-language names for the note (lower case, no scale details: those are in each Observation). */
const METRIC_WORDS: Readonly<Record<MetricName, string>> = Object.freeze({
  'heart-rate': 'heart rate',
  'resting-heart-rate': 'resting heart rate',
  'hrv-sdnn': 'heart rate variability (SDNN)',
  'hrv-rmssd': 'heart rate variability (RMSSD)',
  'respiratory-rate': 'breathing rate',
  'oxygen-saturation': 'oxygen saturation',
  'body-temperature': 'body temperature',
  'sleep-duration': 'sleep duration',
  steps: 'daily steps',
  'active-minutes': 'active minutes',
  'pain-severity': 'pain',
  'body-weight': 'body weight',
  glucose: 'glucose',
  'training-load': 'training load',
  readiness: 'readiness to train',
  fatigue: 'fatigue score',
  soreness: 'soreness score',
  stress: 'stress score',
  mood: 'mood',
  'sleep-quality': 'sleep quality',
});

export interface ExplanationContext {
  readonly detectorLabel: string;
  /** The score at which the detector raises an alarm. */
  readonly alarmThreshold: number;
}

/**
 * The finding's note: which metrics, how far from the personal baseline (in robust SD bands), since when, and how
 * long; then the score against its threshold. No measured values (they stay in the Observations of `basis`).
 */
export function explainEpisode(
  episode: AlarmEpisode,
  deviations: readonly MetricDeviation[],
  outcome: FindingOutcome,
  context: ExplanationContext
): string {
  const onset = isoDay(episode.onsetDay);
  const span = episode.lastDay - episode.onsetDay + 1;
  const state = episode.open
    ? `since ${onset}, still open on ${isoDay(episode.lastDay)} (${span} day${span === 1 ? '' : 's'})`
    : `from ${onset} to ${isoDay(episode.lastDay)} (${span} day${span === 1 ? '' : 's'}), then back towards baseline`;
  const metrics =
    deviations.length > 0
      ? deviations
          .map(
            (d) =>
              `${METRIC_WORDS[d.metric]} ${d.far ? 'at least 3' : '2 to 3'} robust SD ${d.direction} the personal ` +
              `baseline (from ${isoDay(d.sinceDay)}, on ${d.days} of the alarm days)`
          )
          .join('; ')
      : 'no single metric 2 robust SD or more from its personal baseline, but several moderately adverse together ' +
        'or a sustained drift';
  return (
    `Early-warning alarm ${state}: ${metrics}. ` +
    `Pattern suggests ${outcome} (a rule on which metrics deviated, not a diagnosis). ` +
    `Peak detector score ${episode.peakScore} on ${isoDay(episode.peakDay)}, alarm threshold ${context.alarmThreshold} ` +
    `(${context.detectorLabel}). For review by the care team.`
  );
}
